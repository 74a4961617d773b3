import { parseTemplate, templatesOverlap, templateParams, type TemplateSegment } from './template.js';
import { newNode, walk, type TrieNode } from './match-route.js';

export interface RouteSpec {
  id?: string;
  match: string;
  resource?: string;
  action?: string;
  record?: string;
  org?: string;
  user?: string;
  upstream: string;
  public?: boolean;
  websocket?: boolean;
  max_body_bytes?: number;
  list?: { items: string; id?: string; total?: string; max_bytes?: number };
}

/** How a list endpoint's JSON names its records (JSON Pointers), for record-level filtering. */
export interface ListShape { readonly items: readonly string[]; readonly id: string; readonly total: readonly string[] | null; readonly maxBytes: number }

/** One route, ready for the request path: every lookup resolved to an index. */
export interface CompiledRoute {
  readonly id: string;
  readonly template: string;
  readonly public: boolean;
  readonly websocket: boolean;
  readonly upstream: string;
  readonly resource: string;
  /** method -> [action, permission index]; filled for protected routes only. */
  readonly actions: ReadonlyMap<string, readonly [string, number]>;
  readonly recordParam: number;
  readonly orgParam: number;
  readonly userParam: number;
  readonly maxBodyBytes: number;
  readonly list: ListShape | null;
  readonly source: string;
}

export interface RouteMatch { route: CompiledRoute; values: string[] }

export interface RouteTable {
  readonly routes: readonly CompiledRoute[];
  match(method: string, segments: readonly string[]): RouteMatch | null;
}

export interface RouteContext {
  methods: readonly string[];
  /** Known upstream names; null skips the check (policy test suites run without a gateway config). */
  upstreams: ReadonlySet<string> | null;
  /** Permission index of (resource, action), undefined when the action is not declared. */
  permission(resource: string, action: string): number | undefined;
  hasResource(resource: string): boolean;
  /** Report a problem at this route's key. */
  report(index: number, key: string, message: string): void;
  source(index: number): string;
}

const METHOD_ACTION: Readonly<Record<string, string>> = { GET: 'read', HEAD: 'read', POST: 'create', PUT: 'update', PATCH: 'update', DELETE: 'delete' };

export function compileRoutes(specs: readonly RouteSpec[], ctx: RouteContext): RouteTable {
  const roots = new Map<string, TrieNode<CompiledRoute>>();
  const placed: { route: CompiledRoute; methods: Set<string>; template: TemplateSegment[]; index: number }[] = [];

  specs.forEach((spec, index) => {
    const sp = spec.match.indexOf(' ');
    const methodPart = spec.match.slice(0, sp);
    const path = spec.match.slice(sp + 1);
    const template = parseTemplate(path);
    if (typeof template === 'string') return ctx.report(index, 'match', template);
    const declared = methodPart === '*' ? [...ctx.methods] : methodPart.split(',');
    for (const m of declared) if (!ctx.methods.includes(m)) ctx.report(index, 'match', `method ${m} is not in http.methods`);
    const methods = new Set(declared.filter((m) => ctx.methods.includes(m)));
    if (methods.has('GET') && ctx.methods.includes('HEAD')) methods.add('HEAD'); // a GET route answers HEAD, authorized as the GET

    const params = templateParams(template);
    const paramIndex = (key: 'record' | 'org' | 'user'): number => {
      const p = spec[key];
      if (p === undefined) return -1;
      const i = params.indexOf(p);
      if (i < 0) ctx.report(index, key, `parameter "${p}" is not in the template ${path}`);
      return i;
    };
    if (ctx.upstreams && !ctx.upstreams.has(spec.upstream)) ctx.report(index, 'upstream', `unknown upstream "${spec.upstream}"`);

    const actions = new Map<string, readonly [string, number]>();
    if (spec.public) {
      for (const k of ['resource', 'action', 'record', 'org', 'user'] as const) {
        if (spec[k] !== undefined) ctx.report(index, k, 'a public route takes no resource, action or condition params');
      }
    } else if (spec.resource === undefined || spec.action === undefined) {
      ctx.report(index, spec.resource === undefined ? 'resource' : 'action', 'a protected route needs resource and action (or public: true)');
    } else if (!ctx.hasResource(spec.resource)) {
      ctx.report(index, 'resource', `unknown resource "${spec.resource}"`);
    } else {
      for (const m of [...methods]) {
        const action = spec.action === '{method}' ? METHOD_ACTION[m] : spec.action;
        const perm = action === undefined ? undefined : ctx.permission(spec.resource, action);
        if (action !== undefined && perm !== undefined) {
          actions.set(m, [action, perm]);
        } else if (spec.action === '{method}' && methodPart === '*') {
          methods.delete(m); // `*` with {method}: methods whose action the resource lacks stay unmapped (403 no_route)
        } else {
          ctx.report(index, 'action', action === undefined
            ? `{method} has no action for ${m}`
            : `resource "${spec.resource}" has no action "${action}"`);
        }
      }
    }
    const route: CompiledRoute = Object.freeze({
      id: spec.id ?? `${methodPart} ${path}`,
      template: path,
      public: spec.public === true,
      websocket: spec.websocket === true,
      upstream: spec.upstream,
      resource: spec.resource ?? '',
      actions,
      recordParam: paramIndex('record'),
      orgParam: paramIndex('org'),
      userParam: paramIndex('user'),
      maxBodyBytes: spec.max_body_bytes ?? 0,
      list: spec.list ? Object.freeze({
        items: pointer(spec.list.items), id: spec.list.id ?? 'id',
        total: spec.list.total !== undefined ? pointer(spec.list.total) : null, maxBytes: spec.list.max_bytes ?? 10 * 1024 * 1024,
      }) : null,
      source: ctx.source(index),
    });
    for (const other of placed) {
      if (templatesOverlap(other.template, template) && [...methods].some((m) => other.methods.has(m))) {
        ctx.report(index, 'match', `overlaps route "${other.route.id}" at ${other.route.source}: both can match the same request`);
      }
    }
    if (placed.some((p) => p.route.id === route.id)) ctx.report(index, 'id', `duplicate route id "${route.id}"`);
    placed.push({ route, methods, template, index });
    for (const m of methods) insert(roots, m, template, route);
  });

  const routes = placed.map((p) => p.route);
  return Object.freeze({
    routes,
    match(method: string, segments: readonly string[]): RouteMatch | null {
      const root = roots.get(method);
      if (!root) return null;
      const values: string[] = [];
      const route = walk(root, segments, 0, values);
      return route ? { route, values } : null;
    },
  });
}

/** "/data/items" -> ["data", "items"] (RFC 6901 unescaping), split once at load time. */
function pointer(p: string): string[] {
  return p === '' ? [] : p.slice(1).split('/').map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function insert(roots: Map<string, TrieNode<CompiledRoute>>, method: string, template: readonly TemplateSegment[], route: CompiledRoute): void {
  let node = roots.get(method);
  if (!node) roots.set(method, (node = newNode()));
  for (const seg of template) {
    if (seg.kind === 'rest') {
      node.rest ??= route;
      return;
    }
    if (seg.kind === 'param') {
      node = node.param ??= newNode();
    } else {
      node.statics ??= new Map();
      let next = node.statics.get(seg.value);
      if (!next) node.statics.set(seg.value, (next = newNode()));
      node = next;
    }
  }
  node.route ??= route;
}
