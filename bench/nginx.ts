// Row "nginx": proxy_pass with upstream keepalive, one worker, config in a temp dir.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, spawnChild, waitReadyOrStop } from './child.js';
import type { RunningTarget, TargetContext } from './targets.js';

const CANDIDATES = ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx', '/usr/bin/nginx'];

/** $BENCH_NGINX overrides the search (and makes the row unavailable if that file does not exist). */
export function nginxBinary(): string | undefined {
  const forced = process.env.BENCH_NGINX;
  if (forced) return existsSync(forced) ? forced : undefined;
  return CANDIDATES.find((p) => existsSync(p));
}

/** "nginx/1.22.1", or undefined when nginx is not installed. */
export function nginxVersion(): string | undefined {
  const bin = nginxBinary();
  if (bin === undefined) return undefined;
  const r = spawnSync(bin, ['-v'], { encoding: 'utf8', timeout: 2000 });
  const m = /nginx\/\S+/.exec(`${r.stderr ?? ''}${r.stdout ?? ''}`);
  return m ? m[0] : 'nginx (unknown version)';
}

export function nginxConf(dir: string, port: number, upstreamPort: number): string {
  // Running as root, workers would switch to "nobody" and could not write the temp dir: stay root.
  const user = process.getuid?.() === 0 ? 'user root root;\n' : '';
  return `${user}worker_processes 1;
events { worker_connections 4096; }
http {
  # The access log stays on, like rolegate's per-request log line.
  access_log ${join(dir, 'access.log')};
  client_body_temp_path ${join(dir, 'client_body')};
  proxy_temp_path ${join(dir, 'proxy')};
  fastcgi_temp_path ${join(dir, 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'uwsgi')};
  scgi_temp_path ${join(dir, 'scgi')};
  keepalive_timeout 120s;
  keepalive_requests 1000000;
  upstream portal {
    server 127.0.0.1:${upstreamPort};
    keepalive 64;
    keepalive_requests 1000000;
    keepalive_timeout 110s;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://portal;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`;
}

export async function startNginx(ctx: TargetContext): Promise<RunningTarget> {
  const bin = nginxBinary();
  if (bin === undefined) throw new Error('nginx not installed');
  const dir = join(ctx.tmpDir, 'nginx');
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, nginxConf(dir, port, ctx.upstreamPort));
  const child = spawnChild('nginx', bin, [
    '-p', dir, '-c', conf,
    '-g', `daemon off; pid ${join(dir, 'nginx.pid')}; error_log ${join(dir, 'error.log')} warn;`,
  ], { core: ctx.proxyCore, stderrFile: join(dir, 'stderr.log') });
  const url = `http://127.0.0.1:${port}`;
  await waitReadyOrStop(child, `${url}/healthz`, 10_000);
  return { url, pid: child.pid, child };
}
