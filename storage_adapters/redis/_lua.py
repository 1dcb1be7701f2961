"""The Lua scripts :class:`~storage_adapters.redis.RedisStore` runs (no I/O here, text only).

Every write that touches more than one key is one script, which Redis runs atomically: no other
command runs in between, and a script that fails half-way has written nothing only if it checks
everything before its first write, which each of these does. Keys are built inside the scripts
from ARGV (not declared in KEYS), so the store runs on a single Redis server or a non-clustered
service such as Upstash, not on Redis Cluster.
"""

from __future__ import annotations

__all__ = ["DELETE_MESSAGES", "DELETE_THREAD", "GUARDED_WRITE", "KV_CLEAR", "KV_PURGE", "KV_STATS", "PAGE"]

GUARDED_WRITE = """
-- Compare-and-set over several keys. ARGV: n_guards, then 4 slots per guard (op, key, a, b),
-- then the writes: per write its argument count, then the command and its arguments.
-- Returns 0 when every guard held and the writes ran, else the 1-based index of the first
-- guard that failed (nothing written).
local n = tonumber(ARGV[1])
local i = 2
for g = 1, n do
  local op, key, a, b = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  i = i + 4
  local ok
  if op == 'absent' then
    ok = redis.call('EXISTS', key) == 0
  elseif op == 'get_eq' then
    ok = redis.call('GET', key) == a
  elseif op == 'hget_eq' then
    ok = redis.call('HGET', key, a) == b
  elseif op == 'hget_absent' then
    ok = redis.call('HEXISTS', key, a) == 0
  elseif op == 'hget_in' then  -- absent or equal
    local v = redis.call('HGET', key, a)
    ok = (v == false) or (v == b)
  elseif op == 'ztop_eq' then  -- newest member and its score, or empty when a == ''
    local r = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
    if a == '' then ok = #r == 0 else ok = #r == 2 and r[1] == a and tonumber(r[2]) == tonumber(b) end
  else
    return redis.error_reply('unknown guard ' .. tostring(op))
  end
  if not ok then return g end
end
while i <= #ARGV do
  local c = tonumber(ARGV[i])
  redis.call(unpack(ARGV, i + 1, i + c))
  i = i + c + 1
end
return 0
"""

DELETE_THREAD = """
-- ARGV: prefix, thread id. Deletes the thread, its messages, their index entries and the
-- thread's observational memory. Returns the number of messages deleted.
local p, tid = ARGV[1], ARGV[2]
local tkey = p .. 'mastra_threads:id:' .. tid
local raw = redis.call('GET', tkey)
local zkey = p .. 'thread:' .. tid .. ':messages'
local ids = redis.call('ZRANGE', zkey, 0, -1)
local owner = nil
if raw then owner = cjson.decode(raw)['resourceId'] end
for _, mid in ipairs(ids) do
  local mkey = p .. 'mastra_messages:threadId:' .. tid .. ':id:' .. mid
  local m = redis.call('GET', mkey)
  if m then
    local rid = cjson.decode(m)['resourceId']
    if type(rid) == 'string' then redis.call('ZREM', p .. 'mastra_messages:resource:' .. rid, mid) end
  end
  redis.call('DEL', mkey)
  redis.call('HDEL', p .. 'mastra_messages:thread_of', mid)
end
redis.call('DEL', zkey, tkey)
redis.call('ZREM', p .. 'mastra_threads:all:by_created', tid)
redis.call('ZREM', p .. 'mastra_threads:all:by_updated', tid)
if type(owner) == 'string' then
  redis.call('ZREM', p .. 'mastra_threads:resource:' .. owner .. ':by_created', tid)
  redis.call('ZREM', p .. 'mastra_threads:resource:' .. owner .. ':by_updated', tid)
end
local om = p .. 'mastra_observational_memory:thread:' .. tid
redis.call('DEL', om, om .. ':generations', om .. ':cursor')
return #ids
"""

