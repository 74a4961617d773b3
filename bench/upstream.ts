// Stub upstream, run as its own child process: `node dist/bench/upstream.js <port>`.
// Any path ending in /small answers the small JSON, /large the 16 KiB list, /healthz 200.
import http from 'node:http';
import { LARGE_BODY, SMALL_BODY } from './payloads.js';
import { exitWithParent } from './targets/common.js';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  process.stderr.write('usage: upstream.js <port>\n');
  process.exit(2);
}

const JSON_TYPE = 'application/json';

const server = http.createServer((req, res) => {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  let body: Buffer | undefined;
  if (path.endsWith('/small')) body = SMALL_BODY;
  else if (path.endsWith('/large')) body = LARGE_BODY;
  else if (path === '/healthz') body = Buffer.from('{"ok":true}');
  if (body === undefined) {
    res.writeHead(404, { 'content-type': JSON_TYPE, 'content-length': 2 }).end('{}');
    return;
  }
  res.writeHead(200, { 'content-type': JSON_TYPE, 'content-length': body.length });
  res.end(body);
});
// Proxies keep pooled connections idle for a whole round while other targets run: keep them open.
server.keepAliveTimeout = 120_000;
server.headersTimeout = 130_000;
server.listen(port, '127.0.0.1');
exitWithParent(server);
