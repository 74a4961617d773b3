/** Load-time problems (config, policy, seed files): each names file, line and key. */
export interface Diagnostic { file: string; line: number; col: number; key: string; message: string }

export function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.col}: ${d.key ? d.key + ': ' : ''}${d.message}`;
}

export function sortDiagnostics(list: Diagnostic[]): Diagnostic[] {
  return list.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col);
}

/** Thrown when a file cannot be loaded; carries every problem found, sorted. */
export class LoadError extends Error {
  readonly diagnostics: Diagnostic[];
  constructor(diagnostics: Diagnostic[]) {
    const sorted = sortDiagnostics(diagnostics);
    super(sorted.map(formatDiagnostic).join('\n'));
    this.name = 'LoadError';
    this.diagnostics = sorted;
  }
}
