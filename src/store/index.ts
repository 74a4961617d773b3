export { MemoryAssignmentStore } from './memory-store.js';
export { loadSeed, seedSchema } from './seed.js';
export type * from './types.js';
