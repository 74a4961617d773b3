import { createServer, type Server } from 'node:http';
import type { GatewayMetrics } from './metrics.js';

export interface ReadinessCheck { name: string; ok(): boolean }

/** /metrics, /healthz (process up), /readyz (every check passes). Kept off the traffic listener. */
export function createOpsServer(metrics: GatewayMetrics, checks: readonly ReadinessCheck[]): Server {
  return createServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { error: 'method_not_allowed' });
    if (path === '/healthz') return send(res, 200, { status: 'ok' });
    if (path === '/readyz') {
      const results = Object.fromEntries(checks.map((c) => [c.name, safe(c)]));
      const ready = Object.values(results).every(Boolean);
      return send(res, ready ? 200 : 503, { status: ready ? 'ready' : 'not_ready', checks: results });
    }
    if (path === '/metrics') {
      try {
        const body = await metrics.registry.metrics();
        res.writeHead(200, { 'content-type': metrics.registry.contentType });
        return res.end(body);
      } catch {
        return send(res, 500, { error: 'internal_error' });
      }
    }
    return send(res, 404, { error: 'not_found' });
  });
}

function safe(c: ReadinessCheck): boolean {
  try { return c.ok(); } catch { return false; }
}

function send(res: import('node:http').ServerResponse, status: number, body: object): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}
