// CPU time and peak RSS of a process tree, read from /proc (Linux only).
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';

let clkTck: number | undefined;

/** Clock ticks per second for utime/stime (`getconf CLK_TCK`, 100 on Linux almost always). */
export function clockTicks(): number {
  if (clkTck !== undefined) return clkTck;
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 2000 }).trim());
    clkTck = Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    clkTck = 100;
  }
  return clkTck;
}

interface Stat { ppid: number; ticks: number }

function readStat(pid: number): Stat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // comm (field 2) may contain spaces and parentheses: split after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
  const ppid = Number(fields[1]);
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(ppid) || !Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
  return { ppid, ticks: utime + stime };
}

/** `root` and all its live descendants (one scan of /proc). */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [root];
  }
  for (const e of entries) {
    const pid = Number(e);
    if (!Number.isInteger(pid)) continue;
    const st = readStat(pid);
    if (st === undefined) continue;
    const list = children.get(st.ppid);
    if (list) list.push(pid);
    else children.set(st.ppid, [pid]);
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0 && out.length < 10_000) {
    const pid = queue.shift() as number;
    out.push(pid);
    for (const c of children.get(pid) ?? []) queue.push(c);
  }
  return out;
}

/** utime+stime of the tree in clock ticks (all threads; children that already exited are not counted). */
export function treeCpuTicks(root: number): number {
  let sum = 0;
  for (const pid of processTree(root)) sum += readStat(pid)?.ticks ?? 0;
  return sum;
}

export function ticksToMicros(ticks: number): number {
  return (ticks * 1e6) / clockTicks();
}

function statusKb(pid: number, key: string): number {
  try {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Sum of VmHWM (peak resident set) over the tree, in KiB. Shared pages (nginx master/worker) count twice. */
export function treePeakRssKb(root: number): number {
  let sum = 0;
  for (const pid of processTree(root)) sum += statusKb(pid, 'VmHWM');
  return sum;
}

/** Sum of VmRSS (resident set now) over the tree, in KiB. */
export function treeRssKb(root: number): number {
  let sum = 0;
  for (const pid of processTree(root)) sum += statusKb(pid, 'VmRSS');
  return sum;
}

/**
 * Resets VmHWM to the current RSS for every process of the tree (`echo 5 > /proc/<pid>/clear_refs`,
 * Linux 4.0+, our own children only), so a later treePeakRssKb is the peak since now. False if refused.
 */
export function resetPeakRss(root: number): boolean {
  try {
    for (const pid of processTree(root)) writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}
