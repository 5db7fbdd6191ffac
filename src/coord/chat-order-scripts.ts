/**
 * The Lua scripts behind a chat's shared line (./chat-order.ts, which says what the line is and
 * keeps its keys): each runs atomically in Redis, so a look at the line and the place it records
 * cannot interleave with another instance's.
 */
export const ENTER = `
local fresh = redis.call('EXISTS', KEYS[1]) == 0
-- ARGV[7] = 1: only start a fresh line (a turn whose place Redis lost, starting the new line itself).
if ARGV[7] == '1' and not fresh then return {0, 0, 0, 0} end
local gap = 0
if fresh then
  if tonumber(ARGV[3]) > 0 then gap = tonumber(ARGV[6]) end
  local now = redis.call('TIME')
  redis.call('SET', KEYS[1], string.format('%d', tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) + gap))
end
local t = redis.call('INCR', KEYS[1])
-- The room above the first place, and above each place taken while that room is being filled
-- (REBUILD): the chat's messages that came after this one but are not in the new line go there.
-- The room is owed (KEYS[7]) until REBUILD fills it, even once the mark lapsed with a turn that died.
local marked = 0
if gap > 0 then
  redis.call('INCRBY', KEYS[1], gap)
elseif tonumber(ARGV[3]) > 0 and (redis.call('EXISTS', KEYS[6]) == 1 or redis.call('EXISTS', KEYS[7]) == 1) then
  redis.call('INCRBY', KEYS[1], ARGV[6])
  marked = 1
end
redis.call('SET', KEYS[3] .. t, '1', 'PX', ARGV[1])
redis.call('SET', KEYS[5] .. t, '1', 'PX', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
for _, done in ipairs({KEYS[2], KEYS[4]}) do
  if not fresh and redis.call('EXISTS', done) == 1 then redis.call('PEXPIRE', done, ARGV[2]) else redis.call('SET', done, t - 1 - gap, 'PX', ARGV[2]) end
end
-- Until the room below is filled (REBUILD), no place from this one on may look past it; should
-- this turn die first, the room stays owed (with this message's arrival, ARGV[8]) for MOVED.
if gap > 0 then
  redis.call('SET', KEYS[6], t, 'PX', ARGV[3])
  redis.call('SET', KEYS[7], string.format('%d', t) .. ':' .. ARGV[8], 'PX', ARGV[4])
end
local first = 0
if #KEYS == 9 and redis.call('SET', KEYS[8], t, 'NX', 'PX', ARGV[4]) then
  first = 1
  redis.call('SET', KEYS[9] .. t, ARGV[5], 'PX', ARGV[4])
end
return {t, first, gap > 0 and 1 or 0, marked}`;

/**
 * Fill the room a fresh line left below its first place and above it (KEYS: the rebuild mark, the
 * running part's place prefix, the places' event records, the events' place records, the sending
 * part's place prefix, the moved places' records; ARGV: that first ticket, a place's TTL, a
 * record's TTL, how many go below, the room's size, then each message's event key and whether its
 * owner is gone, oldest first: those below, then those above), and lift the mark.
 * Below the first place, a message that entered the new line behind it while this was asked (taken
 * over, or delivered again, just as the line started) is moved to its slot: both parts are held
 * there for it and its old place names the new one, which its holder takes once this is done
 * (MOVED).
 * Above the first place, a message that already took a place in the new line keeps it, unless
 * it took it ahead of one that arrived before it (each turn waits out an unreachable Redis on its
 * own, so they enter as they get through, and a sweep takes a dead instance's messages over in
 * batches): then it is moved right behind that one, as one below is moved. Each one not in the
 * line goes right behind the latest one before it that is (the first place itself, or a place
 * taken while this was asked, which left room behind it): a sweep's messages taken over in one go
 * may enter the line before this runs, and a live instance's message from before the loss comes
 * after them. Only while the mark is this ticket's (it expires if its turn dies). Lifting the
 * mark, it drops the record that the room is owed (the last key).
 */
