"""Lua scripts that change the review queue; each runs atomically inside Redis.

Every change of a case (open, claim, release, decide) touches its hash, its index
entries, its audit trail and the counters in one script, so a reader never sees a
half-applied change and concurrent callers are serialised by Redis itself.

ARGV[1] is always the key prefix. The scripts compute the keys they touch from it,
which is fine on a standalone Redis (ours) but not on a Redis Cluster.
"""

from __future__ import annotations

# Shared helpers, prepended to each script below.
_HELPERS = """
local P = ARGV[1]
local SORTS = {score = 'score', amount = 'amount', created = 'tx_ms'}

local function case_key(id) return P .. 'case:' .. id end

local function index_key(status, band, sort)
  return P .. 'cases:' .. status .. ':' .. band .. ':' .. sort
end

local function index_add(id, status)
  local band = redis.call('HGET', case_key(id), 'band')
  for sort, field in pairs(SORTS) do
    local value = redis.call('HGET', case_key(id), field)
    redis.call('ZADD', index_key(status, band, sort), value, id)
    redis.call('ZADD', index_key(status, 'any', sort), value, id)
  end
end

local function index_remove(id, status)
  local band = redis.call('HGET', case_key(id), 'band')
  for sort, _ in pairs(SORTS) do
    redis.call('ZREM', index_key(status, band, sort), id)
    redis.call('ZREM', index_key(status, 'any', sort), id)
  end
end

local function move(id, from, to)
  index_remove(id, from)
  index_add(id, to)
  redis.call('HSET', case_key(id), 'status', to)
end

local function audit(id, kind, actor, at_ms, at_iso, detail)
  local key = case_key(id) .. ':events'
  local sequence = redis.call('LLEN', key) + 1
  redis.call('RPUSH', key, cjson.encode({
    sequence = sequence, kind = kind, actor = actor,
    at = at_iso, at_ms = at_ms, detail = detail}))
  return sequence
end

local function drop_claim(id, analyst)
  redis.call('ZREM', P .. 'claims', id)
  if analyst and redis.call('HGET', P .. 'analyst_claims', analyst) == id then
    redis.call('HDEL', P .. 'analyst_claims', analyst)
  end
  redis.call('HDEL', case_key(id), 'claimed_by', 'claim_expires_ms', 'claimed_from')
end

-- Claims whose time ran out go back to the queue they were taken from.
local function expire_claims(now_ms, now_iso)
  local expired = redis.call('ZRANGE', P .. 'claims', '-inf', now_ms, 'BYSCORE',
    'LIMIT', 0, 100)
  for _, id in ipairs(expired) do
    local state = redis.call('HMGET', case_key(id), 'status', 'claimed_by',
      'claimed_from')
    if state[1] == 'in_review' then
      move(id, 'in_review', state[3] or 'open')
      audit(id, 'claim_expired', 'sentinel', now_ms, now_iso, {analyst = state[2]})
    end
    drop_claim(id, state[2])
  end
end
"""

# Record one scored transaction once (retries of a transaction id are ignored):
# day counters, the customer's recent transactions and, for review or block, a case
# with its immutable snapshot.
# ARGV: prefix, transaction id, seen TTL ms, day (YYYY-MM-DD), day number, band,
# customer id, recent entry JSON, recent limit, recent TTL ms, now ms, now ISO,
# case id ('' for none), then the case fields as name/value pairs.
RECORD_SCORE = (
    _HELPERS
    + """
local seen = redis.call('SET', P .. 'scored:' .. ARGV[2], '1', 'NX', 'PX', ARGV[3])
if not seen then return 0 end
local day_key = P .. 'stats:day:' .. ARGV[4]
redis.call('HINCRBY', day_key, 'scored', 1)
redis.call('HINCRBY', day_key, 'band_' .. ARGV[6], 1)
redis.call('ZADD', P .. 'stats:days', ARGV[5], ARGV[4])
local recent = P .. 'customer:' .. ARGV[7] .. ':recent'
redis.call('LPUSH', recent, ARGV[8])
redis.call('LTRIM', recent, 0, tonumber(ARGV[9]) - 1)
redis.call('PEXPIRE', recent, ARGV[10])
local id = ARGV[13]
if id == '' then return 1 end
local key = case_key(id)
if redis.call('EXISTS', key) == 1 then return 1 end
local fields = {}
for i = 14, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', key, unpack(fields))
redis.call('HSET', key, 'status', 'open')
index_add(id, 'open')
index_add(id, 'all')
redis.call('HINCRBY', day_key, 'cases_opened', 1)
local band = redis.call('HGET', key, 'band')
local score = redis.call('HGET', key, 'score')
local version = redis.call('HGET', key, 'model_version')
audit(id, 'opened', 'sentinel', tonumber(ARGV[11]), ARGV[12],
  {band = band, score = tonumber(score), model_version = version})
return 2
"""
)

