import type { IncomingMessage, ServerResponse } from 'node:http';
import { Transform, type TransformCallback } from 'node:stream';
import { GatewayError } from '../errors.js';
import type { Upstream } from './upstream-pools.js';
import type { HeaderHygiene } from './header-hygiene.js';

export interface ForwardHooks {
  /** Upstream answered with headers after `seconds`. */
  onUpstreamHeaders(seconds: number): void;
}

/**
 * Stream the request to the upstream and its answer back, with backpressure
 * both ways. `path` is the canonical path that was authorized, plus the raw
 * query: the upstream receives exactly what was decided on.
 */
export function forward(
  upstream: Upstream, req: IncomingMessage, res: ServerResponse, path: string,
  headers: string[], hygiene: HeaderHygiene, maxBodyBytes: number, hooks: ForwardHooks,
): Promise<void> {
  const started = performance.now();
  const method = req.method!;
  const hasBody = req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined;
  let body: IncomingMessage | Transform | null = null;
  if (hasBody) {
    const declared = req.headers['content-length'];
    if (maxBodyBytes > 0 && declared !== undefined && Number(declared) > maxBodyBytes) {
      return Promise.reject(new GatewayError('body_too_large', `content-length ${declared} > ${maxBodyBytes}`));
    }
    body = maxBodyBytes > 0 && declared === undefined ? req.pipe(new ByteLimit(maxBodyBytes)) : req;
  }
  // A client that goes away takes its upstream request with it. undici accepts an
  // EventEmitter as `signal` (listening for 'abort'); the request object already is
  // one, which saves an AbortController per request on the hot path.
  const onClose = () => { if (!res.writableFinished) req.emit('abort'); };
  res.once('close', onClose);
  return upstream.pool.stream(
    { method, path, headers, body, signal: req, opaque: res },
    ({ statusCode, headers: upstreamHeaders, opaque }) => {
      hooks.onUpstreamHeaders((performance.now() - started) / 1000);
      const out = opaque as ServerResponse;
      out.writeHead(statusCode, hygiene.response(upstreamHeaders as Record<string, string | string[] | undefined>));
      return out;
    },
  ).then(() => undefined, (err: unknown) => {
    if (body instanceof ByteLimit && body.exceeded) throw new GatewayError('body_too_large', `body > ${maxBodyBytes} bytes`);
    throw err;
  }).finally(() => res.off('close', onClose));
}

/** Counts a chunked body and fails it once it passes the route's limit. */
class ByteLimit extends Transform {
  exceeded = false;
  private seen = 0;
  constructor(private readonly max: number) { super(); }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.max) {
      this.exceeded = true;
      return cb(new GatewayError('body_too_large'));
    }
    cb(null, chunk);
  }
}