DELETE_MESSAGES = """
-- ARGV: prefix, message ids. Deletes each message with its index entries; returns the count.
local p = ARGV[1]
local n = 0
for k = 2, #ARGV do
  local mid = ARGV[k]
  local tid = redis.call('HGET', p .. 'mastra_messages:thread_of', mid)
  if tid then
    local mkey = p .. 'mastra_messages:threadId:' .. tid .. ':id:' .. mid
    local m = redis.call('GET', mkey)
    if m then
      local rid = cjson.decode(m)['resourceId']
      if type(rid) == 'string' then redis.call('ZREM', p .. 'mastra_messages:resource:' .. rid, mid) end
    end
    redis.call('DEL', mkey)
    redis.call('ZREM', p .. 'thread:' .. tid .. ':messages', mid)
    redis.call('HDEL', p .. 'mastra_messages:thread_of', mid)
    n = n + 1
  end
end
return n
"""

KV_CLEAR = """
-- ARGV: entry key prefix (ends with '/'), index key, expiry key, namespace. Returns live keys deleted.
local base, idx, exp, ns = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local n = 0
for _, k in ipairs(redis.call('ZRANGE', idx, 0, -1)) do
  n = n + redis.call('DEL', base .. k)
  redis.call('ZREM', exp, ns .. '/' .. k)
end
redis.call('DEL', idx)
return n
"""

KV_STATS = """
-- ARGV: entry key prefix, index key, now (ms). Returns {live keys, bytes}; drops dead index entries.
local base, idx, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local keys, bytes = 0, 0
for _, k in ipairs(redis.call('ZRANGE', idx, 0, -1)) do
  local r = redis.call('HMGET', base .. k, 'v', 'e')
  if r[1] == false then
    redis.call('ZREM', idx, k)
  elseif r[2] == '' or tonumber(r[2]) > now then
    keys = keys + 1
    bytes = bytes + string.len(r[1])
  end
end
return {keys, bytes}
"""

KV_PURGE = """
-- ARGV: prefix, now (ms), limit. Deletes up to limit entries whose expiry has passed (Redis
-- may have dropped the value already; its index entries go too). Returns how many.
local p, now, limit = ARGV[1], ARGV[2], tonumber(ARGV[3])
local exp = p .. 'mastra_kv_expiry'
local due = redis.call('ZRANGEBYSCORE', exp, '-inf', now, 'LIMIT', 0, limit)
local n = 0
for _, member in ipairs(due) do
  local slash = string.find(member, '/', 1, true)
  local ns, k = string.sub(member, 1, slash - 1), string.sub(member, slash + 1)
  local key = p .. 'mastra_kv:' .. member
  local e = redis.call('HGET', key, 'e')
  if e == false or (e ~= '' and tonumber(e) <= tonumber(now)) then
    redis.call('DEL', key)
    redis.call('ZREM', p .. 'mastra_kv_keys:' .. ns, k)
    n = n + 1
  end
  redis.call('ZREM', exp, member)
end
return n
"""

PAGE = """
-- One page of a sorted set of ids with the records they name, in one round trip.
-- ARGV: zset key, record key prefix, mode ('score' or 'rank'), lo, hi, desc ('1'/'0'),
-- offset, count (-1: all). 'score': lo/hi are score bounds (ZRANGEBYSCORE syntax) and the total
-- is ZCOUNT between them; 'rank': the total is ZCARD. Returns {total, record, record, ...}
-- (a record whose key is gone is skipped).
local z, base, mode, lo, hi, desc = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6] == '1'
local offset, count = tonumber(ARGV[7]), tonumber(ARGV[8])
local ids, total
if mode == 'score' then
  if desc then
    ids = redis.call('ZREVRANGEBYSCORE', z, hi, lo, 'LIMIT', offset, count)
  else
    ids = redis.call('ZRANGEBYSCORE', z, lo, hi, 'LIMIT', offset, count)
  end
  total = redis.call('ZCOUNT', z, lo, hi)
else
  local stop = -1
  if count >= 0 then stop = offset + count - 1 end
  if desc then ids = redis.call('ZREVRANGE', z, offset, stop) else ids = redis.call('ZRANGE', z, offset, stop) end
  total = redis.call('ZCARD', z)
end
local out = {total}
for first = 1, #ids, 1000 do  -- MGET in chunks: unpack() has a limit of about 8,000 values
  local keys = {}
  for i = first, math.min(first + 999, #ids) do keys[#keys + 1] = base .. ids[i] end
  for _, v in ipairs(redis.call('MGET', unpack(keys))) do
    if v then out[#out + 1] = v end
  end
end
return out
"""
