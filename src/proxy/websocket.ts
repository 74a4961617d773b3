import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import httpProxy from 'http-proxy';
import type { Upstream } from './upstream-pools.js';

/**
 * WebSocket tunnel through http-proxy. Called only after the gateway allowed
 * the upgrade; http-proxy pipes the sockets only once the upstream answers 101,
 * and relays any other answer as a plain HTTP response.
 */
export function createWebSocketTunnel(onError: (err: Error, upstream: string) => void) {
  const proxy = httpProxy.createProxyServer({ ws: true, xfwd: false, prependPath: false, changeOrigin: false });
  proxy.on('error', () => { /* per-call callback below handles it */ });
  return {
    tunnel(upstream: Upstream, req: IncomingMessage, socket: Duplex, head: Buffer, path: string, headers: readonly string[]): void {
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
      proxy.ws(req, socket, head, { target: upstream.config.url, proxyTimeout: upstream.config.timeout_ms }, (err: Error) => {
        onError(err, upstream.name);
        socket.destroy();
      });
    },
    close(): void { proxy.close(); },
  };
}
