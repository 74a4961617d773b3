/**
 * Raw HTTP/1.1 over net.Socket: HTTP clients normalize paths and refuse odd
 * framing, so canonicalization, framing and smuggling cases go byte for byte.
 * Every read is bounded in time and size.
 */
import { connect, type Socket } from 'node:net';

export interface RawResponse {
  status: number;
  statusText: string;
  /** Lower-case name -> values in order. */
  headers: Map<string, string[]>;
  body: string;
}

export interface RawResult {
  /** Everything the server sent (latin1), capped at maxBytes. */
  text: string;
  /** The server closed (or reset) the connection before the timeout. */
  closed: boolean;
  timedOut: boolean;
  responses: RawResponse[];
}

export interface RawOptions {
  timeoutMs?: number;
  maxBytes?: number;
  /** Resolve early once this many complete responses are parsed (then wait settleMs for more bytes). */
  responses?: number;
  settleMs?: number;
  /** The requests were HEAD: responses carry no body whatever their headers say. */
  head?: boolean;
}

export function hostOf(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port) };
}

/** Send `data` on a fresh connection and collect the answer. */
export function rawRequest(url: string, data: string | Buffer | readonly (string | Buffer)[], opts: RawOptions = {}): Promise<RawResult> {
  const conn = openRaw(url, opts);
  for (const d of (typeof data === 'string' || Buffer.isBuffer(data)) ? [data] : data) conn.socket.write(typeof d === 'string' ? Buffer.from(d, 'latin1') : d);
  return conn.result;
}

/** A connection whose writes the caller paces (slow headers, pipelining). */
export function openRaw(url: string, opts: RawOptions = {}): { socket: Socket; result: Promise<RawResult> } {
  const { host, port } = hostOf(url);
  const timeoutMs = opts.timeoutMs ?? 3000;
  const maxBytes = opts.maxBytes ?? 4 * 1024 * 1024;
  const socket = connect({ host, port });
  socket.on('error', () => { /* a reset is an outcome, reported as closed */ });
  const result = new Promise<RawResult>((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    let settle: NodeJS.Timeout | undefined;
    const finish = (closed: boolean, timedOut: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(settle);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      resolve({ text, closed, timedOut, responses: parseResponses(text, opts.head === true) });
    };
    const timer = setTimeout(() => finish(false, true), timeoutMs);
    socket.on('data', (c: Buffer) => {
      if (size < maxBytes) { chunks.push(c.subarray(0, maxBytes - size)); size += Math.min(c.length, maxBytes - size); }
      if (opts.responses !== undefined && settle === undefined) {
        const n = parseResponses(Buffer.concat(chunks).toString('latin1'), opts.head === true, true).length;
        if (n >= opts.responses) settle = setTimeout(() => finish(socket.readableEnded || socket.destroyed, false), opts.settleMs ?? 50);
      }
    });
    socket.on('close', () => finish(true, false));
    socket.on('end', () => finish(true, false));
  });
  return { socket, result };
}

/**
 * Parse consecutive HTTP/1.1 responses. With `completeOnly`, a response whose
 * body has not fully arrived is not returned (used to decide when to stop reading).
 */
export function parseResponses(text: string, head = false, completeOnly = false): RawResponse[] {
  const out: RawResponse[] = [];
  let pos = 0;
  while (pos < text.length) {
    const end = text.indexOf('\r\n\r\n', pos);
    if (end < 0) break;
    const lines = text.slice(pos, end).split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(lines[0] ?? '');
    if (!m) break;
    const status = Number(m[1]);
    const headers = new Map<string, string[]>();
    for (const line of lines.slice(1)) {
      const c = line.indexOf(':');
      if (c <= 0) continue;
      const name = line.slice(0, c).trim().toLowerCase();
      headers.set(name, [...(headers.get(name) ?? []), line.slice(c + 1).trim()]);
    }
    let p = end + 4;
    let body = '';
    const noBody = head || status < 200 || status === 204 || status === 304;
    const te = headers.get('transfer-encoding')?.join(',').toLowerCase() ?? '';
    const cl = headers.get('content-length')?.[0];
    if (noBody) {
      // nothing
    } else if (te.includes('chunked')) {
      let complete = false;
      for (let guard = 0; guard < 100000; guard++) {
        const le = text.indexOf('\r\n', p);
        if (le < 0) break;
        const size = parseInt(text.slice(p, le), 16);
        if (!Number.isFinite(size)) break;
        if (size === 0) {
          const te2 = text.indexOf('\r\n\r\n', le);
          if (te2 >= 0) { p = te2 + 4; complete = true; } else if (text.slice(le, le + 4) === '\r\n\r\n') { p = le + 4; complete = true; }
          break;
        }
        if (le + 2 + size > text.length) break;
        body += text.slice(le + 2, le + 2 + size);
        p = le + 2 + size + 2;
      }
      if (!complete && completeOnly) break;
    } else if (cl !== undefined) {
      const n = Number(cl);
      if (p + n > text.length) {
        if (completeOnly) break;
        body = text.slice(p);
        p = text.length;
      } else {
        body = text.slice(p, p + n);
        p += n;
      }
    } else {
      // delimited by close
      if (completeOnly) break;
      body = text.slice(p);
      p = text.length;
    }
    out.push({ status, statusText: m[2] ?? '', headers, body });
    pos = p;
  }
  return out;
}

/** JSON body of a raw response, or undefined when it is not JSON. */
export function jsonOf(r: RawResponse | undefined): Record<string, unknown> | undefined {
  if (!r) return undefined;
  try { return JSON.parse(r.body) as Record<string, unknown>; } catch { return undefined; }
}

/** A request head with CRLFs; `lines` are header lines without CRLF. */
export function req(requestLine: string, lines: readonly string[], body = ''): string {
  return `${requestLine}\r\n${lines.map((l) => `${l}\r\n`).join('')}\r\n${body}`;
}
