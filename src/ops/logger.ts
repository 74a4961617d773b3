import { pino, destination as pinoDestination, type Logger } from 'pino';

export type { Logger };

/**
 * JSON lines on stdout. Buffered (flushed on shutdown) so the per-request line
 * does not cost a write syscall each. Headers are never logged, so tokens and
 * cookies cannot leak; the redact list is the second lock on that door.
 */
export function createLogger(level: string, dest: number | string = 1): Logger {
  const destination = pinoDestination({ dest, sync: false, minLength: 4096 });
  return pino({
    level,
    base: { service: 'rolegate' },
    timestamp: isoTime,
    redact: { paths: ['headers', 'req.headers', 'token', 'authorization', 'cookie'], censor: '[redacted]' },
  }, destination);
}

let stampedAt = -1;
let stamp = '';

/**
 * pino's isoTime, formatted once per millisecond: at thousands of lines a second
 * most lines share their millisecond, and toISOString is a visible part of each line.
 */
export function isoTime(): string {
  const now = Date.now();
  if (now !== stampedAt) {
    stampedAt = now;
    stamp = `,"time":"${new Date(now).toISOString()}"`;
  }
  return stamp;
}
