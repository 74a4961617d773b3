/** JSON Schema of gateway.yaml. ajv fills the defaults, so the rest of the code sees a complete Config. */
const listen = (port: number) => ({
  type: 'object', additionalProperties: false, default: {},
  properties: {
    host: { type: 'string', minLength: 1, default: '127.0.0.1' },
    port: { type: 'integer', minimum: 0, maximum: 65535, default: port },
  },
});

const positive = (dflt: number, min = 1) => ({ type: 'integer', minimum: min, default: dflt });

export const configSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['upstreams', 'auth', 'policy'],
  properties: {
    listen: listen(8080),
    ops: listen(9090),
    admin: {
      type: 'object', additionalProperties: false, required: ['port'],
      properties: {
        ...listen(9091).properties,
        invite_ttl_s: positive(7 * 24 * 3600, 60),
        max_body_bytes: positive(64 * 1024, 1024),
        audit_max_entries: positive(10000, 100),
      },
    },
    upstreams: {
      type: 'object', minProperties: 1,
      propertyNames: { pattern: '^[A-Za-z0-9_-]+$' },
      additionalProperties: {
        type: 'object', additionalProperties: false, required: ['url'],
        properties: {
          url: { type: 'string', pattern: '^https?://[^/?#]+/?$' },
          timeout_ms: positive(30000),
          connect_timeout_ms: positive(5000),
          connections: positive(64),
          ignores_method_override: { type: 'boolean', default: false },
        },
      },
    },
    auth: {
      type: 'object', additionalProperties: false, required: ['jwt'],
      properties: {
        cookie: { type: 'string', pattern: '^[!#$%&\'*+.^_`|~0-9A-Za-z-]+$' },
        jwt: {
          type: 'object', additionalProperties: false, required: ['issuer', 'audience', 'algorithms'],
          properties: {
            issuer: { type: 'string', minLength: 1 },
            audience: { oneOf: [{ type: 'string', minLength: 1 }, { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } }] },
            algorithms: {
              type: 'array', minItems: 1, uniqueItems: true,
              items: { enum: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519', 'HS256', 'HS384', 'HS512'] },
            },
            jwks_url: { type: 'string', pattern: '^https?://' },
            jwks_file: { type: 'string', minLength: 1 },
            public_key_file: { type: 'string', minLength: 1 },
            secret_env: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
            discovery: { type: 'boolean', default: false },
            typ: { type: 'array', items: { type: 'string', minLength: 1 }, default: [] },
            clock_tolerance_s: { type: 'integer', minimum: 0, maximum: 600, default: 30 },
            max_token_bytes: positive(8192, 256),
            jwks_cache_ttl_s: positive(600),
            jwks_refetch_interval_s: positive(30),
            jwks_timeout_ms: positive(5000),
            token_cache: {
              type: 'object', additionalProperties: false, default: {},
              properties: { max_entries: { type: 'integer', minimum: 0, default: 10000 } },
            },
            claims: {
              type: 'object', additionalProperties: false, default: {},
              properties: {
                subject: { type: 'string', minLength: 1, default: 'sub' },
                org: { type: 'string', minLength: 1, default: 'org_id' },
                kind: { type: 'string', minLength: 1, default: 'kind' },
                roles: { type: 'string', minLength: 1, default: 'roles' },
                groups: { type: 'string', minLength: 1, default: 'groups' },
                email: { type: 'string', minLength: 1, default: 'email' },
              },
            },
          },
        },
      },
    },
    policy: {
      type: 'object', additionalProperties: false, required: ['paths'],
      properties: {
        paths: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
        watch: { type: 'boolean', default: false },
        shadow: {
          type: 'object', additionalProperties: false, required: ['paths'],
          properties: {
            paths: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
            log_per_second: { type: 'integer', minimum: 0, default: 10 },
          },
        },
      },
    },
    store: {
      type: 'object', additionalProperties: false, default: {},
      properties: {
        seed: { type: 'string', minLength: 1 },
        redis: {
          type: 'object', additionalProperties: false,
          properties: {
            url: { type: 'string', pattern: '^rediss?://' },
            prefix: { type: 'string', pattern: '^[A-Za-z0-9_.:-]*$', default: 'rolegate:' },
            sentinels: { type: 'array', minItems: 1, items: { type: 'string', pattern: '^[^:]+:\\d+$' } },
            name: { type: 'string', minLength: 1 },
            cluster: { type: 'array', minItems: 1, items: { type: 'string', pattern: '^rediss?://' } },
            password_env: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
            connect_timeout_ms: positive(2000),
            command_timeout_ms: positive(500),
          },
        },
        cache: {
          type: 'object', additionalProperties: false, default: {},
          properties: { max_entries: { type: 'integer', minimum: 0, default: 100000 }, ttl_ms: positive(30000) },
        },
        stale_if_error_ms: { type: 'integer', minimum: 0, default: 0 },
      },
    },
    headers: {
      type: 'object', additionalProperties: false, default: {},
      properties: {
        prefix: { type: 'string', pattern: '^[a-z0-9]+(?:[-_][a-z0-9]+)*[-_]$', default: 'x-rolegate-' },
        forward_authorization: { type: 'boolean', default: true },
        strip: { type: 'array', items: { type: 'string', pattern: '^[!#$%&\'*+.^_`|~0-9A-Za-z-]+$' }, default: [] },
      },
    },
    limits: {
      type: 'object', additionalProperties: false, default: {},
      properties: {
        max_header_bytes: positive(16384, 1024),
        headers_timeout_ms: positive(10000),
        request_timeout_ms: positive(300000),
        keep_alive_timeout_ms: positive(5000),
        max_connections: { type: 'integer', minimum: 0, default: 10000 },
        max_body_bytes: { type: 'integer', minimum: 0, default: 0 },
        max_path_bytes: positive(4096, 64),
        shutdown_grace_ms: positive(10000),
      },
    },
    http: {
      type: 'object', additionalProperties: false, default: {},
      properties: {
        methods: {
          type: 'array', minItems: 1, uniqueItems: true,
          items: { enum: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] },
          default: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
        },
        empty_segments: { enum: ['reject', 'collapse'], default: 'reject' },
        allow_semicolon: { type: 'boolean', default: false },
        trust_proxy: { type: 'boolean', default: false },
      },
    },
    log: {
      type: 'object', additionalProperties: false, default: {},
      properties: {
        level: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info' },
        decisions: { type: 'boolean', default: true },
        decision_log: {
          type: 'object', additionalProperties: false, required: ['path'],
          properties: {
            path: { type: 'string', minLength: 1 },
            include: { enum: ['all', 'deny'], default: 'all' },
            sample: { type: 'number', exclusiveMinimum: 0, maximum: 1, default: 1 },
          },
        },
      },
    },
  },
} as const;
