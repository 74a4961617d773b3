import { pino, type Logger } from 'pino';
import type { DecisionLogConfig } from '../config/index.js';
import { isoTime, LineBatcher } from './logger.js';

/** One authorization decision, as an SIEM ingests it (docs/decision-log.md). Never carries a token. */
export interface DecisionLogEntry {
  request_id: string;
  trace_id: string | undefined;
  method: string;
  path: string;
  route: string;
  resource: string;
  action: string;
  principal: { id: string; kind: string | undefined; org: string | undefined; roles: readonly string[]; groups: readonly string[]; status: string };
  decision: 'allow' | 'deny';
  reason: string;
}

export interface DecisionLog {
  /** Cheap check first, so the entry is only built when it will be written. */
  wants(allowed: boolean): boolean;
  write(entry: DecisionLogEntry): void;
  flush(): void;
}

export function createDecisionLog(cfg: DecisionLogConfig | undefined): DecisionLog | null {
  if (!cfg) return null;
  const log: Logger = pino({ base: null, timestamp: isoTime, messageKey: 'event' }, new LineBatcher(cfg.path === 'stdout' ? 1 : cfg.path));
  return {
    wants: (allowed) => (cfg.include === 'all' || !allowed) && (cfg.sample >= 1 || Math.random() < cfg.sample),
    write: (entry) => log.info(entry, 'decision'),
    flush: () => log.flush(),
  };
}
