import type { RedisClient } from './redis-connection.js';
import type { KeyModel } from './redis-keys.js';

/**
 * Every write rolegate makes goes through this one script, so a member, its
 * indexes, both directions of a relation, the version counter and the
 * invalidation message change together or not at all (a script runs without
 * interleaving). Key names mirror redis-keys.ts; the key-model test checks them.
 *
 * KEYS[1] version counter (declared so Cluster routes the script to the tag's slot;
 *         every other key shares that tag, hence that slot)
 * ARGV[1] key base `{prefix}`  ARGV[2] invalidation channel  ARGV[3] write time (Unix ms)
 * ARGV[4] JSON list of ops; each op: k = member | relations | relations_delete | partner | partner_delete
 *         | role | role_delete | default_roles
 * ARGV[5] optional JSON ScriptCommit (the admin API): idempotency key, expectations, audit entries.
 * Order: a stored idempotent response is returned as is; then every expectation is checked; then every
 * op validated; only then is anything written. So a replay, a conflict or a bad op writes nothing.
 * Returns { 'ok', version, outcome per op } with outcome added | changed | unchanged | removed | missing,
 * { 'conflict', index of the first failed expectation (1-based) } or { 'replay', stored response }.
 * Publishes { t, v, keys } only when something changed, so a no-op import is silent. Custom-role and
 * default-role changes publish the keys `roles` / `settings`: every instance recompiles its policy.
 * Numbers that may be large (times, TTLs, the audit bound) arrive as strings: Lua would print them as 1.7e+12.
 */
