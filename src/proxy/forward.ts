import type { IncomingMessage, ServerResponse } from 'node:http';
import { Transform, type TransformCallback } from 'node:stream';
import { errors, type Dispatcher } from 'undici';
import { GatewayError } from '../errors.js';
import type { Upstream } from './upstream-pools.js';
import type { HeaderHygiene } from './header-hygiene.js';

export interface ForwardHooks {
  /** Upstream `name` answered with headers after `seconds`. */
  onUpstreamHeaders(name: string, seconds: number): void;
}

/**
 * Stream the request to the upstream and its answer back, with backpressure
 * both ways. `path` is the canonical path that was authorized, plus the raw
 * query: the upstream receives exactly what was decided on. `done` is called
 * once: without an argument when the answer is complete, else with the error.
 */
export function forward(
  upstream: Upstream, req: IncomingMessage, res: ServerResponse, path: string,
  headers: string[], hygiene: HeaderHygiene, requestId: string, maxBodyBytes: number, hooks: ForwardHooks,
  done: (err?: unknown) => void,
): void {
  const method = req.method!;
  const hasBody = req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined;
  let body: IncomingMessage | ByteLimit | null = null;
  if (hasBody) {
    const declared = req.headers['content-length'];
    if (maxBodyBytes > 0 && declared !== undefined && Number(declared) > maxBodyBytes) {
      return done(new GatewayError('body_too_large', `content-length ${declared} > ${maxBodyBytes}`));
    }
    body = maxBodyBytes > 0 && declared === undefined ? req.pipe(new ByteLimit(maxBodyBytes)) : req;
  }
  upstream.pool.dispatch({ method, path, headers, body }, new Exchange(res, body, upstream.name, requestId, hygiene, hooks, done));
}

/**
 * How much of an answer may wait for a slow client before the upstream is paused.
 * Pausing at the socket's own 16 KiB mark cost a typical 16 KB JSON answer a
 * pause, drain and resume, an event-loop turn: +0.07-0.1 ms p50 at 2,000 req/s
 * (bench fixed-rate, large payload). 64 KiB still bounds a stream's memory per request.
 */
const RESPONSE_BUFFER_BYTES = 64 * 1024;

/**
 * undici's dispatch handler for one forwarded request: the upstream's answer is
 * written into `res` as it arrives, and the upstream is paused while `res` is full.
 * Leaner than pool.stream(), which adds an async resource, end-of-stream listeners
 * and a promise per request (this one takes a callback); and no abort signal: with one (the request object or
 * an AbortSignal), undici's per-request objects outlived two scavenges and were
 * promoted, ~5 KB a request into the old space (measured with --trace-gc-nvp).
 */
class Exchange implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | null = null;
  private readonly started = performance.now();
  /** A client that goes away takes its upstream request with it. */
  private readonly onClientClose = (): void => {
    if (!this.res.writableFinished) this.controller?.abort(new errors.RequestAbortedError());
  };
  private readonly resumeUpstream = (): void => { this.controller?.resume(); };

  constructor(
    private readonly res: ServerResponse, private readonly body: IncomingMessage | ByteLimit | null, private readonly upstream: string,
    private readonly requestId: string, private readonly hygiene: HeaderHygiene, private readonly hooks: ForwardHooks,
    private readonly done: (err?: unknown) => void,
  ) {
    res.once('close', this.onClientClose);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.res.destroyed) controller.abort(new errors.RequestAbortedError());
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    if (statusCode < 200) return; // 1xx: the final answer follows
    this.hooks.onUpstreamHeaders(this.upstream, (performance.now() - this.started) / 1000);
    this.res.writeHead(statusCode, this.hygiene.response(headers, this.requestId));
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.res.write(chunk) && this.res.writableLength > RESPONSE_BUFFER_BYTES) {
      controller.pause();
      this.res.once('drain', this.resumeUpstream);
    }
  }

  onResponseEnd(): void {
    this.res.off('close', this.onClientClose);
    this.res.end();
    this.done();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.res.off('close', this.onClientClose);
    this.done(this.body instanceof ByteLimit && this.body.exceeded ? new GatewayError('body_too_large', `body > ${this.body.max} bytes`) : err);
  }
}

/** Counts a chunked body and fails it once it passes the route's limit. */
class ByteLimit extends Transform {
  exceeded = false;
  private seen = 0;
  constructor(readonly max: number) { super(); }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.max) {
      this.exceeded = true;
      return cb(new GatewayError('body_too_large'));
    }
    cb(null, chunk);
  }
}
