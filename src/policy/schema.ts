/** JSON Schema of one policy file. Several files merge; cross-file checks are semantic (compile-policy.ts). */
const name = { type: 'string', pattern: '^[A-Za-z][A-Za-z0-9_.-]*$' };
const names = { type: 'array', items: name, uniqueItems: true };
export const CONDITIONS = ['own_org', 'self', 'assigned', 'collaborator', 'group'] as const;
const condition = { enum: CONDITIONS };
const grantString = { type: 'string', pattern: '^(\\*|[A-Za-z][A-Za-z0-9_.-]*):(\\*|[A-Za-z][A-Za-z0-9_.-]*(,[A-Za-z][A-Za-z0-9_.-]*)*)$' };

export const policySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    version: { type: 'string' },
    resources: {
      type: 'object', propertyNames: name,
      additionalProperties: {
        type: 'object', additionalProperties: false, required: ['actions'],
        properties: {
          actions: { ...names, minItems: 1 },
          tags: names,
          description: { type: 'string' },
        },
      },
    },
    roles: {
      type: 'object', propertyNames: name,
      additionalProperties: {
        type: 'object', additionalProperties: false,
        properties: {
          description: { type: 'string' },
          builtin: { type: 'boolean' },
          audience: { enum: ['internal', 'partner', 'any'] },
          login: { type: 'boolean' },
          inherits: names,
          grants: {
            type: 'array',
            items: {
              oneOf: [
                grantString,
                {
                  type: 'object', additionalProperties: false, required: ['allow'],
                  properties: {
                    allow: grantString,
                    when: { oneOf: [condition, { type: 'array', minItems: 1, uniqueItems: true, items: condition }] },
                  },
                },
              ],
            },
          },
          except: {
            type: 'object', additionalProperties: false,
            properties: { tags: names, resources: names },
          },
        },
      },
    },
    groups: {
      type: 'object', propertyNames: name,
      additionalProperties: {
        type: 'object', additionalProperties: false,
        properties: { roles: names, description: { type: 'string' } },
      },
    },
    default_roles: {
      type: 'object', additionalProperties: false,
      properties: { internal: names, partner: names },
    },
    routes: {
      type: 'array',
      items: {
        type: 'object', additionalProperties: false, required: ['match', 'upstream'],
        properties: {
          id: { type: 'string', pattern: '^[A-Za-z0-9_.:/-]+$' },
          match: { type: 'string', pattern: '^(\\*|[A-Z]+(,[A-Z]+)*) /\\S*$' },
          resource: name,
          action: { oneOf: [name, { const: '{method}' }] },
          record: name,
          org: name,
          user: name,
          upstream: name,
          public: { type: 'boolean' },
          websocket: { type: 'boolean' },
          max_body_bytes: { type: 'integer', minimum: 0 },
          list: {
            type: 'object', additionalProperties: false, required: ['items'],
            properties: {
              items: { type: 'string', pattern: '^(/([^~/]|~[01])*)*$' },
              id: { type: 'string', minLength: 1 },
              total: { type: 'string', pattern: '^(/([^~/]|~[01])*)+$' },
              max_bytes: { type: 'integer', minimum: 1024 },
            },
          },
        },
      },
    },
  },
} as const;
