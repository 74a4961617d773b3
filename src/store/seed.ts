import { lazyValidator, YamlSource, ajvDiagnostics, LoadError } from '../config/index.js';
import { EMAIL_PATTERN, ID_PATTERN, REF_PATTERN } from './ids.js';
import type { StoreSeed } from './types.js';

const id = { type: 'string', pattern: ID_PATTERN };
const ids = { type: 'array', items: id, uniqueItems: true, default: [] };

export const seedSchema = {
  type: 'object', additionalProperties: false,
  properties: {
    members: {
      type: 'object', propertyNames: id, default: {},
      additionalProperties: {
        type: 'object', additionalProperties: false, required: ['status'],
        properties: {
          status: { enum: ['pending', 'active', 'removed'] },
          roles: ids,
          groups: ids,
          org: id,
          kind: { enum: ['internal', 'partner'] },
          email: { type: 'string', maxLength: 320, pattern: EMAIL_PATTERN },
        },
      },
    },
    relations: {
      type: 'object', default: {},
      propertyNames: { pattern: REF_PATTERN },
      additionalProperties: {
        type: 'object', additionalProperties: false,
        properties: { assignees: ids, collaborators: ids, partner: id },
      },
    },
    partners: {
      type: 'object', propertyNames: id, default: {},
      additionalProperties: {
        type: 'object', additionalProperties: false,
        properties: { groups: ids },
      },
    },
  },
} as const;

const validate = lazyValidator({ allErrors: true, useDefaults: true, strict: true }, seedSchema);

/** Read a store seed (YAML or JSON); throws LoadError naming file:line:key. */
export function loadSeed(file: string): StoreSeed {
  const src = YamlSource.read(file);
  if (src.diagnostics.length === 0) {
    const v = src.value ?? {};
    if (typeof v !== 'object' || Array.isArray(v)) src.error([], 'a store seed must be a mapping with members, relations, partners');
    else if (!validate(v)) ajvDiagnostics(src, validate.errors);
  }
  if (src.diagnostics.length) throw new LoadError(src.diagnostics);
  return (src.value ?? { members: {}, relations: {}, partners: {} }) as StoreSeed;
}
