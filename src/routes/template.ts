/** A route template `/api/deals/:dealId` or `/settings/**`, split once at load time. */
export type TemplateSegment =
  | { kind: 'static'; value: string }
  | { kind: 'param'; name: string }
  | { kind: 'rest' };

const PARAM = /^:([A-Za-z][A-Za-z0-9_]*)$/;

/** Parse a template; returns an error message instead of throwing so the caller can attach file:line. */
export function parseTemplate(path: string): TemplateSegment[] | string {
  if (!path.startsWith('/')) return 'path must start with "/"';
  const parts = path.split('/').slice(1);
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop(); // one trailing slash is ignored, as in matching
  if (parts.length === 1 && parts[0] === '') return [];
  const out: TemplateSegment[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    if (p === '') return 'empty segment ("//")';
    if (p === '**') {
      if (i !== parts.length - 1) return '"**" may only be the last segment';
      out.push({ kind: 'rest' });
    } else if (p.startsWith(':')) {
      const m = PARAM.exec(p);
      if (!m) return `bad parameter "${p}"`;
      if (seen.has(m[1]!)) return `parameter "${p}" appears twice`;
      seen.add(m[1]!);
      out.push({ kind: 'param', name: m[1]! });
    } else {
      if (p === '.' || p === '..' || p.includes('*') || p.includes('%') || p.includes(';')) return `segment "${p}" can never match a canonical path`;
      out.push({ kind: 'static', value: p });
    }
  }
  return out;
}

/** True when some canonical path matches both templates. */
export function templatesOverlap(a: readonly TemplateSegment[], b: readonly TemplateSegment[]): boolean {
  for (let i = 0; ; i++) {
    const x = a[i];
    const y = b[i];
    if (x === undefined || y === undefined) {
      // one template ended: overlap only if the other ends too or continues with a rest (which matches zero segments)
      const rest = x ?? y;
      return rest === undefined || (rest.kind === 'rest');
    }
    if (x.kind === 'rest' || y.kind === 'rest') return true;
    if (x.kind === 'static' && y.kind === 'static' && x.value !== y.value) return false;
  }
}

export function templateParams(t: readonly TemplateSegment[]): string[] {
  return t.flatMap((s) => (s.kind === 'param' ? [s.name] : []));
}
