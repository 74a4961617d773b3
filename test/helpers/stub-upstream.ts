/**
 * A stub upstream for end-to-end suites: records every request it gets (method,
 * raw url, raw headers, body) and answers 200 JSON unless a behaviour is set
 * for the path. Behaviours cover what the gateway must survive: slow answers,
 * connection resets, large streamed bodies, hop-by-hop response headers,
 * WebSocket upgrades accepted (hand-rolled 101) or refused.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';

export interface Recorded {
  method: string;
  /** req.url exactly as it arrived on the wire (path + raw query). */
  url: string;
  /** Flat [name, value, ...] exactly as received. */
  rawHeaders: string[];
  /** Trailer fields of a chunked body, flat like rawHeaders (filled at end of body). */
  rawTrailers: string[];
  /** First MAX_KEPT body bytes; `bodyBytes`/`bodySha256` cover the whole body. */
  body: Buffer;
  bodyBytes: number;
  bodySha256: string;
  /** The request body was read to its end. */
  complete: boolean;
  /** The connection closed before we finished answering (client abort reached us). */
  aborted: boolean;
  /** True for an upgrade request. */
  upgrade: boolean;
}

export interface Behaviour {
  status?: number;
  /** Extra response headers (written raw: hop-by-hop ones included). */
  headers?: Record<string, string | string[]>;
  /** Wait this long before sending response headers. */
  delayMs?: number;
  /** Destroy the connection instead of answering. */
  reset?: boolean;
  /** Answer with this many deterministic bytes (see `patternStream`), streamed. */
  largeBytes?: number;
  /** Do not read the request body for this long (backpressure on the gateway). */
  pauseReadMs?: number;
  /** Answer with bytes that are not HTTP. */
  garbage?: boolean;
  /** Announce a 1 MB body, send a little of it, then drop the connection. */
  truncate?: boolean;
  /** Send the JSON answer chunked (no Content-Length), e.g. to announce a Trailer. */
  chunked?: boolean;
  /** Answer the upgrade with 101 (default) or refuse it with this status. */
  wsRefuseStatus?: number;
  /** Never answer the upgrade. */
  wsHang?: boolean;
}

const MAX_KEPT = 1 << 20;
const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export interface StubUpstream {
  url: string;
  port: number;
  requests: Recorded[];
  /** Set a behaviour for every path starting with `prefix` (longest prefix wins). */
  on(prefix: string, b: Behaviour): void;
  /** Forget recorded requests. */
  reset(): void;
  /** Resolves once `n` requests are recorded (bounded by `timeoutMs`). */
  waitFor(n: number, timeoutMs?: number): Promise<Recorded[]>;
  close(): Promise<void>;
}

/** `n` bytes of a fixed pattern, generated chunk by chunk; the same for a given n. */
export function* patternChunks(n: number, chunk = 64 * 1024): Generator<Buffer> {
  const block = Buffer.alloc(chunk);
  for (let i = 0; i < chunk; i++) block[i] = (i * 31 + 7) & 0xff;
  let left = n;
  while (left > 0) {
    const k = Math.min(left, chunk);
    yield k === chunk ? block : block.subarray(0, k);
    left -= k;
  }
}

export function patternSha256(n: number): string {
  const h = createHash('sha256');
  for (const c of patternChunks(n)) h.update(c);
  return h.digest('hex');
}

export function header(rec: Recorded, name: string): string[] {
  const lower = name.toLowerCase();
  const out: string[] = [];
  for (let i = 0; i < rec.rawHeaders.length; i += 2) if (rec.rawHeaders[i]!.toLowerCase() === lower) out.push(rec.rawHeaders[i + 1]!);
  return out;
}

