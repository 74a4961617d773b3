/** The one place the CLI writes to the terminal (the gateway itself logs through pino). */
export function out(text: string): void { process.stdout.write(text.endsWith('\n') ? text : text + '\n'); }
export function err(text: string): void { process.stderr.write(text.endsWith('\n') ? text : text + '\n'); }

export class UsageError extends Error {}
