/** The validated, frozen gateway configuration. Paths are absolute (resolved against the config file's folder). */
export interface ListenConfig { host: string; port: number }

export interface UpstreamConfig {
  url: string;
  timeout_ms: number;
  connect_timeout_ms: number;
  connections: number;
  /** Set when the upstream ignores a `_method` query parameter, so it may pass. */
  ignores_method_override: boolean;
}

export interface ClaimNames { subject: string; org: string; kind: string; roles: string; groups: string; email: string }

export interface JwtConfig {
  issuer: string;
  audience: string | string[];
  algorithms: string[];
  jwks_url?: string;
  jwks_file?: string;
  public_key_file?: string;
  secret_env?: string;
  discovery: boolean;
  /** Accepted `typ` header values; empty list accepts any (including none). */
  typ: string[];
  clock_tolerance_s: number;
  max_token_bytes: number;
  jwks_cache_ttl_s: number;
  jwks_refetch_interval_s: number;
  jwks_timeout_ms: number;
  token_cache: { max_entries: number };
  claims: ClaimNames;
}

export interface AuthConfig { jwt: JwtConfig; cookie?: string }

export interface PolicyConfig {
  paths: string[];
  watch: boolean;
  /** A candidate policy evaluated beside the live one; it never changes a decision. */
  shadow?: { paths: string[]; log_per_second: number };
}

export interface RedisConfig {
  url?: string;
  prefix: string;
  /** Sentinel form: `host:port` list plus the master `name`. */
  sentinels?: string[];
  name?: string;
  /** Cluster form: seed node URLs. */
  cluster?: string[];
  password_env?: string;
  connect_timeout_ms: number;
  command_timeout_ms: number;
}

export interface StoreConfig {
  seed?: string;
  redis?: RedisConfig;
  cache: { max_entries: number; ttl_ms: number };
  /** Serve a cached entry this long past its TTL when Redis is down (0: fail closed at once). */
  stale_if_error_ms: number;
}

export interface HeadersConfig {
  prefix: string;
  forward_authorization: boolean;
  /** Extra client headers to drop before forwarding. */
  strip: string[];
}

export interface LimitsConfig {
  max_header_bytes: number;
  headers_timeout_ms: number;
  request_timeout_ms: number;
  keep_alive_timeout_ms: number;
  max_connections: number;
  max_body_bytes: number;
  max_path_bytes: number;
  shutdown_grace_ms: number;
}

export interface HttpConfig {
  methods: string[];
  /** `reject` answers 400 on `/a//b`; `collapse` forwards `/a/b`. */
  empty_segments: 'reject' | 'collapse';
  /** Allow `;` in path segments (forwarded verbatim). Default false. */
  allow_semicolon: boolean;
  trust_proxy: boolean;
}

export interface DecisionLogConfig {
  /** `stdout` or a file path (appended). */
  path: string;
  include: 'all' | 'deny';
  /** Fraction of matching decisions written (1 = every one). */
  sample: number;
}

export interface LogConfig { level: string; decisions: boolean; decision_log?: DecisionLogConfig }

/** The admin API's own listener (off unless configured). */
export interface AdminConfig extends ListenConfig {
  /** How long an invitation stays acceptable unless the invite says otherwise. */
  invite_ttl_s: number;
  max_body_bytes: number;
  /** Audit log bound: older entries are trimmed. */
  audit_max_entries: number;
}

export interface Config {
  file: string;
  dir: string;
  listen: ListenConfig;
  ops: ListenConfig;
  admin?: AdminConfig;
  upstreams: Record<string, UpstreamConfig>;
  auth: AuthConfig;
  policy: PolicyConfig;
  store: StoreConfig;
  headers: HeadersConfig;
  limits: LimitsConfig;
  http: HttpConfig;
  log: LogConfig;
}