export const APPLY_SCRIPT = `
local P, channel, now = ARGV[1], ARGV[2], ARGV[3]
local ops = cjson.decode(ARGV[4])
local commit = {}
if ARGV[5] then commit = cjson.decode(ARGV[5]) end
local out = { 'ok', '' }
local touched, seen = {}, {}
local FIELDS = { 'status', 'roles', 'groups', 'org', 'kind', 'email' }
local INVITE = { 'inv_exp', 'inv_sent', 'inv_by', 'inv_sends' }
-- admin bookkeeping: an import's replace keeps them (the seed format has none of them)
local ADMIN_FIELDS = { 'represents', unpack(INVITE) }
local LIST_FIELDS = { roles = true, groups = true, represents = true }
local STATUS = { pending = true, active = true, removed = true }
local KIND = { internal = true, partner = true }
local PARTS = { { 'assignees', 'assigned' }, { 'collaborators', 'collaborates' } }

local function str(v)
  if v == nil or v == cjson.null then return nil end
  if type(v) == 'table' then return table.concat(v, ',') end
  return v
end

local function touch(k)
  if not seen[k] then seen[k] = true; touched[#touched + 1] = k end
end

local function list(s)
  local t = {}
  if s then for x in string.gmatch(s, '[^,]+') do t[#t + 1] = x end end
  return t
end

local function minus(a, b)
  local seen, r = {}, {}
  for _, x in ipairs(b) do seen[x] = true end
  for _, x in ipairs(a) do if not seen[x] then r[#r + 1] = x end end
  return r
end

local function replaceSet(key, want, onAdd, onRemove)
  local have = redis.call('SMEMBERS', key)
  local add, del = minus(want, have), minus(have, want)
  for _, x in ipairs(del) do redis.call('SREM', key, x); if onRemove then onRemove(x) end end
  for _, x in ipairs(add) do redis.call('SADD', key, x); if onAdd then onAdd(x) end end
  return #add + #del > 0
end

local function member(op)
  local key = P .. 'member:' .. op.id
  local flat = redis.call('HGETALL', key)
  local old = {}
  for i = 1, #flat, 2 do old[flat[i]] = flat[i + 1] end
  if old.status == nil and op.must_exist then return 'missing' end
  local new = {}
  for _, f in ipairs(FIELDS) do
    local v = str(op[f])
    if v == nil and not op.replace then v = old[f] end
    new[f] = v or ''
  end
  if new.status == '' then new.status = 'active' end
  new.represents = str(op.represents) or old.represents or ''
  for _, f in ipairs(INVITE) do
    if op.invite == cjson.null then new[f] = ''
    elseif op.invite then new[f] = op.invite[f]
    else new[f] = old[f] or '' end
  end
  local changed = old.status == nil
  for _, f in ipairs(FIELDS) do if (old[f] or '') ~= new[f] then changed = true end end
  for _, f in ipairs(ADMIN_FIELDS) do if (old[f] or '') ~= new[f] then changed = true end end
  if not changed then return 'unchanged' end
  -- a member written before revisions existed counts as rev 1 (it exists; 0 means "does not")
  local rev = 1
  if old.status then rev = (tonumber(old.rev) or 1) + 1 end
  local set = { 'updated', now, 'rev', rev }
  if old.status == nil then set[#set + 1] = 'created'; set[#set + 1] = now end
  local function put(f)
    if new[f] ~= '' or LIST_FIELDS[f] then set[#set + 1] = f; set[#set + 1] = new[f]
    elseif old[f] then redis.call('HDEL', key, f) end
  end
  for _, f in ipairs(FIELDS) do put(f) end
  for _, f in ipairs(ADMIN_FIELDS) do put(f) end
  redis.call('HSET', key, unpack(set))
  redis.call('SADD', P .. 'members', op.id)
  if old.status ~= new.status then
    if old.status then redis.call('SREM', P .. 'idx:status:' .. old.status, op.id) end
    redis.call('SADD', P .. 'idx:status:' .. new.status, op.id)
  end
  local before, after = list(old.roles), list(new.roles)
  for _, r in ipairs(minus(before, after)) do redis.call('SREM', P .. 'idx:role:' .. r, op.id) end
  for _, r in ipairs(minus(after, before)) do redis.call('SADD', P .. 'idx:role:' .. r, op.id) end
  touch('member:' .. op.id)
  if old.status == nil then return 'added' end
  return 'changed'
end

local function relations(op)
  local ref = op.resource .. '/' .. op.rid
  local base = P .. 'rel:' .. ref
  local exists = redis.call('SISMEMBER', P .. 'relations', ref) == 1
  local changed = not exists
  for _, part in ipairs(PARTS) do
    local want = op[part[1]]
    if want == cjson.null then want = nil end
    if want == nil and op.replace then want = {} end
    if want then
      local function rev(u) return P .. 'user:' .. u .. ':' .. part[2] .. ':' .. op.resource end
      local moved = replaceSet(base .. ':' .. part[1], want,
        function(u) redis.call('SADD', rev(u), op.rid) end,
        function(u) redis.call('SREM', rev(u), op.rid) end)
      if moved then changed = true end
    end
  end
  local partner = str(op.partner)
  if partner == nil and op.replace then partner = '' end
  if partner ~= nil then
    local cur = redis.call('GET', base .. ':partner') or ''
    if cur ~= partner then
      changed = true
      if partner == '' then redis.call('DEL', base .. ':partner') else redis.call('SET', base .. ':partner', partner) end
    end
  end
  if not changed then return 'unchanged' end
  redis.call('SADD', P .. 'relations', ref)
  touch('relations:' .. ref)
  if exists then return 'changed' end
  return 'added'
end

local function dropRelations(op)
  local ref = op.resource .. '/' .. op.rid
  if redis.call('SREM', P .. 'relations', ref) == 0 then return 'unchanged' end
  local base = P .. 'rel:' .. ref
  for _, part in ipairs(PARTS) do
    for _, u in ipairs(redis.call('SMEMBERS', base .. ':' .. part[1])) do
      redis.call('SREM', P .. 'user:' .. u .. ':' .. part[2] .. ':' .. op.resource, op.rid)
    end
    redis.call('DEL', base .. ':' .. part[1])
  end
  redis.call('DEL', base .. ':partner')
  touch('relations:' .. ref)
  return 'removed'
end

local function partner(op)
  local exists = redis.call('SISMEMBER', P .. 'partners', op.id) == 1
  local moved = replaceSet(P .. 'partner:' .. op.id .. ':groups', op.groups)
  if exists and not moved then return 'unchanged' end
  redis.call('SADD', P .. 'partners', op.id)
  touch('partner:' .. op.id)
  if exists then return 'changed' end
  return 'added'
end

local function dropPartner(op)
  if redis.call('SREM', P .. 'partners', op.id) == 0 then return 'unchanged' end
  redis.call('DEL', P .. 'partner:' .. op.id .. ':groups')
  touch('partner:' .. op.id)
  return 'removed'
end

-- custom roles: name -> {"rev","created_ms","updated_ms","updated_by","body"}, body last and as sent
-- (canonical JSON), so an unchanged body is found by comparing text: the first '"body":' is ours,
-- since a quote inside updated_by is escaped
local function role(op)
  local key = P .. 'roles'
  local old = redis.call('HGET', key, op.name)
  local rev, created = 1, now
  if old then
    if string.sub(old, string.find(old, '"body":', 1, true) + 7, -2) == op.body then return 'unchanged' end
    local was = cjson.decode(old)
    rev, created = was.rev + 1, string.format('%.0f', was.created_ms)
  end
  redis.call('HSET', key, op.name, '{"rev":' .. rev .. ',"created_ms":' .. created .. ',"updated_ms":' .. now
    .. ',"updated_by":' .. cjson.encode(op.by) .. ',"body":' .. op.body .. '}')
  touch('roles')
  if old then return 'changed' end
  return 'added'
end

local function dropRole(op)
  if redis.call('HDEL', P .. 'roles', op.name) == 0 then return 'unchanged' end
  touch('roles')
  return 'removed'
end

-- default-role override: canonical JSON in settings.default_roles, absent when null
local function defaultRoles(op)
  local key = P .. 'settings'
  local old = redis.call('HGET', key, 'default_roles') or ''
  local new = str(op.value) or ''
  if old == new then return 'unchanged' end
  if new == '' then redis.call('HDEL', key, 'default_roles') else redis.call('HSET', key, 'default_roles', new) end
  redis.call('HINCRBY', key, 'rev', 1)
  touch('settings')
  return 'changed'
end

local HANDLERS = {
  member = member, relations = relations, relations_delete = dropRelations, partner = partner, partner_delete = dropPartner,
  role = role, role_delete = dropRole, default_roles = defaultRoles,
}

-- the revision an expectation names, as stored now (0: does not exist / never set)
local function current(e)
  if e.k == 'member' then
    local h = redis.call('HMGET', P .. 'member:' .. e.name, 'status', 'rev')
    if not h[1] then return 0 end
    return tonumber(h[2]) or 1
  elseif e.k == 'role' then
    local r = redis.call('HGET', P .. 'roles', e.name)
    if not r then return 0 end
    return cjson.decode(r).rev
  elseif e.k == 'settings' then
    return tonumber(redis.call('HGET', P .. 'settings', 'rev') or '0')
  end
  return tonumber(redis.call('GET', KEYS[1]) or '0')
end

if commit.idem then
  local kept = redis.call('GET', P .. 'idem:' .. commit.idem.key)
  if kept then return { 'replay', kept } end
end
for i, e in ipairs(commit.expect or {}) do
  if current(e) ~= e.n then return { 'conflict', tostring(i) } end
end

-- validate every op before writing any: a script error does not roll back earlier writes
for i, op in ipairs(ops) do
  if HANDLERS[op.k] == nil then return redis.error_reply('op ' .. i .. ': unknown kind') end
  if op.k == 'member' then
    local s, k = str(op.status), str(op.kind)
    if s ~= nil and s ~= '' and not STATUS[s] then return redis.error_reply('op ' .. i .. ': bad status') end
    if k ~= nil and k ~= '' and not KIND[k] then return redis.error_reply('op ' .. i .. ': bad kind') end
  end
  if op.k == 'role' and type(op.body) ~= 'string' then return redis.error_reply('op ' .. i .. ': role body must be JSON text') end
end

for i, op in ipairs(ops) do out[i + 2] = HANDLERS[op.k](op) end

local version
if #touched > 0 then
  version = redis.call('INCR', KEYS[1])
  -- a huge import tells instances to flush rather than send a huge message
  local keys = 'null'
  if #touched <= 1000 then keys = cjson.encode(touched) end
  redis.call('PUBLISH', channel, '{"t":' .. now .. ',"v":' .. version .. ',"keys":' .. keys .. '}')
else
  version = tonumber(redis.call('GET', KEYS[1]) or '0')
end
out[2] = tostring(version)

for _, fields in ipairs(commit.audit or {}) do
  redis.call('XADD', P .. 'audit', 'MAXLEN', '~', commit.audit_max, '*', 'at', now, unpack(fields))
end
if commit.idem then
  redis.call('SET', P .. 'idem:' .. commit.idem.key, commit.idem.response, 'PX', commit.idem.ttl_ms)
end
return out
`;

