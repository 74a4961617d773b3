export { loadPolicy, policyFiles, TEST_SUITE, type PolicyLoadOptions } from './load-policy.js';
export { runSuite, coverage, type SuiteResult, type CaseFailure } from './test-suite.js';
export { decide, conditionHolds, type Decision, type DecideTracer, type RoleVia, type RoleOutcome } from './decide.js';
export type * from './types.js';
export { resolveTarget, type FactSource, type ResolvedTarget } from './resolve-target.js';
export { buildRecordFilter, type RecordSetSource, type RecordRelation } from './record-filter.js';
export {
  explainRequest, explainRefusal, explainPrincipal, judgeAccess, rolesHolding, conditionWhy, routeParams, ALL_METHODS,
  type Explanation, type ExplainOptions, type RoleTrace, type AlternativeTrace, type ConditionTrace, type PrincipalView,
  type PrincipalSources, type MemberFacts, type AccessQuery, type AccessVerdict, type Access, type RoleRef,
} from './explain.js';
export { policySchema } from './schema.js';
export { suiteSchema } from './test-suite.js';
export { diffPolicies, compareGrants, normalizeGrant, routeView, type PolicyDiff, type Grant, type RoleChange, type RightChange, type AttributeChange, type MappingChange, type RouteChange, type RouteView, type MemberChange, type MemberRight } from './diff.js';
export { parseDecisionRecord, readDecisionLog, decisionRecordSchema, DecisionRecordError, type DecisionRecord, type DecisionPrincipal } from './decision-record.js';
export { assemblePrincipal, HEADER_SAFE, type PrincipalClaimNames } from './principal.js';
export { readPolicySources, compileSources, checkPolicyDocument, type PolicySources } from './load-policy.js';
export { compileWithOverlay, describeRejection, overlayKey, OVERLAY_FILE, type RejectedRole, type OverlayCompilation } from './overlay.js';
export { consideredRoles, heldPermissions, covers, firstUncovered, isOwnerRole, roleMatrix, flattenGrants, accessOf, type MatrixRow, type MatrixCell } from './permissions.js';
export type { PolicyDocument } from './compile-policy.js';