# Lock the best open case to an analyst (one live claim per analyst).
# ARGV: prefix, analyst, now ms, now ISO, claim TTL ms, queue status, band or 'any'.
# Returns {'existing'|'claimed', case id} or {'empty'}.
CLAIM_NEXT = (
    _HELPERS
    + """
local analyst, now_ms, now_iso = ARGV[2], tonumber(ARGV[3]), ARGV[4]
expire_claims(now_ms, now_iso)
local held = redis.call('HGET', P .. 'analyst_claims', analyst)
if held then
  local state = redis.call('HMGET', case_key(held), 'status', 'claimed_by')
  if state[1] == 'in_review' and state[2] == analyst then
    return {'existing', held}
  end
  redis.call('HDEL', P .. 'analyst_claims', analyst)
end
local ids = redis.call('ZRANGE', index_key(ARGV[6], ARGV[7], 'score'),
  '+inf', '-inf', 'BYSCORE', 'REV', 'LIMIT', 0, 1)
if #ids == 0 then return {'empty'} end
local id = ids[1]
local expires = now_ms + tonumber(ARGV[5])
move(id, ARGV[6], 'in_review')
redis.call('HSET', case_key(id), 'claimed_by', analyst,
  'claim_expires_ms', expires, 'claimed_from', ARGV[6])
redis.call('ZADD', P .. 'claims', expires, id)
redis.call('HSET', P .. 'analyst_claims', analyst, id)
audit(id, 'claimed', analyst, now_ms, now_iso, {queue = ARGV[6]})
return {'claimed', id}
"""
)

# Give a claimed case back to its queue.
# ARGV: prefix, case id, analyst, now ms, now ISO.
# Returns {'released', queue} | {'not_found'} | {'not_claimed', status} |
# {'claimed', other analyst}.
RELEASE = (
    _HELPERS
    + """
local id, analyst = ARGV[2], ARGV[3]
local now_ms, now_iso = tonumber(ARGV[4]), ARGV[5]
expire_claims(now_ms, now_iso)
local state = redis.call('HMGET', case_key(id), 'status', 'claimed_by',
  'claimed_from')
if not state[1] then return {'not_found'} end
if state[1] ~= 'in_review' then return {'not_claimed', state[1]} end
if state[2] ~= analyst then return {'claimed', state[2]} end
local queue = state[3] or 'open'
move(id, 'in_review', queue)
drop_claim(id, analyst)
audit(id, 'released', analyst, now_ms, now_iso, {queue = queue})
return {'released', queue}
"""
)

# Record an analyst's decision exactly once.
# ARGV: prefix, case id, outcome, analyst, now ms, now ISO, idempotency key ('' for
# none), request fingerprint, idempotency TTL s, decision record JSON, new status,
# day counter field.
# Returns {'applied', record, snapshot} | {'replayed', record} |
# {'idempotency_mismatch'} | {'not_found'} | {'closed', outcome, analyst} |
# {'claimed', analyst} | {'already_escalated'}.
DECIDE = (
    _HELPERS
    + """
local id, outcome, analyst = ARGV[2], ARGV[3], ARGV[4]
local now_ms, now_iso = tonumber(ARGV[5]), ARGV[6]
local idem_key = ''
if ARGV[7] ~= '' then
  idem_key = P .. 'idempotency:' .. ARGV[7]
  local previous = redis.call('HMGET', idem_key, 'fingerprint', 'record')
  if previous[1] then
    if previous[1] ~= ARGV[8] then return {'idempotency_mismatch'} end
    return {'replayed', previous[2]}
  end
end
expire_claims(now_ms, now_iso)
local key = case_key(id)
local state = redis.call('HMGET', key, 'status', 'claimed_by', 'outcome',
  'decided_by', 'tx_day', 'snapshot')
local status = state[1]
if not status then return {'not_found'} end
if status == 'closed' then return {'closed', state[3], state[4]} end
if status == 'in_review' and state[2] ~= analyst then
  return {'claimed', state[2]}
end
if status == 'escalated' and outcome == 'escalate' then
  return {'already_escalated'}
end
local new_status = ARGV[11]
if status == 'in_review' then drop_claim(id, state[2]) end
move(id, status, new_status)
redis.call('HSET', key, 'outcome', outcome, 'decided_by', analyst,
  'decided_at_ms', now_ms, 'decision', ARGV[10])
redis.call('RPUSH', key .. ':decisions', ARGV[10])
redis.call('HINCRBY', P .. 'stats:decisions', outcome, 1)
redis.call('HINCRBY', P .. 'stats:day:' .. state[5], ARGV[12], 1)
audit(id, 'decided', analyst, now_ms, now_iso, cjson.decode(ARGV[10]))
if idem_key ~= '' then
  redis.call('HSET', idem_key, 'fingerprint', ARGV[8], 'record', ARGV[10])
  redis.call('EXPIRE', idem_key, ARGV[9])
end
return {'applied', ARGV[10], state[6]}
"""
)
