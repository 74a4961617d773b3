import type { ClientRequest, IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import httpProxy from 'http-proxy';
import { errorBody, REASONS } from '../errors.js';
import { classifyUpstreamError } from './upstream-errors.js';
import type { Upstream } from './upstream-pools.js';

/** Per-call state, found again from the `proxyReqWs` event (the proxy instance is shared). */
interface Call { timeoutMs: number; answered: boolean; report(status: number): void }

/**
 * WebSocket tunnel through http-proxy. Called only after the gateway allowed
 * the upgrade; http-proxy pipes the sockets only once the upstream answers 101,
 * and relays any other answer as a plain HTTP response.
 */
export function createWebSocketTunnel(onError: (err: Error, upstream: string) => void) {
  const proxy = httpProxy.createProxyServer({ ws: true, xfwd: false, prependPath: false, changeOrigin: false });
  proxy.on('error', () => { /* per-call callback below handles it */ });
  const calls = new WeakMap<IncomingMessage, Call>();

  // http-proxy ignores proxyTimeout for ws, so an upstream that accepts the
  // connection but never answers the upgrade would hold the client forever.
  // Bound the wait for the answer ourselves; the resulting error goes through
  // the per-call callback like any other upstream error.
  proxy.on('proxyReqWs', (proxyReq: ClientRequest, req: IncomingMessage) => {
    const call = calls.get(req);
    if (!call) return;
    proxyReq.setTimeout(call.timeoutMs, () => {
      proxyReq.destroy(Object.assign(new Error(`no upgrade answer within ${call.timeoutMs} ms`), { code: 'UND_ERR_HEADERS_TIMEOUT' }));
    });
    // registered before http-proxy's own listeners, so these run before it writes to the client
    const answered = (status: number) => {
      call.answered = true;
      proxyReq.setTimeout(0); // the answer arrived; a quiet tunnel is not a timeout
      call.report(status);
    };
    proxyReq.once('upgrade', () => answered(101));
    proxyReq.once('response', (res: IncomingMessage) => answered(res.statusCode ?? 502));
  });

  return {
    /** `onStatus` is called once with what the client got: 101, the upstream's refusal status, or 502/504. */
    tunnel(upstream: Upstream, req: IncomingMessage, socket: Duplex, head: Buffer, path: string, headers: readonly string[],
      requestId: string, onStatus: (status: number) => void): void {
      const clean: Record<string, string | string[]> = {};
      for (let i = 0; i < headers.length; i += 2) {
        const k = headers[i]!.toLowerCase();
        const prev = clean[k];
        clean[k] = prev === undefined ? headers[i + 1]! : ([] as string[]).concat(prev, headers[i + 1]!);
      }
      clean.connection = 'Upgrade';
      clean.upgrade = 'websocket';
      req.headers = clean;
      req.url = path;
      let reported = false;
      const call: Call = {
        timeoutMs: upstream.config.timeout_ms,
        answered: false,
        report(status) { if (!reported) { reported = true; onStatus(status); } },
      };
      calls.set(req, call);
      proxy.ws(req, socket, head, { target: upstream.config.url }, (err: Error) => {
        onError(err, upstream.name);
        // After the upstream answered, http-proxy already wrote to the client (a 101 or
        // the relayed refusal): an error now can only drop the connection.
        if (call.answered) { socket.destroy(); return; }
        // Before any answer the client would otherwise see a silent close: give it the
        // same JSON error an HTTP request gets. end(), not destroy(), so it is flushed.
        const { reason } = classifyUpstreamError(err).error;
        const status = REASONS[reason].status;
        const body = errorBody(reason, requestId);
        if (socket.writable) {
          socket.end(`HTTP/1.1 ${status} ${status === 504 ? 'Gateway Timeout' : 'Bad Gateway'}\r\n` +
            `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
        } else socket.destroy();
        call.report(status);
      });
    },
    close(): void { proxy.close(); },
  };
}
