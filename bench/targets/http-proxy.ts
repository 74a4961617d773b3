// Row "http-proxy": http-proxy passthrough with a keep-alive agent, no auth.
// `node dist/bench/targets/http-proxy.js <port> <upstreamUrl>`
import http from 'node:http';
import httpProxy from 'http-proxy';
import { exitWithParent, parseProxyArgs } from './common.js';

const { port, upstream } = parseProxyArgs();
const agent = new http.Agent({ keepAlive: true, maxSockets: 64, maxFreeSockets: 64 });
const proxy = httpProxy.createProxyServer({ target: upstream, agent, xfwd: false });

proxy.on('error', (_err, _req, res) => {
  if (res instanceof http.ServerResponse) {
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
    res.end('bad gateway');
  } else {
    res.destroy();
  }
});

const server = http.createServer((req, res) => proxy.web(req, res));
server.keepAliveTimeout = 120_000;
server.headersTimeout = 130_000;
server.listen(port, '127.0.0.1');
exitWithParent(server);