export async function startStubUpstream(): Promise<StubUpstream> {
  const requests: Recorded[] = [];
  const behaviours = new Map<string, Behaviour>();
  const sockets = new Set<Socket>();
  let waiters: (() => void)[] = [];
  const notify = () => { const w = waiters; waiters = []; for (const f of w) f(); };

  const behaviourFor = (url: string): Behaviour => {
    let best = '';
    for (const p of behaviours.keys()) if (url.startsWith(p) && p.length > best.length) best = p;
    return best ? behaviours.get(best)! : {};
  };

  const record = (req: IncomingMessage, upgrade: boolean): Recorded => {
    const rec: Recorded = {
      method: req.method ?? '', url: req.url ?? '', rawHeaders: [...req.rawHeaders], rawTrailers: [],
      body: Buffer.alloc(0), bodyBytes: 0, bodySha256: '', complete: false, aborted: false, upgrade,
    };
    requests.push(rec);
    notify();
    return rec;
  };

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const rec = record(req, false);
    const b = behaviourFor(rec.url);
    const hash = createHash('sha256');
    const kept: Buffer[] = [];
    let keptBytes = 0;
    res.on('close', () => { if (!res.writableFinished) { rec.aborted = true; notify(); } });
    if (b.pauseReadMs) {
      req.pause();
      setTimeout(() => req.resume(), b.pauseReadMs);
    }
    req.on('data', (c: Buffer) => {
      hash.update(c);
      rec.bodyBytes += c.length;
      if (keptBytes < MAX_KEPT) { kept.push(c); keptBytes += c.length; }
    });
    req.on('error', () => { /* aborted: recorded via res close */ });
    req.on('end', () => {
      rec.complete = true;
      rec.rawTrailers = [...req.rawTrailers];
      rec.body = Buffer.concat(kept);
      rec.bodySha256 = hash.digest('hex');
      notify();
      if (b.reset) { req.socket.destroy(); return; }
      if (b.garbage) { req.socket.end('HELLO THERE\r\nthis is not http\r\n\r\n'); return; }
      const answer = () => {
        if (res.destroyed) return;
        if (b.truncate) {
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(1 << 20) });
          res.write(Buffer.alloc(1000, 0x61), () => setTimeout(() => req.socket.destroy(), 50));
          return;
        }
        if (b.largeBytes !== undefined) {
          res.writeHead(b.status ?? 200, { 'content-type': 'application/octet-stream', ...b.headers });
          const it = patternChunks(b.largeBytes);
          const pump = (): void => {
            for (let n = it.next(); !n.done; n = it.next()) {
              if (!res.write(n.value)) { res.once('drain', pump); return; }
            }
            res.end();
          };
          pump();
          return;
        }
        const body = JSON.stringify({ ok: true, method: rec.method, url: rec.url, bodyBytes: rec.bodyBytes, bodySha256: rec.bodySha256 });
        res.writeHead(b.status ?? 200, { 'content-type': 'application/json', ...(b.chunked ? {} : { 'content-length': String(Buffer.byteLength(body)) }), ...b.headers });
        res.end(body);
      };
      if (b.delayMs) {
        const t = setTimeout(answer, b.delayMs);
        res.once('close', () => clearTimeout(t));
      } else answer();
    });
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
    const rec = record(req, true);
    rec.complete = true;
    socket.on('error', () => socket.destroy());
    const b = behaviourFor(rec.url);
    if (b.wsHang) return;
    if (b.wsRefuseStatus !== undefined) {
      const body = JSON.stringify({ refused: true });
      socket.end(`HTTP/1.1 ${b.wsRefuseStatus} Refused\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
      return;
    }
    const key = req.headers['sec-websocket-key'];
    if (typeof key !== 'string') { socket.destroy(); return; }
    const accept = createHash('sha1').update(key + WS_GUID).digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    // one unmasked text frame telling who the upstream thinks is calling
    const users = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i]!.toLowerCase() === 'x-rolegate-user') users.push(req.rawHeaders[i + 1]);
    const text = Buffer.from(JSON.stringify({ hello: users }));
    socket.write(Buffer.concat([Buffer.from([0x81, text.length]), text]));
    const t = setTimeout(() => socket.end(), 2000);
    socket.once('close', () => clearTimeout(t));
  });

  server.on('connection', (s: Socket) => { sockets.add(s); s.once('close', () => sockets.delete(s)); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    on(prefix, b) { behaviours.set(prefix, b); },
    reset() { requests.length = 0; },
    waitFor(n, timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        const deadline = setTimeout(() => reject(new Error(`upstream saw ${requests.length} requests, wanted ${n} within ${timeoutMs} ms`)), timeoutMs);
        const check = () => {
          if (requests.length >= n) { clearTimeout(deadline); resolve(requests); } else waiters.push(check);
        };
        check();
      });
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** Polls `cond` every 20 ms until true or `timeoutMs` passes; returns whether it became true. */
export async function eventually(cond: () => boolean, timeoutMs = 5000): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return cond();
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
