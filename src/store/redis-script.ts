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
 * Returns { version, outcome per op } with outcome added | changed | unchanged | removed | missing.
 * Publishes { t, v, keys } only when something changed, so a no-op import is silent.
 */
export const APPLY_SCRIPT = `
local P, channel, now = ARGV[1], ARGV[2], ARGV[3]
local ops = cjson.decode(ARGV[4])
local out = { '' }
local touched = {}
local FIELDS = { 'status', 'roles', 'groups', 'org', 'kind', 'email' }
local STATUS = { pending = true, active = true, removed = true }
local KIND = { internal = true, partner = true }
local PARTS = { { 'assignees', 'assigned' }, { 'collaborators', 'collaborates' } }

local function str(v)
  if v == nil or v == cjson.null then return nil end
  if type(v) == 'table' then return table.concat(v, ',') end
  return v
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
  local changed = old.status == nil
  for _, f in ipairs(FIELDS) do if (old[f] or '') ~= new[f] then changed = true end end
  if not changed then return 'unchanged' end
  local set = { 'updated', now }
  if old.status == nil then set[#set + 1] = 'created'; set[#set + 1] = now end
  for _, f in ipairs(FIELDS) do
    if new[f] ~= '' or f == 'roles' or f == 'groups' then set[#set + 1] = f; set[#set + 1] = new[f]
    elseif old[f] then redis.call('HDEL', key, f) end
  end
  redis.call('HSET', key, unpack(set))
  redis.call('SADD', P .. 'members', op.id)
  if old.status ~= new.status then
    if old.status then redis.call('SREM', P .. 'idx:status:' .. old.status, op.id) end
    redis.call('SADD', P .. 'idx:status:' .. new.status, op.id)
  end
  local before, after = list(old.roles), list(new.roles)
  for _, r in ipairs(minus(before, after)) do redis.call('SREM', P .. 'idx:role:' .. r, op.id) end
  for _, r in ipairs(minus(after, before)) do redis.call('SADD', P .. 'idx:role:' .. r, op.id) end
  touched[#touched + 1] = 'member:' .. op.id
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
  touched[#touched + 1] = 'relations:' .. ref
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
  touched[#touched + 1] = 'relations:' .. ref
  return 'removed'
end

local function partner(op)
  local exists = redis.call('SISMEMBER', P .. 'partners', op.id) == 1
  local moved = replaceSet(P .. 'partner:' .. op.id .. ':groups', op.groups)
  if exists and not moved then return 'unchanged' end
  redis.call('SADD', P .. 'partners', op.id)
  touched[#touched + 1] = 'partner:' .. op.id
  if exists then return 'changed' end
  return 'added'
end

local function dropPartner(op)
  if redis.call('SREM', P .. 'partners', op.id) == 0 then return 'unchanged' end
  redis.call('DEL', P .. 'partner:' .. op.id .. ':groups')
  touched[#touched + 1] = 'partner:' .. op.id
  return 'removed'
end

local HANDLERS = { member = member, relations = relations, relations_delete = dropRelations, partner = partner, partner_delete = dropPartner }

-- validate every op before writing any: a script error does not roll back earlier writes
for i, op in ipairs(ops) do
  if HANDLERS[op.k] == nil then return redis.error_reply('op ' .. i .. ': unknown kind') end
  if op.k == 'member' then
    local s, k = str(op.status), str(op.kind)
    if s ~= nil and s ~= '' and not STATUS[s] then return redis.error_reply('op ' .. i .. ': bad status') end
    if k ~= nil and k ~= '' and not KIND[k] then return redis.error_reply('op ' .. i .. ': bad kind') end
  end
end

for i, op in ipairs(ops) do out[i + 1] = HANDLERS[op.k](op) end

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
out[1] = tostring(version)
return out
`;

export type ApplyOp =
  | { k: 'member'; id: string; replace?: boolean; must_exist?: boolean; status?: string; roles?: readonly string[]; groups?: readonly string[]; org?: string; kind?: string; email?: string }
  | { k: 'relations'; resource: string; rid: string; replace?: boolean; assignees?: readonly string[]; collaborators?: readonly string[]; partner?: string }
  | { k: 'relations_delete'; resource: string; rid: string }
  | { k: 'partner'; id: string; groups: readonly string[] }
  | { k: 'partner_delete'; id: string };

export type ApplyOutcome = 'added' | 'changed' | 'unchanged' | 'removed' | 'missing';
