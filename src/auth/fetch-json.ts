/** JWKS and discovery documents are small; anything bigger is a misconfiguration or an attack. */
const MAX_BODY_BYTES = 1 << 20;

/**
 * GET a JSON document with a hard timeout and size cap. Redirects are refused
 * (same as jose's remote JWKS): the key URL comes from config and a redirect
 * would let whoever controls that response pick where keys are loaded from.
 */
export async function fetchJson(url: URL, timeoutMs: number, closed: AbortSignal): Promise<unknown> {
  const signal = AbortSignal.any([AbortSignal.timeout(timeoutMs), closed]);
  const res = await fetch(url, { method: 'GET', redirect: 'error', signal, headers: { accept: 'application/json, application/jwk-set+json' } });
  if (res.status !== 200) {
    await res.body?.cancel();
    throw new Error(`HTTP ${res.status} from ${url.href}`);
  }
  const declared = Number(res.headers.get('content-length') ?? '0');
  if (declared > MAX_BODY_BYTES) {
    await res.body?.cancel();
    throw new Error(`response from ${url.href} is larger than ${MAX_BODY_BYTES} bytes`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (res.body) {
    for await (const chunk of res.body) {
      size += chunk.byteLength;
      if (size > MAX_BODY_BYTES) throw new Error(`response from ${url.href} is larger than ${MAX_BODY_BYTES} bytes`);
      chunks.push(chunk);
    }
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}
