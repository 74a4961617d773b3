// Facts about the machine a result was measured on.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { clockTicks } from './proc-stats.js';
import { nginxVersion } from './nginx.js';

export interface MachineFacts {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  nginx: string;
  autocannon: string;
  undici: string;
  clkTck: number;
  loadAvgStart: number[];
  loadAvgEnd?: number[];
}

function pkgVersion(name: string): string {
  try {
    // dist/bench/machine.js -> repository root
    const file = fileURLToPath(new URL(`../../node_modules/${name}/package.json`, import.meta.url));
    return (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version ?? '?';
  } catch {
    return '?';
  }
}

export function machineFacts(): MachineFacts {
  let cpuModel = os.cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m?.[1]) cpuModel = m[1].trim();
  } catch { /* keep os.cpus() */ }
  return {
    cpuModel,
    cores: os.availableParallelism(),
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    nginx: nginxVersion() ?? 'nginx not installed',
    autocannon: pkgVersion('autocannon'),
    undici: pkgVersion('undici'),
    clkTck: clockTicks(),
    loadAvgStart: os.loadavg().map((x) => Number(x.toFixed(2))),
  };
}
