import { parseArgs } from 'node:util';
import { startPortalUpstream } from '../demo/portal-upstream.js';
import { out, UsageError } from './output.js';

export const demoUpstreamHelp = `rolegate demo-upstream [--port 3000] [--host 127.0.0.1]

Run only the bundled demo portal (the upstream \`rolegate demo\` starts), for
deployments that put gateways in front of it (deploy/docker-compose.yml).
It trusts the x-rolegate-* identity headers and echoes them back.
SIGTERM/SIGINT stop it.`;

export async function demoUpstream(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, strict: true, options: { port: { type: 'string', default: '3000' }, host: { type: 'string', default: '127.0.0.1' } } });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be 0..65535, got "${values.port}"`);
  const upstream = await startPortalUpstream(port, values.host);
  out(`demo portal upstream listening on ${upstream.url}`);
  const stop = () => {
    upstream.server.close(() => process.exit(0));
    // gateways keep pooled connections open: drop the idle ones, give busy ones a moment
    upstream.server.closeIdleConnections();
    setTimeout(() => process.exit(0), 5000).unref();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  return -1; // keep running
}
