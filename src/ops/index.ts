export { GatewayMetrics } from './metrics.js';
export { createLogger, type Logger } from './logger.js';
export { createOpsServer, type ReadinessCheck } from './ops-server.js';
export { createDecisionLog, type DecisionLog, type DecisionLogEntry } from './decision-log.js';
