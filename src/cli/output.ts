/** The one place the CLI writes to the terminal (the gateway itself logs through pino). */
export function out(text: string): void { process.stdout.write(text.endsWith('\n') ? text : text + '\n'); }
export function err(text: string): void { process.stderr.write(text.endsWith('\n') ? text : text + '\n'); }

export class UsageError extends Error {}

/** Rows as aligned columns (the first row is the header). */
export function formatTable(cells: readonly (readonly string[])[]): string {
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  return cells.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}
