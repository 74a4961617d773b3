import { parseArgs } from 'node:util';
import { loadConfig } from '../config/index.js';
import { startGateway } from '../main.js';

export const serveHelp = `rolegate serve [--config FILE]

Run the gateway. FILE defaults to $ROLEGATE_CONFIG, else config/gateway.yaml.
SIGTERM/SIGINT drain in-flight requests and exit; SIGHUP reloads policy.`;

export async function serve(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c' } }, strict: true });
  const config = loadConfig(values.config ?? process.env.ROLEGATE_CONFIG ?? 'config/gateway.yaml');
  await startGateway(config, { signals: true });
  return -1; // keep running
}
