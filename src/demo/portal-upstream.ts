import { createServer, type Server } from 'node:http';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';

/**
 * The bundled demo portal: an unchanged "existing app" that trusts the
 * identity headers rolegate adds. It echoes who called so a newcomer can see them.
 */
const DEALS = [
  { id: 'd1', name: 'Acme renewal', partner: 'p-42', amount: 120000 },
  { id: 'd2', name: 'Globex expansion', partner: 'p-7', amount: 54000 },
];
const DATA: Record<string, unknown> = {
  '/api/deals': { data: DEALS, total: DEALS.length },
  '/api/partners': { data: [{ id: 'p-42', name: 'Partner 42' }, { id: 'p-7', name: 'Partner 7' }], total: 2 },
  '/api/payouts': { data: [{ id: 'po-1', partner: 'p-42', amount: 4200 }], total: 1 },
  '/api/users': { data: [{ id: 'u-olivia' }, { id: 'u-pat' }], total: 2 },
  '/settings/general': { theme: 'dark', currency: 'EUR' },
  '/api/public/status': { status: 'ok' },
};

export function startPortalUpstream(port = 0, host = '127.0.0.1'): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const deal = /^\/api\/deals\/([^/]+)$/.exec(path);
    const partnerDeals = /^\/api\/partners\/([^/]+)\/deals$/.exec(path);
    const body = DATA[path]
      ?? (deal ? DEALS.find((d) => d.id === deal[1]) : undefined)
      ?? (partnerDeals ? { data: DEALS.filter((d) => d.partner === partnerDeals[1]), total: DEALS.filter((d) => d.partner === partnerDeals[1]).length } : undefined)
      ?? { path };
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({
      ...(body as object),
      seen_by_upstream: { method: req.method, path: req.url, user: req.headers['x-rolegate-user'], roles: req.headers['x-rolegate-roles'], org: req.headers['x-rolegate-org'] },
    }));
  });
  // a tiny WebSocket endpoint: accept, greet with one text frame, close
  server.on('upgrade', (req, socket) => {
    const key = req.headers['sec-websocket-key'];
    if (typeof key !== 'string') return socket.destroy();
    const accept = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    const text = Buffer.from(JSON.stringify({ hello: req.headers['x-rolegate-user'] ?? 'anonymous' }));
    socket.end(Buffer.concat([Buffer.from([0x81, text.length]), text]));
  });
  return new Promise((resolve) => server.listen(port, host, () => {
    const a = server.address() as AddressInfo;
    resolve({ server, url: `http://${a.address}:${a.port}` });
  }));
}