export const REBUILD = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
local t = tonumber(ARGV[1])
local below = tonumber(ARGV[4])
local room = tonumber(ARGV[5])
local n = (#ARGV - 5) / 2
local put = 0
local base, k = t, 0
for i = 1, n do
  local ev = ARGV[4 + 2 * i]
  local slot = t - below - 1 + i
  local entered = 0
  if i > below then
    local at = tonumber(redis.call('GET', KEYS[4] .. ev) or '0')
    if at > t and at < base then
      k = k + 1
      slot = k <= room and base + k or nil
      if slot then
        entered = at
        -- Its old place, in front of messages that arrived before it, no longer stands for it.
        redis.call('DEL', KEYS[3] .. at)
      end
    elseif at > 0 then
      base, k = at, 0
      slot = nil
    else
      k = k + 1
      slot = k <= room and base + k or nil
    end
  else
    entered = tonumber(redis.call('GET', KEYS[4] .. ev) or '0')
  end
  if entered > t then
    redis.call('SET', KEYS[4] .. ev, slot, 'PX', ARGV[3])
    redis.call('SET', KEYS[3] .. slot, ev, 'PX', ARGV[3])
    redis.call('SET', KEYS[2] .. slot, '1', 'PX', ARGV[2])
    redis.call('SET', KEYS[5] .. slot, '1', 'PX', ARGV[2])
    redis.call('SET', KEYS[6] .. entered, slot, 'PX', ARGV[3])
    put = put + 1
  elseif slot and redis.call('SET', KEYS[4] .. ev, slot, 'NX', 'PX', ARGV[3]) then
    redis.call('SET', KEYS[3] .. slot, ev, 'PX', ARGV[3])
    if ARGV[5 + 2 * i] == '1' then redis.call('SET', KEYS[2] .. slot, '1', 'PX', ARGV[2]) end
    put = put + 1
  end
end
redis.call('DEL', KEYS[1], KEYS[7])
return put`;

/**
 * Where a place taken while a fresh line's room was being filled stands now (KEYS: the rebuild
 * mark, the moved places' records, the record that the room is owed, the places' event records;
 * ARGV: its ticket, how long a mark lasts, whether the caller can fill the room): {-1} while the
 * room is still being filled, {1, place} where REBUILD moved it, or {0} when it stays where it is.
 * When the turn that started the line died before filling the room (its mark lapsed, the room
 * still owed), the caller is told to fill it — {2, first ticket, its message, its arrival} — and
 * the mark is set again in its name, so no other turn does it too. A first place that stands for
 * no platform message (a proactive turn's) is told with an empty message: every unfinished message
 * of the chat then counts as before it.
 */
export const MOVED = `
if redis.call('EXISTS', KEYS[1]) == 1 then return {-1} end
local owed = redis.call('GET', KEYS[3])
if owed and ARGV[3] == '1' then
  local first, arrived = string.match(owed, '^(%d+):(.*)$')
  if first then
    redis.call('SET', KEYS[1], first, 'PX', ARGV[2])
    return {2, tonumber(first), redis.call('GET', KEYS[4] .. first) or '', arrived}
  end
  redis.call('DEL', KEYS[3])
end
local to = tonumber(redis.call('GET', KEYS[2] .. ARGV[1]) or '0')
if to > 0 then return {1, to} end
return {0}`;

/**
 * Take over the place an event's first ticket holds (KEYS: the event's ticket record, then each
 * part's finished count and place prefix), for the instance that took over the event from a dead
 * one: each part the line has not passed yet is held again. Returns {ticket, running, sending}
 * (1 where held again), or zeros when the event never had a place. Given the place this arrival
 * took (KEYS: the places' event records, before the mark; ARGV: that ticket, a record's TTL, the
 * event key), an old place the line has passed is replaced by it in the event's record, so should
 * this arrival's instance die too, the chat's later replies still wait for the message. The rebuild
 * mark and the record that a fresh line's room is owed come last in KEYS; a fourth answer of 1 says
 * the mark is set (REBUILD may yet move the place, or yet put the event's place back), also when
 * the event has no place, and a fifth that the room is owed (its turn may have died: see MOVED).
 */
export const ADOPT = `
local t = tonumber(redis.call('GET', KEYS[1]) or '0')
local mark, owed = redis.call('EXISTS', KEYS[#KEYS - 1]), redis.call('EXISTS', KEYS[#KEYS])
if t == 0 then return {0, 0, 0, mark, owed} end
local held = {t, 0, 0, mark, owed}
for i, part in ipairs({{KEYS[2], KEYS[3]}, {KEYS[4], KEYS[5]}}) do
  if tonumber(redis.call('GET', part[1]) or '0') < t then
    redis.call('SET', part[2] .. t, '1', 'PX', ARGV[1])
    held[i + 1] = 1
  end
end
-- Passed in both parts: the place this arrival took (ARGV[2]) stands for the message from now on.
if held[2] == 0 and held[3] == 0 and #KEYS == 8 then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  redis.call('SET', KEYS[6] .. ARGV[2], ARGV[4], 'PX', ARGV[3])
end
return held`;

/**
 * Skip the tickets in front whose holders are gone; return the highest finished ticket. In the
 * sending part, a gone place that stands for a platform message (its event record, KEYS' last
 * prefix) is not skipped here: `{sending, ticket, eventKey}` names it, and the caller skips it
 * (by deleting the record) only once the message owes no reply — a dead instance's message is
 * delivered by whoever takes it over, before the chat's later replies. Called with the running
 * part's keys first (KEYS: done, places, then the sending part's three), the sending part is
 * looked at too when the running part is clear: `{running, sending, ticket, eventKey}` (sending
 * -1 when not), so a turn whose chat's earlier replies are all delivered by the time it runs needs
 * no second call before sending. With ARGV[3] = 1 the running part stops the same way at a place
 * gone in both parts (its holder died, or handed its message to the sweep) that stands for a
 * platform message, named in the same two fields: a takeover slower than the place lasts still
 * runs before the chat's later turns. Each answer that looked at the sending part ends with whether
 * this turn's own sending place still exists (0: Redis lost it, or it lapsed while Redis was away).
 */
export const FRONT = `
local function front(doneKey, aliveKey, t, recordPrefix, sendingPrefix)
  -- No finished count: the line's keys are gone (a Redis restarted without its data), and with
  -- them every place in front of this one.
  local done = tonumber(redis.call('GET', doneKey) or (t - 1))
  -- A fresh line whose room below is still being filled: nothing in front is known yet.
  local rebuilding = redis.call('GET', KEYS[#KEYS])
  if rebuilding and t >= tonumber(rebuilding) then return math.min(done, t - 2), 0, '' end
  local steps = 0
  local held, event = 0, ''
  while done < t - 1 and steps < 5000 do
    if redis.call('EXISTS', aliveKey .. (done + 1)) == 1 then break end
    -- In the running part (given the sending part's places), only a place gone in both parts: one
    -- whose holder left running out of turn and is still sending is skipped as before.
    if recordPrefix and (not sendingPrefix or redis.call('EXISTS', sendingPrefix .. (done + 1)) == 0) then
      local e = redis.call('GET', recordPrefix .. (done + 1))
      if e then
        held, event = done + 1, e
        break
      end
    end
    done = done + 1
    steps = steps + 1
  end
  redis.call('SET', doneKey, done, 'PX', ARGV[2])
  return done, held, event
end
local t = tonumber(ARGV[1])
if #KEYS == 4 then
  local sending, held, event = front(KEYS[1], KEYS[2], t, KEYS[3])
  return {sending, held, event, redis.call('EXISTS', KEYS[2] .. t)}
end
-- ARGV[3] = 1: the running part too stops at a gone place that stands for a platform message.
local running, held, event
if ARGV[3] == '1' then
  running, held, event = front(KEYS[1], KEYS[2], t, KEYS[5], KEYS[4])
else
  running, held, event = front(KEYS[1], KEYS[2], t, nil)
end
if running >= t - 1 then
  local sending, sHeld, sEvent = front(KEYS[3], KEYS[4], t, KEYS[5])
  return {running, sending, sHeld, sEvent, redis.call('EXISTS', KEYS[4] .. t)}
end
return {running, -1, held, event, 1}`;

/**
 * Give a place up (KEYS: the ticket counter, then the part's finished count and place prefix; a
 * second pair gives up both parts at once). A finished count moves only when the place was next
 * in line: a place left out of turn (a turn that ran while Redis failed) is skipped by the front
 * once it is gone. Leaving the sending part (given with the event records' prefix last) drops the
 * place's event record: a place given up is never waited for. Returns 1 when a later ticket
 * exists — someone may be waiting to hear of it.
 */
export const LEAVE = `
local t = tonumber(ARGV[1])
local function leave(doneKey, aliveKey)
  local done = tonumber(redis.call('GET', doneKey) or '0')
  if done == t - 1 then redis.call('SET', doneKey, t, 'PX', ARGV[2]) end
  redis.call('DEL', aliveKey .. t)
end
leave(KEYS[2], KEYS[3])
if #KEYS >= 5 then leave(KEYS[4], KEYS[5]) end
if #KEYS == 4 or #KEYS == 6 then redis.call('DEL', KEYS[#KEYS] .. t) end
if tonumber(redis.call('GET', KEYS[1]) or '0') > t then return 1 end
return 0`;
