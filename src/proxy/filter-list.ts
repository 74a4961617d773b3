import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { GatewayError } from '../errors.js';
import type { ListShape } from '../routes/index.js';
import type { Upstream } from './upstream-pools.js';
import type { HeaderHygiene } from './header-hygiene.js';
import type { ForwardHooks } from './forward.js';

export type RecordVisible = (id: string) => boolean | Promise<boolean>;

/**
 * Forward a list request and pass back only the records the principal may see.
 * Fails closed: a body over `maxBytes`, non-JSON, or JSON without an array at
 * the declared pointer is an error, never an unfiltered pass-through.
 * Non-2xx answers carry no list and stream through untouched.
 */
export async function forwardFiltered(
  upstream: Upstream, req: IncomingMessage, res: ServerResponse, path: string, headers: string[],
  hygiene: HeaderHygiene, requestId: string, shape: ListShape, visible: RecordVisible, hooks: ForwardHooks,
): Promise<void> {
  const started = performance.now();
  // the body must be readable to be filtered: ask for it uncompressed
  const outHeaders: string[] = [];
  for (let i = 0; i < headers.length; i += 2) if (headers[i]!.toLowerCase() !== 'accept-encoding') outHeaders.push(headers[i]!, headers[i + 1]!);
  outHeaders.push('accept-encoding', 'identity');
  const hasBody = req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined;
  const abort = new AbortController();
  const onClose = () => { if (!res.writableFinished) abort.abort(); };
  res.once('close', onClose);
  try {
    const up = await upstream.pool.request({ method: req.method!, path, headers: outHeaders, body: hasBody ? req : null, signal: abort.signal });
    hooks.onUpstreamHeaders(upstream.name, (performance.now() - started) / 1000);
    const responseHeaders = hygiene.response(up.headers as Record<string, string | string[] | undefined>, requestId);
    if (up.statusCode < 200 || up.statusCode > 299 || req.method === 'HEAD') {
      res.writeHead(up.statusCode, responseHeaders);
      await pipeline(up.body, res);
      return;
    }
    const type = String(responseHeaders['content-type'] ?? '');
    const encoding = String(responseHeaders['content-encoding'] ?? 'identity');
    if (!/^application\/([a-z0-9.+-]*\+)?json\b/i.test(type) || encoding !== 'identity') {
      discard(up.body);
      throw new GatewayError('list_unfilterable', `content-type "${type}", content-encoding "${encoding}"`);
    }
    const text = await readCapped(up.body, shape.maxBytes);
    let doc: unknown;
    try { doc = JSON.parse(text); } catch { throw new GatewayError('list_unfilterable', 'body is not valid JSON'); }
    const root = shape.items.length === 0;
    const [parent, key] = locate(doc, shape.items);
    const items = root ? doc : parent === undefined ? undefined : (parent as Record<string, unknown>)[key!];
    if (!Array.isArray(items)) throw new GatewayError('list_unfilterable', `no array at "/${shape.items.join('/')}"`);
    const kept: unknown[] = [];
    for (const item of items) {
      const id = item !== null && typeof item === 'object' ? (item as Record<string, unknown>)[shape.id] : undefined;
      if (typeof id !== 'string' && typeof id !== 'number') continue; // a record without an id cannot be shown to be visible
      const v = visible(String(id));
      if (v instanceof Promise ? await v : v) kept.push(item);
    }
    const filtered = root ? kept : doc;
    if (!root) (parent as Record<string, unknown>)[key!] = kept;
    if (shape.total) {
      const [tp, tk] = locate(filtered, shape.total);
      if (tp !== undefined && typeof (tp as Record<string, unknown>)[tk!] === 'number') (tp as Record<string, unknown>)[tk!] = kept.length;
    }
    const out = JSON.stringify(filtered);
    delete responseHeaders['content-length'];
    delete responseHeaders.etag;
    delete responseHeaders['content-md5'];
    responseHeaders['content-length'] = String(Buffer.byteLength(out));
    res.writeHead(up.statusCode, responseHeaders);
    res.end(out);
  } finally {
    res.off('close', onClose);
  }
}

/** The object holding the pointer's last token, and that token ([undefined] for the root pointer). */
function locate(doc: unknown, tokens: readonly string[]): [unknown, string | undefined] {
  if (tokens.length === 0) return [undefined, undefined];
  let node = doc;
  for (let i = 0; i < tokens.length - 1; i++) {
    if (node === null || typeof node !== 'object') return [undefined, undefined];
    node = (node as Record<string, unknown>)[tokens[i]!];
  }
  return node !== null && typeof node === 'object' ? [node, tokens[tokens.length - 1]] : [undefined, undefined];
}

async function readCapped(body: AsyncIterable<Buffer>, max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > max) {
      discard(body);
      throw new GatewayError('list_too_large', `body > ${max} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Drops an upstream body we will not read. undici's destroy() without an error emits 'error' (RequestAbortedError): swallow it, or it is an uncaught exception. */
function discard(body: unknown): void {
  const b = body as { on(ev: 'error', f: () => void): void; destroy(): void };
  b.on('error', () => {});
  b.destroy();
}
