export { loadConfig } from './load-config.js';
export { LoadError, formatDiagnostic, type Diagnostic } from './diagnostics.js';
export { YamlSource, ajvDiagnostics, type KeyPath } from './yaml-source.js';
export type * from './types.js';
export { lazyValidator, type LazyValidator } from './lazy-validator.js';