/** Invite fields as the member hash stores them (numbers as decimal strings). */
export interface InviteFields { inv_exp: string; inv_sent: string; inv_by: string; inv_sends: string }

export type ApplyOp =
  | {
    k: 'member'; id: string; replace?: boolean; must_exist?: boolean; status?: string; roles?: readonly string[]; groups?: readonly string[];
    org?: string; kind?: string; email?: string; represents?: readonly string[]; invite?: InviteFields | null;
  }
  | { k: 'relations'; resource: string; rid: string; replace?: boolean; assignees?: readonly string[]; collaborators?: readonly string[]; partner?: string }
  | { k: 'relations_delete'; resource: string; rid: string }
  | { k: 'partner'; id: string; groups: readonly string[] }
  | { k: 'partner_delete'; id: string }
  /** body: canonical JSON (see canonicalJson), so an unchanged body is recognised as text. */
  | { k: 'role'; name: string; body: string; by: string }
  | { k: 'role_delete'; name: string }
  /** value: canonical JSON of the override, null to drop it. */
  | { k: 'default_roles'; value: string | null };

export type ApplyOutcome = 'added' | 'changed' | 'unchanged' | 'removed' | 'missing';

/** The admin API's part of a call (ARGV[5]). */
export interface ScriptCommit {
  /** n: the revision (member, role, settings) or store version that must hold. */
  expect: { k: 'member' | 'role' | 'settings' | 'version'; name?: string; n: number }[];
  /** Field/value lists of the audit entries; the script adds `at`. */
  audit: string[][];
  /** The stream bound (MAXLEN ~). */
  audit_max: string;
  idem?: { key: string; response: string; ttl_ms: string };
}

