import { Ajv, type AnySchema, type ErrorObject, type Options, type ValidateFunction } from 'ajv';

/** An ajv validator that compiles its schema on first use, with the compiled function's `errors`. */
export interface LazyValidator {
  (data: unknown): boolean;
  readonly errors: ErrorObject[] | null | undefined;
}

/**
 * Compiling a schema costs tens of milliseconds; at import time every CLI
 * command would pay for every schema (about 0.3 s), whether it reads that kind
 * of file or not. Compiled once, on the first call.
 */
export function lazyValidator(options: Options, schema: AnySchema): LazyValidator {
  let compiled: ValidateFunction | undefined;
  // schemas here have no async keywords, so the result is a boolean
  const check = (data: unknown): boolean => (compiled ??= new Ajv(options).compile(schema))(data) as boolean;
  Object.defineProperty(check, 'errors', { get: () => compiled?.errors });
  return check as LazyValidator;
}
