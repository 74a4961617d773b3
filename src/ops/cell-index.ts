export type LabelValue = string | number;

/**
 * Up to four values to the thing made for them, through one Map per value.
 * The values are long-lived strings (route ids, policy names, reason codes)
 * whose hash V8 keeps; a joined key would be a fresh string, flattened and
 * hashed on every call (a microsecond a request over the five request-path
 * metrics). Unused trailing values are ''. Meant for bounded value sets only:
 * nothing is ever evicted.
 */
export class CellIndex<T> {
  private readonly root = new Map<LabelValue, Map<LabelValue, Map<LabelValue, Map<LabelValue, T>>>>();
  constructor(private readonly make: (values: readonly LabelValue[]) => T) {}
  at(a: LabelValue, b: LabelValue = '', c: LabelValue = '', d: LabelValue = ''): T {
    const m3 = level(level(level(this.root, a), b), c);
    let cell = m3.get(d);
    if (cell === undefined) m3.set(d, (cell = this.make([a, b, c, d])));
    return cell;
  }
}

function level<V>(m: Map<LabelValue, Map<LabelValue, V>>, k: LabelValue): Map<LabelValue, V> {
  let next = m.get(k);
  if (next === undefined) m.set(k, (next = new Map()));
  return next;
}
