export { GatewayMetrics } from './metrics.js';
export { createLogger, type Logger } from './logger.js';
export { createOpsServer, type ReadinessCheck } from './ops-server.js';
