import { parseArgs } from 'node:util';
import { loadPrivateKey, mintToken } from '../auth/index.js';
import { out, UsageError } from './output.js';

export const tokenHelp = `rolegate token --key FILE --sub ID [options]

Mint a signed JWT from a local private key (PEM PKCS#8 or JWK JSON), for development.
  --key FILE         private key
  --alg ALG          RS256 (default), ES256 or EdDSA
  --kid KID          key id header
  --iss URL          issuer (default https://idp.example.test/)
  --aud AUD          audience (default partner-portal)
  --sub ID           subject (required)
  --ttl SECONDS      lifetime (default 3600)
  --claim k=v        extra claim, repeatable (org_id=acme, kind=partner)`;

export async function token(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv, strict: true,
    options: {
      key: { type: 'string' }, alg: { type: 'string', default: 'RS256' }, kid: { type: 'string' },
      iss: { type: 'string', default: 'https://idp.example.test/' }, aud: { type: 'string', default: 'partner-portal' },
      sub: { type: 'string' }, ttl: { type: 'string', default: '3600' }, claim: { type: 'string', multiple: true, default: [] },
    },
  });
  if (!values.key) throw new UsageError('--key is required');
  if (!values.sub) throw new UsageError('--sub is required');
  const ttl = Number(values.ttl);
  if (!Number.isInteger(ttl) || ttl <= 0) throw new UsageError(`--ttl must be a positive integer, got "${values.ttl}"`);
  const claims: Record<string, string> = {};
  for (const c of values.claim) {
    const eq = c.indexOf('=');
    if (eq <= 0) throw new UsageError(`--claim must be key=value, got "${c}"`);
    claims[c.slice(0, eq)] = c.slice(eq + 1);
  }
  const privateKey = await loadPrivateKey(values.key, values.alg);
  out(await mintToken({ privateKey, alg: values.alg, kid: values.kid, issuer: values.iss, audience: values.aud, subject: values.sub, ttlSeconds: ttl, claims }));
  return 0;
}
