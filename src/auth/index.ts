/** The auth stage: who is calling? Everything else in src/auth is internal. */
export { buildAuthenticator } from './authenticator.js';
export type { AuthHooks, AuthLogger, Authenticator, VerifiedToken } from './types.js';
export { generateSigningKey, loadPrivateKey, mintToken } from './mint-token.js';
export type { GeneratedKey, MintOptions, SigningAlg, SigningKey } from './mint-token.js';
