import { lazyValidator, type LazyValidator } from '../config/index.js';
import { GatewayError } from '../errors.js';
import { policySchema } from '../policy/index.js';
import { EMAIL_PATTERN, ID_PATTERN, KINDS } from '../store/index.js';

/** JSON Schemas of admin API bodies (docs/admin-api.md), compiled once. */

const id = { type: 'string', pattern: ID_PATTERN };
const ids = (max: number) => ({ type: 'array', items: id, uniqueItems: true, maxItems: max });
const roleName = { type: 'string', pattern: '^[A-Za-z][A-Za-z0-9_.-]*$', maxLength: 64 };
const roleNames = { type: 'array', items: roleName, uniqueItems: true, maxItems: 50 };
/** Custom role names: no "." so a problem's key path names its role unambiguously. */
const customRoleName = { type: 'string', pattern: '^[A-Za-z][A-Za-z0-9_-]*$', maxLength: 64 };

const { builtin: _builtin, ...roleProperties } = policySchema.properties.roles.additionalProperties.properties;
const roleBody = { ...policySchema.properties.roles.additionalProperties, properties: roleProperties };

const memberFields = {
  roles: roleNames,
  groups: ids(100),
  represents: ids(100),
  org: { type: 'string', anyOf: [{ const: '' }, { pattern: ID_PATTERN }] },
  kind: { enum: [...KINDS, ''] },
  email: { type: 'string', maxLength: 320, pattern: EMAIL_PATTERN },
};

export const schemas = {
  invite: {
    type: 'object', additionalProperties: false, required: ['email', 'roles'],
    properties: {
      ...memberFields,
      email: { type: 'string', maxLength: 320, pattern: EMAIL_PATTERN },
      id,
      kind: { enum: KINDS },
      org: id,
      expires_in_s: { type: 'integer', minimum: 60, maximum: 90 * 24 * 3600 },
    },
  },
  // status: reactivate a removed member or remove one (an invitation is the only way to `pending`)
  memberPatch: { type: 'object', additionalProperties: false, minProperties: 1, properties: { ...memberFields, status: { enum: ['active', 'removed'] } } },
  bulk: {
    type: 'object', additionalProperties: false, required: ['action', 'ids'],
    properties: {
      action: { enum: ['set_roles', 'add_roles', 'remove_roles', 'remove'] },
      ids: { ...ids(500), minItems: 1 },
      roles: roleNames,
    },
    if: { properties: { action: { const: 'remove' } } },
    then: { properties: { roles: false } },
    else: { required: ['roles'] },
  },
  roleCreate: { ...roleBody, required: ['name'], properties: { ...roleProperties, name: customRoleName } },
  roleUpdate: roleBody,
  clone: { type: 'object', additionalProperties: false, required: ['name'], properties: { name: customRoleName, description: { type: 'string', maxLength: 500 } } },
  defaultRoles: {
    type: 'object', additionalProperties: false, minProperties: 1,
    properties: { internal: { oneOf: [roleNames, { type: 'null' }] }, partner: { oneOf: [roleNames, { type: 'null' }] } },
  },
  relations: {
    type: 'object', additionalProperties: false, minProperties: 1,
    properties: { assignees: ids(1000), collaborators: ids(1000), partner: { type: 'string', anyOf: [{ const: '' }, { pattern: ID_PATTERN }] } },
  },
} as const;


const compiled = new Map<keyof typeof schemas, LazyValidator>(
  (Object.keys(schemas) as (keyof typeof schemas)[]).map((k) => [k, lazyValidator({ allErrors: false, strict: true, allowUnionTypes: true }, schemas[k])]),
);

/** The body as T, or GatewayError('invalid_body') naming the failing field as a JSON pointer. */
export function validBody<T>(schema: keyof typeof schemas, body: unknown): T {
  const validate = compiled.get(schema)!;
  if (validate(body)) return body as T;
  const e = validate.errors![0]!;
  const params = e.params as Record<string, unknown>;
  const field = e.keyword === 'additionalProperties' ? `${e.instancePath}/${String(params.additionalProperty)}`
    : e.keyword === 'required' ? `${e.instancePath}/${String(params.missingProperty)}` : e.instancePath || '/';
  const what = e.keyword === 'additionalProperties' ? 'unknown field' : e.keyword === 'required' ? 'is required' : e.message ?? e.keyword;
  throw new GatewayError('invalid_body', `${field}: ${what}`, { field });
}
