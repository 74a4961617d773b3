import { parseArgs } from 'node:util';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../config/index.js';
import { generateSigningKey, mintToken } from '../auth/index.js';
import { loadSeed } from '../store/index.js';
import { startGateway } from '../main.js';
import { startPortalUpstream } from '../demo/portal-upstream.js';
import { out } from './output.js';

export const demoHelp = `rolegate demo [--port 8080] [--ops-port 9090] [--admin-port 9091]

Run the gateway on its embedded default: a bundled demo portal upstream,
policies/portal.yaml, the in-memory store seeded from config/demo-members.yaml,
the admin API and console, and a signing key generated now. Prints a
ready-to-paste curl line per member and the owner's token for the console.`;

const PROJECT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const ISSUER = 'https://demo.rolegate.test/';

/** The request each demo member tries first: one allow and one deny between them at least. */
const SAMPLES: Record<string, string> = {
  'u-olivia': '/api/payouts',
  'u-adam': '/api/payouts',
  'u-mia': '/api/deals/d1',
  'u-vera': '/settings/general',
  'u-pat': '/api/partners/p-42/deals',
  'u-cara': '/api/deals',
  'u-ivy': '/api/deals',
  'u-rex': '/api/deals',
};

export async function demo(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, strict: true, options: { port: { type: 'string', default: '8080' }, 'ops-port': { type: 'string', default: '9090' }, 'admin-port': { type: 'string', default: '9091' }, host: { type: 'string', default: '127.0.0.1' } } });
  const upstream = await startPortalUpstream(0);
  const key = await generateSigningKey('ES256', 'demo-key');
  const dir = mkdtempSync(join(tmpdir(), 'rolegate-demo-'));
  writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [key.publicJwk] }));
  const seedFile = join(PROJECT, 'config/demo-members.yaml');
  writeFileSync(join(dir, 'gateway.yaml'), [
    `listen: { host: ${JSON.stringify(values.host)}, port: ${Number(values.port)} }`,
    `ops: { host: ${JSON.stringify(values.host)}, port: ${Number(values['ops-port'])} }`,
    `admin: { host: ${JSON.stringify(values.host)}, port: ${Number(values['admin-port'])} }`,
    `upstreams: { portal: { url: ${JSON.stringify(upstream.url)} } }`,
    `auth: { jwt: { issuer: ${JSON.stringify(ISSUER)}, audience: partner-portal, algorithms: [ES256], jwks_file: jwks.json }, cookie: session }`,
    `policy: { paths: [${JSON.stringify(join(PROJECT, 'policies/portal.yaml'))}], watch: true }`,
    `store: { seed: ${JSON.stringify(seedFile)} }`,
  ].join('\n'));
  const config = loadConfig(join(dir, 'gateway.yaml'));
  const gw = await startGateway(config, { signals: true });
  rmSync(dir, { recursive: true, force: true }); // the public key is loaded now
  const seed = loadSeed(seedFile);

  out(`\nrolegate demo: gateway ${gw.url}, ops ${gw.opsUrl}/metrics, admin console ${gw.adminUrl}/, demo portal upstream ${upstream.url}`);
  out('Tokens are signed with a key generated just now (valid 8 hours). Try:\n');
  const tokens = new Map<string, string>();
  for (const [id, m] of Object.entries(seed.members)) {
    const token = await mintToken({ privateKey: key.privateKey, alg: 'ES256', kid: key.kid, issuer: ISSUER, audience: 'partner-portal', subject: id, ttlSeconds: 8 * 3600, claims: { org_id: m.org, kind: m.kind, email: m.email } });
    tokens.set(id, token);
    out(`# ${id} (${m.status}, roles: ${m.roles?.length ? m.roles.join(',') : '(none: default for ' + m.kind + ')'})`);
    out(`curl -s -H 'Authorization: Bearer ${token}' ${gw.url}${SAMPLES[id] ?? '/api/deals'}\n`);
  }
  out(`# public, no token\ncurl -s ${gw.url}/api/public/status\n`);
  out(`# admin console: open ${gw.adminUrl}/ and paste the owner's (u-olivia) token:\n${tokens.get('u-olivia') ?? ''}\n`);
  out(`# admin API, e.g. the members table\ncurl -s -H 'Authorization: Bearer ${tokens.get('u-olivia') ?? ''}' ${gw.adminUrl}/v1/members\n`);
  process.once('SIGTERM', () => upstream.server.close());
  return -1;
}
