/**
 * Segment trie per method, built once by compileRoutes. Matching walks the
 * canonical segments: static child first, then the parameter child, then a
 * trailing `**`. Overlapping routes are refused at load time, so the order only
 * matters for speed, never for which route wins.
 */
export interface TrieNode<R> {
  statics: Map<string, TrieNode<R>> | null;
  param: TrieNode<R> | null;
  route: R | null;
  rest: R | null;
}

export function newNode<R>(): TrieNode<R> {
  return { statics: null, param: null, route: null, rest: null };
}

/** Returns the route and fills `values` with the parameter values in template order. */
export function walk<R>(node: TrieNode<R>, segments: readonly string[], i: number, values: string[]): R | null {
  if (i === segments.length) return node.route ?? node.rest;
  const seg = segments[i]!;
  const next = node.statics?.get(seg);
  if (next) {
    const r = walk(next, segments, i + 1, values);
    if (r) return r;
  }
  if (node.param && seg !== '') {
    const n = values.length;
    values.push(seg);
    const r = walk(node.param, segments, i + 1, values);
    if (r) return r;
    values.length = n;
  }
  return node.rest;
}
