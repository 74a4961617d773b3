import { createLocalJWKSet } from 'jose';
import { GatewayError } from '../errors.js';
import { fetchJson } from './fetch-json.js';
import { sanitizeJwks } from './jwks-sanitize.js';
import type { AuthLogger, KeySource } from './types.js';

type LocalSet = ReturnType<typeof createLocalJWKSet>;

export interface RemoteJwksOptions {
  /** Either a fixed JWKS URL or an issuer whose discovery document names it. */
  jwksUrl?: string;
  discoveryIssuer?: string;
  ttlMs: number;
  intervalMs: number;
  timeoutMs: number;
  logger?: AuthLogger;
}

/**
 * A fetch-based JWKS cache instead of jose's createRemoteJWKSet, because
 * jose's (v6) drops to "fetch or fail" once its cacheMaxAge passes: with the
 * endpoint down every request would fail, and failed fetches don't start its
 * cooldown, so each unknown kid would hit the endpoint again. Here:
 *  - the last good key set is kept until a fetch succeeds (stale-while-revalidate);
 *  - every fetch attempt, successful or not, starts the refetch interval, so
 *    neither unknown kids nor an outage can make us hammer the IdP;
 *  - concurrent callers share one in-flight fetch.
 * Key selection within the set is jose's createLocalJWKSet (kid + alg + kty/crv).
 */
export class RemoteJwks implements KeySource {
  private set: LocalSet | undefined;
  private fetchedAt = -Infinity;
  private lastAttempt = -Infinity;
  private pending: Promise<void> | undefined;
  private jwksUrl: URL | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly closing = new AbortController();

  constructor(private readonly opts: RemoteJwksOptions) {
    if (opts.jwksUrl !== undefined) this.jwksUrl = new URL(opts.jwksUrl);
  }

  /** Prefetch; never throws, so startup survives an IdP outage (ready() stays false and a timer retries). */
  async start(): Promise<void> {
    await this.refresh();
    if (this.set === undefined && !this.closing.signal.aborted) {
      this.retryTimer = setInterval(() => { if (this.canAttempt()) void this.refresh(); }, this.opts.intervalMs);
      this.retryTimer.unref();
    }
  }

  ready(): boolean { return this.set !== undefined; }

  close(): void {
    clearInterval(this.retryTimer);
    this.closing.abort();
  }

  async resolve(alg: string, kid: string | undefined): Promise<CryptoKey> {
    if (this.set === undefined) {
      if (this.pending || this.canAttempt()) await this.refresh();
      if (this.set === undefined) throw new GatewayError('keys_unavailable');
    } else if (Date.now() - this.fetchedAt >= this.opts.ttlMs && this.canAttempt()) {
      void this.refresh(); // serve the keys we have; the refresh replaces them if it succeeds
    }
    const header = { alg, kid };
    try {
      return await this.set!(header);
    } catch (err) {
      // An unknown kid may be a freshly rotated key: refetch, but at most once per interval.
      if ((err as { code?: string }).code !== 'ERR_JWKS_NO_MATCHING_KEY' || !(this.pending || this.canAttempt())) throw err;
      await this.refresh();
      return this.set!(header);
    }
  }

  private canAttempt(): boolean {
    return !this.closing.signal.aborted && Date.now() - this.lastAttempt >= this.opts.intervalMs;
  }

  /** One shared attempt; resolves either way (failures are logged, old keys kept). */
  private refresh(): Promise<void> {
    if (this.pending) return this.pending;
    this.lastAttempt = Date.now();
    const attempt = this.load().then(
      (set) => {
        this.set = set;
        this.fetchedAt = Date.now();
        clearInterval(this.retryTimer);
      },
      (err: unknown) => {
        if (this.closing.signal.aborted) return;
        const e = err as Error;
        this.opts.logger?.warn(
          { url: this.jwksUrl?.href ?? this.opts.discoveryIssuer, err: `${e.name}: ${e.message}`, keptStaleKeys: this.set !== undefined },
          this.set ? 'auth: JWKS refresh failed; still using the previously fetched keys' : 'auth: JWKS fetch failed; no keys yet, tokens are rejected with keys_unavailable',
        );
      },
    );
    this.pending = attempt.finally(() => { this.pending = undefined; });
    return this.pending;
  }

  private async load(): Promise<LocalSet> {
    this.jwksUrl ??= await this.discover();
    const { jwks, dropped } = sanitizeJwks(await fetchJson(this.jwksUrl, this.opts.timeoutMs, this.closing.signal));
    if (jwks.keys.length === 0) throw new Error(`JWKS at ${this.jwksUrl.href} has no usable signing keys`);
    if (dropped > 0) this.opts.logger?.warn({ url: this.jwksUrl.href, dropped }, 'auth: ignored JWKS entries that are not public signing keys');
    return createLocalJWKSet(jwks);
  }

  /** OpenID Connect Discovery 1.0 §4: the document must name the same issuer we are configured for. */
  private async discover(): Promise<URL> {
    const issuer = this.opts.discoveryIssuer!;
    const base = issuer.replace(/\/+$/, '');
    const doc = await fetchJson(new URL(`${base}/.well-known/openid-configuration`), this.opts.timeoutMs, this.closing.signal) as Record<string, unknown> | null;
    if (typeof doc !== 'object' || doc === null) throw new Error('discovery document is not a JSON object');
    if (typeof doc.issuer !== 'string' || doc.issuer.replace(/\/+$/, '') !== base) {
      throw new Error(`discovery document issuer ${JSON.stringify(doc.issuer)} does not match the configured issuer ${JSON.stringify(issuer)}`);
    }
    if (typeof doc.jwks_uri !== 'string') throw new Error('discovery document has no jwks_uri');
    const url = new URL(doc.jwks_uri);
    // A plain-http jwks_uri is only tolerated when the issuer itself is http (local development).
    const allowed = new URL(base).protocol === 'http:' ? ['http:', 'https:'] : ['https:'];
    if (!allowed.includes(url.protocol)) throw new Error(`discovery jwks_uri must use ${allowed.join(' or ')}`);
    return url;
  }
}
