// Shared bits for the child-process scripts (upstream and passthrough proxies).
import type { Server } from 'node:http';

/** Hop-by-hop headers (RFC 9110 §7.6.1) plus ones undici refuses; never forwarded by the passthroughs. */
export const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'expect',
]);

/** `<script> <listenPort> <upstreamUrl>`; exits 2 on bad arguments. */
export function parseProxyArgs(): { port: number; upstream: string } {
  const port = Number(process.argv[2]);
  const upstream = process.argv[3] ?? '';
  if (!Number.isInteger(port) || port <= 0 || !/^http:\/\//.test(upstream)) {
    process.stderr.write('usage: <target>.js <listenPort> <upstreamUrl>\n');
    process.exit(2);
  }
  return { port, upstream };
}

/**
 * Bench children must never outlive the harness: exit on SIGTERM/SIGINT, and poll the parent pid
 * (a detached child is re-parented when the harness dies, even by SIGKILL).
 */
export function exitWithParent(server: Server): void {
  const parent = process.ppid;
  const stop = (): void => {
    server.closeAllConnections();
    server.close();
    setTimeout(() => process.exit(0), 200).unref();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  setInterval(() => { if (process.ppid !== parent) process.exit(0); }, 1000).unref();
}
