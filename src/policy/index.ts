export { loadPolicy, policyFiles, type PolicyLoadOptions } from './load-policy.js';
export { decide, conditionHolds, type Decision } from './decide.js';
export type * from './types.js';
