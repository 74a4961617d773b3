// Row "undici": a minimal passthrough on an undici Pool, request and response streamed, no auth.
// `node dist/bench/targets/undici.js <port> <upstreamUrl>`
import http from 'node:http';
import { Pool } from 'undici';
import type { Dispatcher } from 'undici';
import { HOP_BY_HOP, exitWithParent, parseProxyArgs } from './common.js';

const { port, upstream } = parseProxyArgs();
const pool = new Pool(upstream, { connections: 64, pipelining: 1, keepAliveTimeout: 60_000 });

const server = http.createServer((req, res) => {
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
  }
  const method = (req.method ?? 'GET') as Dispatcher.HttpMethod;
  const body = method === 'GET' || method === 'HEAD' ? null : req;
  pool
    .stream({ path: req.url ?? '/', method, headers, body }, ({ statusCode, headers: upHeaders }) => {
      res.statusCode = statusCode;
      for (const [k, v] of Object.entries(upHeaders)) {
        if (v !== undefined && !HOP_BY_HOP.has(k)) res.setHeader(k, v);
      }
      return res;
    })
    .catch(() => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' }).end('bad gateway');
      else res.destroy();
    });
});
server.keepAliveTimeout = 120_000;
server.headersTimeout = 130_000;
server.listen(port, '127.0.0.1');
exitWithParent(server);
