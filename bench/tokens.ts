// RS256 key pair, a JWKS endpoint served by the harness itself, and bench tokens.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';

export const ISSUER = 'https://idp.bench.test/';
export const AUDIENCE = 'partner-portal';
export const SUBJECT = 'u-bench';
const KID = 'bench-key-1';

export interface TokenKit {
  /** Token for org p-42 (the member's own org): the gateway must answer 200. */
  good: string;
  /** Same subject, org_id p-99: the gateway must answer 403 on p-42 routes. */
  otherOrg: string;
  jwksUrl: string;
  /** A partner token for any subject and org (cold-path users, revocation subjects). */
  mint(subject: string, org: string): Promise<string>;
  close(): Promise<void>;
}

export async function startTokenKit(): Promise<TokenKit> {
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: KID, alg: 'RS256', use: 'sig' };
  const body = JSON.stringify({ keys: [jwk] });

  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/jwks') {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  const mint = (subject: string, org: string): Promise<string> =>
    new SignJWT({ org_id: org, kind: 'partner' })
      .setProtectedHeader({ alg: 'RS256', kid: KID })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject(subject)
      .setIssuedAt()
      .setExpirationTime('2h')
      .sign(privateKey);

  return {
    good: await mint(SUBJECT, 'p-42'),
    otherOrg: await mint(SUBJECT, 'p-99'),
    jwksUrl: `http://127.0.0.1:${port}/jwks`,
    mint,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
