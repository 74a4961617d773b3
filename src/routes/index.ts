export { canonicalPath, hasMethodOverrideParam, type CanonicalTarget, type CanonicalOptions } from './canonical-path.js';
export { compileRoutes, type RouteSpec, type CompiledRoute, type RouteMatch, type RouteTable, type RouteContext, type ListShape } from './compile-routes.js';