export type ApplyReply =
  | { readonly k: 'ok'; readonly version: number; readonly outcomes: readonly ApplyOutcome[] }
  /** index: 0-based position of the first expectation that failed. */
  | { readonly k: 'conflict'; readonly index: number }
  | { readonly k: 'replay'; readonly response: string };

export type ApplyCall = (ops: readonly ApplyOp[], commit?: ScriptCommit) => Promise<ApplyReply>;

interface ApplyCommand { rolegateApply(versionKey: string, base: string, channel: string, nowMs: string, ops: string, commit?: string): Promise<string[]> }

/**
 * Registers the script on the client and returns the one way rolegate calls it
 * (ioredis sends EVALSHA, and EVAL once if the server does not know the script).
 */
export function applyScript(client: RedisClient, keys: KeyModel, now: () => number = Date.now): ApplyCall {
  client.defineCommand('rolegateApply', { numberOfKeys: 1, lua: APPLY_SCRIPT });
  const command = client as unknown as ApplyCommand;
  return async (ops, commit) => {
    const args = [keys.version, keys.base, keys.channel, String(now()), JSON.stringify(ops)] as const;
    const res = commit ? await command.rolegateApply(...args, JSON.stringify(commit)) : await command.rolegateApply(...args);
    if (res[0] === 'conflict') return { k: 'conflict', index: Number(res[1]) - 1 };
    if (res[0] === 'replay') return { k: 'replay', response: res[1]! };
    return { k: 'ok', version: Number(res[1]), outcomes: res.slice(2) as ApplyOutcome[] };
  };
}
