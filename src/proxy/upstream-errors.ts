import { GatewayError } from '../errors.js';

/** undici/Node error codes -> our reason and a bounded `kind` label. The one place this mapping lives. */
const BY_CODE: Readonly<Record<string, readonly ['upstream_timeout' | 'upstream_unavailable' | 'upstream_error', string]>> = {
  UND_ERR_CONNECT_TIMEOUT: ['upstream_timeout', 'connect_timeout'],
  UND_ERR_HEADERS_TIMEOUT: ['upstream_timeout', 'timeout'],
  UND_ERR_BODY_TIMEOUT: ['upstream_timeout', 'timeout'],
  ETIMEDOUT: ['upstream_timeout', 'timeout'],
  ECONNREFUSED: ['upstream_unavailable', 'refused'],
  ECONNRESET: ['upstream_unavailable', 'reset'],
  EPIPE: ['upstream_unavailable', 'reset'],
  UND_ERR_SOCKET: ['upstream_unavailable', 'reset'],
  UND_ERR_CLOSED: ['upstream_unavailable', 'closed'],
  UND_ERR_DESTROYED: ['upstream_unavailable', 'closed'],
  EHOSTUNREACH: ['upstream_unavailable', 'unreachable'],
  ENOTFOUND: ['upstream_unavailable', 'unreachable'],
  EAI_AGAIN: ['upstream_unavailable', 'unreachable'],
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: ['upstream_error', 'protocol'],
  UND_ERR_INFO: ['upstream_error', 'protocol'],
};

export interface UpstreamFailure { error: GatewayError; kind: string; clientAborted: boolean }

export function classifyUpstreamError(err: unknown): UpstreamFailure {
  if (err instanceof GatewayError) return { error: err, kind: err.reason, clientAborted: false };
  const e = err as { code?: string; name?: string; message?: string; cause?: { code?: string } };
  if (e?.code === 'UND_ERR_ABORTED' || e?.name === 'AbortError' || e?.code === 'ABORT_ERR') {
    return { error: new GatewayError('upstream_unavailable', 'client aborted'), kind: 'client_abort', clientAborted: true };
  }
  const code = e?.code ?? e?.cause?.code ?? '';
  const hit = BY_CODE[code] ?? (code.startsWith('HPE_') ? (['upstream_error', 'protocol'] as const) : (['upstream_error', 'other'] as const));
  return { error: new GatewayError(hit[0], `${code || e?.name || 'error'}: ${e?.message ?? ''}`, undefined, { cause: err }), kind: hit[1], clientAborted: false };
}
