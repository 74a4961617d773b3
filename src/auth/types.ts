import type { Reason } from '../errors.js';

/** A token that passed every check. Frozen: cached instances are shared across requests. */
export interface VerifiedToken {
  token: string;
  claims: Readonly<Record<string, unknown>>;
  subject: string;
  expiresAtMs: number;
}

export interface AuthLogger { warn(obj: object, msg: string): void }

export interface AuthHooks {
  onVerification(result: 'ok' | 'cache_hit' | Reason): void;
  logger?: AuthLogger;
}

export interface Authenticator {
  /** Cache hit returns synchronously (no Promise allocated on the hot path); miss returns a Promise. Throws/rejects GatewayError. */
  authenticate(authorization: string | string[] | undefined, cookieHeader: string | undefined): VerifiedToken | Promise<VerifiedToken>;
  /** true once keys are loadable (JWKS fetched at least once or file/secret loaded). */
  ready(): boolean;
  close(): void;
}

/** Where verification keys come from. `kid` is only ever a lookup label. */
export interface KeySource {
  /** Resolves a verification key for `alg` (already checked against the allow-list). Throws GatewayError. */
  resolve(alg: string, kid: string | undefined): Promise<CryptoKey>;
  ready(): boolean;
  close(): void;
}
