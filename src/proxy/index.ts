export { buildUpstreamPools, closeUpstreamPools, type Upstream } from './upstream-pools.js';
export { compileHeaderHygiene, type HeaderHygiene, type Identity, type ConnectionFacts } from './header-hygiene.js';
export { forward } from './forward.js';
export { classifyUpstreamError, type UpstreamFailure } from './upstream-errors.js';
export { createWebSocketTunnel } from './websocket.js';
export { forwardFiltered, type RecordVisible } from './filter-list.js';
