import type { IncomingMessage, ServerResponse } from 'node:http';
import { Transform, type TransformCallback } from 'node:stream';
import { GatewayError } from '../errors.js';
import type { Upstream } from './upstream-pools.js';
import type { HeaderHygiene } from './header-hygiene.js';

export interface ForwardHooks {
  /** Upstream `name` answered with headers after `seconds`. */
  onUpstreamHeaders(name: string, seconds: number): void;
}

/** What the response factory needs; passed as undici's `opaque`, so no closure is made per request. */
interface Exchange {
  res: ServerResponse;
  upstream: string;
  requestId: string;
  hygiene: HeaderHygiene;
  hooks: ForwardHooks;
  started: number;
}

/**
 * Stream the request to the upstream and its answer back, with backpressure
 * both ways. `path` is the canonical path that was authorized, plus the raw
 * query: the upstream receives exactly what was decided on.
 */
export function forward(
  upstream: Upstream, req: IncomingMessage, res: ServerResponse, path: string,
  headers: string[], hygiene: HeaderHygiene, requestId: string, maxBodyBytes: number, hooks: ForwardHooks,
): Promise<void> {
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
  res.once('close', abortUpstreamOnClose);
  const exchange: Exchange = { res, upstream: upstream.name, requestId, hygiene, hooks, started: performance.now() };
  return upstream.pool.stream({ method, path, headers, body, signal: req, opaque: exchange }, answer).then(
    () => { res.off('close', abortUpstreamOnClose); },
    (err: unknown) => {
      res.off('close', abortUpstreamOnClose);
      if (body instanceof ByteLimit && body.exceeded) throw new GatewayError('body_too_large', `body > ${maxBodyBytes} bytes`);
      throw err;
    },
  );
}

/**
 * A client that goes away takes its upstream request with it. undici accepts an
 * EventEmitter as `signal` (listening for 'abort'); the request object already is
 * one, which saves an AbortController per request on the hot path.
 */
function abortUpstreamOnClose(this: ServerResponse): void {
  if (!this.writableFinished) this.req.emit('abort');
}

function answer({ statusCode, headers, opaque }: { statusCode: number; headers: Record<string, string | string[] | undefined>; opaque: unknown }): ServerResponse {
  const x = opaque as Exchange;
  x.hooks.onUpstreamHeaders(x.upstream, (performance.now() - x.started) / 1000);
  x.res.writeHead(statusCode, x.hygiene.response(headers, x.requestId));
  return x.res;
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
