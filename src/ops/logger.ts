import { mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { pino, type Logger } from 'pino';
import { CellIndex } from './cell-index.js';

export type { Logger };

/**
 * JSON lines on stdout, batched (see LineBatcher) so the per-request line does
 * not cost a write syscall each. Headers are never logged, so tokens and
 * cookies cannot leak; the redact list is the second lock on that door.
 */
export function createLogger(level: string, dest: number | string = 1): Logger {
  const batcher = new LineBatcher(dest);
  const logger = pino({
    level,
    base: BASE,
    timestamp: isoTime,
    redact: { paths: ['headers', 'req.headers', 'token', 'authorization', 'cookie'], censor: '[redacted]' },
  }, batcher);
  batchers.set(logger, batcher);
  return logger;
}

const BASE = { service: 'rolegate' };
/** BASE as pino writes it after the time. */
const BASE_JSON = JSON.stringify(BASE).replace(/^\{/, ',').replace(/\}$/, '');
const LEVELS = { info: 30, warn: 40, error: 50 } as const;

/** Loggers made by createLogger, whose line format is known here: the request line can be formatted without pino. */
const batchers = new WeakMap<Logger, LineBatcher>();

/** What the per-request line says about a request (the gateway's trace). */
export interface RequestFacts {
  readonly id: string;
  readonly traceId: string | undefined;
  readonly method: string;
  readonly route: string;
  readonly resource: string;
  readonly action: string;
  readonly principal: string | undefined;
  /** A Reason or 'allow'. */
  readonly reason: string;
}

export type RequestLineWriter = (
  level: keyof typeof LEVELS, facts: RequestFacts, decision: string, status: number, durationMs: number, err: Error | undefined, detail: string | undefined,
) => void;

/**
 * The per-request log line ("request"). For a createLogger logger it is built
 * here as one string, byte for byte what pino writes for the same object
 * (test/e2e/logger.test.ts checks), without the object and pino's per-field
 * string building: that was the largest part of the line's cost. Errors, and
 * other loggers (tests pass their own), go through pino.
 */
export function requestLineWriter(logger: Logger): RequestLineWriter {
  const viaPino: RequestLineWriter = (level, f, decision, status, durationMs, err, detail) => {
    logger[level]({
      request_id: f.id, trace_id: f.traceId, method: f.method, route: f.route, resource: f.resource || undefined,
      action: f.action || undefined, principal: f.principal, decision, reason: f.reason, status, duration_ms: durationMs, err, detail,
    }, 'request');
  };
  const batcher = batchers.get(logger);
  if (batcher === undefined) return viaPino;
  return (level, f, decision, status, durationMs, err, detail) => {
    if (err !== undefined) return viaPino(level, f, decision, status, durationMs, err, detail);
    if (!logger.isLevelEnabled(level)) return;
    // request and trace ids (a UUID, validated hex), decision and reason (fixed words) need no escaping
    let line = `{"level":${LEVELS[level]}${isoTime()}${BASE_JSON},"request_id":"${f.id}"`;
    if (f.traceId !== undefined) line += `,"trace_id":"${f.traceId}"`;
    line += routeFields.at(f.method, f.route, f.resource, f.action);
    if (f.principal !== undefined) line += `,"principal":${jsonString(f.principal)}`;
    line += `,"decision":"${decision}","reason":"${f.reason}","status":${status},"duration_ms":${durationMs}`;
    if (detail !== undefined) line += `,"detail":${jsonString(detail)}`;
    batcher.write(line + ',"msg":"request"}\n');
  };
}

/**
 * `,"method":…,"route":…,"resource":…,"action":…` for each combination, quoted
 * once: methods are those Node's parser accepts, the rest come from the policy.
 */
const routeFields = new CellIndex(([method, route, resource, action]) => {
  let s = `,"method":${jsonString(String(method))},"route":${jsonString(String(route))}`;
  if (resource) s += `,"resource":${jsonString(String(resource))}`;
  if (action) s += `,"action":${jsonString(String(action))}`;
  return s;
});

/** Nothing to escape: no quote, backslash, control character or surrogate. */
const PLAIN = /^[^"\\\x00-\x1f\ud800-\udfff]*$/;

function jsonString(s: string): string {
  return PLAIN.test(s) ? `"${s}"` : JSON.stringify(s);
}

/** Characters buffered before a batch is written: one syscall per ~40 request lines. */
const BATCH_CHARS = 16 * 1024;
/** The longest a line waits for its batch to fill when traffic is low. */
const MAX_DELAY_MS = 200;

/** Batchers holding lines not yet written; written out synchronously when the process exits. */
const unwritten = new Set<LineBatcher>();
let exitHookInstalled = false;

/**
 * pino destination that keeps lines in an array and writes them joined, with a
 * synchronous write, once BATCH_CHARS are buffered, MAX_DELAY_MS after the first
 * buffered line, on flush() and at process exit. Replaces sonic-boom, whose
 * utf8 write() appends each line to one growing string and measures its byte
 * length every time (a full copy of the batch per line). Synchronous writes
 * have no write in flight, so a flush (shutdown) is complete when it returns;
 * a slow reader of a blocking pipe holds the process as pino's default does.
 */
export class LineBatcher {
  private readonly fd: number;
  private lines: string[] = [];
  private chars = 0;
  private timer: NodeJS.Timeout | null = null;
  private reportedError = false;
  private readonly onTimer = (): void => { this.timer = null; this.flushSync(); };

  /** `dest`: a file descriptor, or a path appended to (its folder created). */
  constructor(dest: number | string) {
    if (typeof dest === 'number') this.fd = dest;
    else {
      mkdirSync(dirname(dest), { recursive: true });
      this.fd = openSync(dest, 'a');
    }
  }

  write(line: string): boolean {
    this.lines.push(line);
    this.chars += line.length;
    if (this.chars >= BATCH_CHARS) this.flushSync();
    else if (this.timer === null) {
      this.timer = setTimeout(this.onTimer, MAX_DELAY_MS).unref();
      unwritten.add(this);
      if (!exitHookInstalled) {
        exitHookInstalled = true;
        process.on('exit', () => { for (const b of unwritten) b.flushSync(); });
      }
    }
    return true;
  }

  /** pino's logger.flush(): everything buffered is written before it returns. */
  flush(cb?: (err?: Error) => void): void {
    this.flushSync();
    cb?.();
  }

  flushSync(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    unwritten.delete(this);
    if (this.lines.length === 0) return;
    const data = this.lines.join('');
    this.lines = [];
    this.chars = 0;
    try {
      writeFully(this.fd, data);
    } catch (err) {
      // a closed or broken destination must not fail requests; say so once on stderr
      if (!this.reportedError) {
        this.reportedError = true;
        process.stderr.write(`rolegate: log lines dropped: ${(err as Error).message}\n`);
      }
    }
  }
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Write all of `data`, through partial writes and EAGAIN (a non-blocking pipe that is full: wait for its reader). */
function writeFully(fd: number, data: string): void {
  let rest: Buffer | null = null;
  for (;;) {
    try {
      if (rest === null) {
        const n = writeSync(fd, data);
        if (n === Buffer.byteLength(data)) return;
        rest = Buffer.from(data).subarray(n);
      } else {
        rest = rest.subarray(writeSync(fd, rest));
      }
      if (rest.length === 0) return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      Atomics.wait(sleeper, 0, 0, 10);
    }
  }
}

let stampedAt = -1;
let stamp = '';
let minuteStart = -1;
let minutePrefix = '';

/**
 * pino's isoTime (`,"time":"2026-11-25T09:56:07.123Z"`), formatted once per
 * millisecond and, within a minute, from the minute's prefix: toISOString
 * (~0.5 µs) is a visible part of a line at a few thousand lines a second, where
 * consecutive lines rarely share their millisecond.
 */
export function isoTime(): string {
  const now = Date.now();
  if (now !== stampedAt) {
    stampedAt = now;
    const intoMinute = now % 60_000;
    if (now - intoMinute !== minuteStart) {
      minuteStart = now - intoMinute;
      minutePrefix = `,"time":"${new Date(minuteStart).toISOString().slice(0, 17)}`;
    }
    const seconds = Math.floor(intoMinute / 1000);
    const ms = intoMinute % 1000;
    stamp = `${minutePrefix}${seconds < 10 ? '0' : ''}${seconds}.${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z"`;
  }
  return stamp;
}
