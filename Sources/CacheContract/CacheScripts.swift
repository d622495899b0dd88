import RedisCache

/// The Lua scripts of the contract, each one atomic round trip that checks versions and sets
/// the TTL with the write. Semantics (and ties) are specified in docs/cache-protocol.md;
/// ``CacheCommands`` builds their calls and parses their replies.
public enum CacheScripts {
    /// Helpers shared by every script: argument checks and LSN comparison.
    ///
    /// LSNs are compared as two 32-bit halves with `tonumber(..., 16)`: exact in Lua's doubles
    /// and independent of the locale collation Lua's string `<` uses. Stored values that do not
    /// parse count as absent.
    public static let prelude = """
        local function arg_lsn(s)
          if type(s) ~= 'string' or #s ~= 16 or string.find(s, '[^0-9A-F]') then
            error({err = 'ERR cache-contract: an LSN is 16 uppercase hex digits'})
          end
          return s
        end
        local function arg_epoch(s)
          if type(s) ~= 'string' or #s == 0 or #s > 15 or string.find(s, '[^0-9]') or string.find(s, '^0.') then
            error({err = 'ERR cache-contract: an epoch is a decimal integer of at most 15 digits'})
          end
          return tonumber(s)
        end
        local function arg_ttl(s)
          local n = tonumber(s)
          if not n or n < 1 or n ~= math.floor(n) then
            error({err = 'ERR cache-contract: a TTL is a positive integer of milliseconds'})
          end
          return n
        end
        local function stored_lsn(s)
          if type(s) ~= 'string' or #s ~= 16 or string.find(s, '[^0-9A-F]') then return nil end
          return s
        end
        local function cmp(a, b)
          local ah, bh = tonumber(string.sub(a, 1, 8), 16), tonumber(string.sub(b, 1, 8), 16)
          if ah ~= bh then if ah < bh then return -1 else return 1 end end
          local al, bl = tonumber(string.sub(a, 9), 16), tonumber(string.sub(b, 9), 16)
          if al ~= bl then if al < bl then return -1 else return 1 end end
          return 0
        end
        local function current_epoch(key)
          return tonumber(redis.call('GET', key) or '')
        end
        -- True when the entry at `key` holds a version (epoch, lsn) >= (e, l).
        local function stored_not_older(key, e, l)
          local s = redis.call('HMGET', key, 'lsn', 'epoch')
          local sl, se = stored_lsn(s[1]), tonumber(s[2])
          if not sl or not se then return false end
          if se ~= e then return se > e end
          return cmp(sl, l) >= 0
        end

        """

    /// `set-if-newer` — KEYS: entry, epoch key. ARGV: lsn, epoch, ttl ms, row JSON.
    /// Reply: 1 written, 0 refused (stored version >= this one), -1 epoch is not current.
    public static let setIfNewer = RedisScript(name: "set-if-newer", source: prelude + """
        local l, e, ttl = arg_lsn(ARGV[1]), arg_epoch(ARGV[2]), arg_ttl(ARGV[3])
        if current_epoch(KEYS[2]) ~= e then return -1 end
        if stored_not_older(KEYS[1], e, l) then return 0 end
        redis.call('DEL', KEYS[1])
        redis.call('HSET', KEYS[1], 'lsn', l, 'row', ARGV[4], 'epoch', ARGV[2])
        redis.call('PEXPIRE', KEYS[1], ttl)
        return 1
        """)

    /// `tombstone-if-newer` — KEYS: entry, epoch key. ARGV: lsn, epoch, ttl ms.
    /// Reply: 1 written, 0 refused (stored version >= this one), -1 epoch is not current.
    public static let tombstoneIfNewer = RedisScript(name: "tombstone-if-newer", source: prelude + """
        local l, e, ttl = arg_lsn(ARGV[1]), arg_epoch(ARGV[2]), arg_ttl(ARGV[3])
        if current_epoch(KEYS[2]) ~= e then return -1 end
        if stored_not_older(KEYS[1], e, l) then return 0 end
        redis.call('DEL', KEYS[1])
        redis.call('HSET', KEYS[1], 'lsn', l, 'deleted', '1', 'epoch', ARGV[2])
        redis.call('PEXPIRE', KEYS[1], ttl)
        return 1
        """)

    /// `invalidate-if-newer` — KEYS: entry, epoch key. ARGV: lsn, epoch, ttl ms. For a change
    /// the worker cannot render: a version marker without a value, so readers miss and fills
    /// older than the change are refused. Reply: 1 written, 0 refused (stored version >= this
    /// one), -1 epoch is not current.
    public static let invalidateIfNewer = RedisScript(name: "invalidate-if-newer", source: prelude + """
        local l, e, ttl = arg_lsn(ARGV[1]), arg_epoch(ARGV[2]), arg_ttl(ARGV[3])
        if current_epoch(KEYS[2]) ~= e then return -1 end
        if stored_not_older(KEYS[1], e, l) then return 0 end
        redis.call('DEL', KEYS[1])
        redis.call('HSET', KEYS[1], 'lsn', l, 'invalidated', '1', 'epoch', ARGV[2])
        redis.call('PEXPIRE', KEYS[1], ttl)
        return 1
        """)

    /// `write-many-if-newer` — KEYS: epoch key, entry₁…entryₙ. ARGV: epoch, then per entry
    /// kind (`row`, `deleted` or `invalidated`), lsn, ttl ms, payload (the row JSON, else empty).
    /// The worker's batched form of the three scripts above, with their rules per entry: one
    /// script run for many entries costs far less than one per entry.
    /// Reply: one 1 (written) or 0 (stored version >= this one) per entry, or -1 when the epoch
    /// is not current (nothing written).
    public static let writeManyIfNewer = RedisScript(name: "write-many-if-newer", source: prelude + """
        local e = arg_epoch(ARGV[1])
        local n = #KEYS - 1
        if #ARGV ~= 1 + 4 * n then
          error({err = 'ERR cache-contract: write-many takes the epoch, then kind, lsn, ttl, payload per entry'})
        end
        -- Entries of a batch share a few versions and TTLs: each distinct text is checked once.
        local checked_lsn, checked_ttl
        for i = 1, n do
          local kind, l, ttl = ARGV[4 * i - 2], ARGV[4 * i - 1], ARGV[4 * i]
          if kind ~= 'row' and kind ~= 'deleted' and kind ~= 'invalidated' then
            error({err = 'ERR cache-contract: an entry kind is row, deleted or invalidated'})
          end
          if l ~= checked_lsn then checked_lsn = arg_lsn(l) end
          if ttl ~= checked_ttl then arg_ttl(ttl); checked_ttl = ttl end
        end
        if current_epoch(KEYS[1]) ~= e then return -1 end
        local out = {}
        for i = 1, n do
          local key, kind, l = KEYS[i + 1], ARGV[4 * i - 2], ARGV[4 * i - 1]
          local s = redis.call('HMGET', key, 'lsn', 'epoch', 'deleted', 'invalidated')
          local sl, se = stored_lsn(s[1]), tonumber(s[2])
          if sl and se and (se > e or (se == e and (sl == l or cmp(sl, l) > 0))) then
            out[i] = 0
          else
            -- The hash keeps its fields when the stored kind is the one written (a row over a
            -- row): HSET replaces them; another kind's field must go first.
            local stored_kind = (s[3] and 'deleted') or (s[4] and 'invalidated') or (s[1] and 'row') or kind
            if stored_kind ~= kind then redis.call('DEL', key) end
            if kind == 'row' then
              redis.call('HSET', key, 'lsn', l, 'row', ARGV[4 * i + 1], 'epoch', ARGV[1])
            else
              redis.call('HSET', key, 'lsn', l, kind, '1', 'epoch', ARGV[1])
            end
            redis.call('PEXPIRE', key, tonumber(ARGV[4 * i]))
            out[i] = 1
          end
        end
        return out
        """)

    /// `fill-if-not-stale` — KEYS: entry, epoch key, floor key, n fence keys, their n member
    /// sets. ARGV: lsn, epoch, ttl ms, field (`row` or `value`), payload, minimum (the worker's
    /// checkpoint as the caller read it with its miss; 0/0 when there was none).
    /// Reply: 1 filled, 0 refused by the stored entry (version >= fill; a marker only when
    /// newer: a fill at a marker's version holds the data as of it), -1 epoch is not current,
    /// -2 a current fence is above the fill's LSN, -3 LSN below the floor or below the minimum
    /// (the worker may have written, and Redis since evicted, a newer version).
    public static let fillIfNotStale = RedisScript(name: "fill-if-not-stale", source: prelude + """
        local l, e, ttl = arg_lsn(ARGV[1]), arg_epoch(ARGV[2]), arg_ttl(ARGV[3])
        local field = ARGV[4]
        if field ~= 'row' and field ~= 'value' then
          error({err = 'ERR cache-contract: the fill field is row or value'})
        end
        local minimum = arg_lsn(ARGV[6])
        local n = (#KEYS - 3) / 2
        if n < 0 or n ~= math.floor(n) then
          error({err = 'ERR cache-contract: fill takes entry, epoch, floor, then fences and as many member sets'})
        end
        if current_epoch(KEYS[2]) ~= e then return -1 end
        local floor = stored_lsn(redis.call('GET', KEYS[3]))
        if floor and cmp(l, floor) < 0 then return -3 end
        local s = redis.call('HMGET', KEYS[1], 'lsn', 'epoch', 'invalidated')
        local sl, se = stored_lsn(s[1]), tonumber(s[2])
        if sl and se then
          -- Ties refuse, except a marker's: a fill at its version holds the data as of it.
          if se > e then return 0 end
          if se == e then
            local c = cmp(sl, l)
            if c > 0 or (c == 0 and s[3] ~= '1') then return 0 end
          end
        end
        if cmp(l, minimum) < 0 then return -3 end
        for i = 1, n do
          local f = redis.call('HMGET', KEYS[3 + i], 'lsn', 'epoch')
          local fl = stored_lsn(f[1])
          if fl and tonumber(f[2]) == e and cmp(fl, l) > 0 then return -2 end
        end
        redis.call('DEL', KEYS[1])
        redis.call('HSET', KEYS[1], 'lsn', l, field, ARGV[5], 'epoch', ARGV[2])
        redis.call('PEXPIRE', KEYS[1], ttl)
        for i = 1, n do
          local set = KEYS[3 + n + i]
          redis.call('SADD', set, KEYS[1])
          if redis.call('PTTL', set) < ttl then redis.call('PEXPIRE', set, ttl) end
        end
        return 1
        """)

    /// `fill-rows-if-not-stale` — KEYS: epoch key, floor key, entry₁…entryₘ. ARGV: lsn, epoch,
    /// ttl ms, minimum, row₁…rowₘ. `fill-if-not-stale` for many row entries read at one version
    /// (a resync chunk): the same checks and writes per entry, the epoch and floor read once.
    /// Reply: one outcome per entry, as `fill-if-not-stale`'s (no fences: row fills pass none).
    public static let fillRowsIfNotStale = RedisScript(name: "fill-rows-if-not-stale", source: prelude + """
        local l, e, ttl = arg_lsn(ARGV[1]), arg_epoch(ARGV[2]), arg_ttl(ARGV[3])
        local minimum = arg_lsn(ARGV[4])
        local m = #KEYS - 2
        if m < 0 or #ARGV ~= 4 + m then
          error({err = 'ERR cache-contract: fill-rows takes the epoch and floor keys, then one row per entry'})
        end
        local out = {}
        local refuse = nil
        if current_epoch(KEYS[1]) ~= e then refuse = -1 end
        local floor = stored_lsn(redis.call('GET', KEYS[2]))
        if not refuse and floor and cmp(l, floor) < 0 then refuse = -3 end
        local below_minimum = cmp(l, minimum) < 0
        for i = 1, m do
          local key = KEYS[2 + i]
          if refuse then
            out[i] = refuse
          else
            local s = redis.call('HMGET', key, 'lsn', 'epoch', 'deleted', 'invalidated')
            local sl, se = stored_lsn(s[1]), tonumber(s[2])
            local c = (sl and se == e) and cmp(sl, l) or 0
            if sl and se and (se > e or (se == e and (c > 0 or (c == 0 and s[4] ~= '1')))) then
              out[i] = 0
            elseif below_minimum then
              out[i] = -3
            else
              if s[3] or s[4] then redis.call('DEL', key) end
              redis.call('HSET', key, 'lsn', l, 'row', ARGV[4 + i], 'epoch', ARGV[2])
              redis.call('PEXPIRE', key, ttl)
              out[i] = 1
            end
          end
        end
        return out
        """)

    /// `bump-fence` — KEYS: fence, its member set, epoch key. ARGV: lsn, epoch, ttl ms.
    /// Raises the fence to max(stored, lsn) (a fence of another epoch is replaced), refreshes
    /// its TTL, and deletes the member entries that are now stale (LSN below the fence or of
    /// another epoch). Reply: {deleted count, fence LSN}, or {-1, ''} when the epoch is not current.
    public static let bumpFence = RedisScript(name: "bump-fence", source: prelude + """
        local l, e, ttl = arg_lsn(ARGV[1]), arg_epoch(ARGV[2]), arg_ttl(ARGV[3])
        if current_epoch(KEYS[3]) ~= e then return {-1, ''} end
        local f = redis.call('HMGET', KEYS[1], 'lsn', 'epoch')
        local fl = stored_lsn(f[1])
        if not fl or tonumber(f[2]) ~= e or cmp(fl, l) < 0 then
          redis.call('DEL', KEYS[1])
          redis.call('HSET', KEYS[1], 'lsn', l, 'epoch', ARGV[2])
          fl = l
        end
        redis.call('PEXPIRE', KEYS[1], ttl)
        local deleted = 0
        for _, key in ipairs(redis.call('SMEMBERS', KEYS[2])) do
          local m = redis.call('HMGET', key, 'lsn', 'epoch')
          local ml = stored_lsn(m[1])
          if not ml then
            redis.call('SREM', KEYS[2], key)
          elseif tonumber(m[2]) ~= e or cmp(ml, fl) < 0 then
            redis.call('DEL', key)
            redis.call('SREM', KEYS[2], key)
            deleted = deleted + 1
          end
        end
        return {deleted, fl}
        """)

    /// `read` — KEYS: entry, epoch key, checkpoint key, then the fences covering the entry. No
    /// ARGV; writes nothing (EVALSHA_RO works). Reply: {valid 1/0, state 0 missing / 1 value /
    /// 2 tombstone / 3 invalidated, entry lsn, entry epoch, payload, max current-epoch fence LSN,
    /// current epoch, checkpoint}, '' for absent parts. Valid iff the entry is a value or
    /// tombstone of the current epoch and its LSN >= every fence. The checkpoint is what a fill
    /// after this miss must reach (docs/consistency.md, eviction).
    public static let read = RedisScript(name: "read", source: prelude + """
        local current = redis.call('GET', KEYS[2])
        local ce = tonumber(current or '')
        local s = redis.call('HMGET', KEYS[1], 'lsn', 'epoch', 'deleted', 'row', 'value')
        local sl = stored_lsn(s[1])
        local max_fence = nil
        for i = 4, #KEYS do
          local f = redis.call('HMGET', KEYS[i], 'lsn', 'epoch')
          local fl = stored_lsn(f[1])
          if fl and ce and tonumber(f[2]) == ce and (not max_fence or cmp(fl, max_fence) > 0) then
            max_fence = fl
          end
        end
        local state, payload = 0, ''
        if sl then
          if s[3] == '1' then state = 2
          elseif s[4] or s[5] then state = 1; payload = s[4] or s[5]
          else state = 3 end
        end
        local valid = 0
        if sl and state ~= 3 and ce and tonumber(s[2]) == ce and (not max_fence or cmp(sl, max_fence) >= 0) then
          valid = 1
        end
        local checkpoint = stored_lsn(redis.call('GET', KEYS[3]))
        return {valid, state, sl or '', s[2] or '', payload, max_fence or '', current or '', checkpoint or ''}
        """)

    /// `begin-epoch` — KEYS: epoch key, floor key, checkpoint key. ARGV: proposed epoch, floor
    /// LSN. Sets epoch = max(stored + 1, proposed), floor = the given LSN, deletes the
    /// checkpoint. Reply: the new epoch (a decimal string).
    public static let beginEpoch = RedisScript(name: "begin-epoch", source: prelude + """
        local proposed, floor = arg_epoch(ARGV[1]), arg_lsn(ARGV[2])
        local old = current_epoch(KEYS[1]) or 0
        local new = proposed
        if new <= old then new = old + 1 end
        local text = string.format('%d', new)
        redis.call('SET', KEYS[1], text)
        redis.call('SET', KEYS[2], floor)
        redis.call('DEL', KEYS[3])
        return text
        """)

    /// `set-checkpoint` — KEYS: checkpoint key, epoch key. ARGV: lsn, epoch, and optionally
    /// the checkpoint the worker last wrote. Moves the checkpoint forward only. Reply: {1 moved
    /// / 0 already at or past / -1 epoch is not current / -2 the stored checkpoint is missing or
    /// below the one the worker last wrote (Redis went back in time: restored from an older
    /// snapshot, or failed over to a replica that was behind; nothing written), stored
    /// checkpoint or ''}.
    public static let setCheckpoint = RedisScript(name: "set-checkpoint", source: prelude + """
        local l, e = arg_lsn(ARGV[1]), arg_epoch(ARGV[2])
        local last = ARGV[3] and arg_lsn(ARGV[3])
        local stored = stored_lsn(redis.call('GET', KEYS[1]))
        if current_epoch(KEYS[2]) ~= e then return {-1, stored or ''} end
        if last and (not stored or cmp(stored, last) < 0) then return {-2, stored or ''} end
        if stored and cmp(stored, l) >= 0 then return {0, stored} end
        redis.call('SET', KEYS[1], l)
        return {1, l}
        """)

    /// `record-read` — KEYS: hot set. ARGV: canonical parameter JSON, size cap, ttl ms.
    /// Adds 1 to the member's score; past twice the cap, trims to the cap's top scores.
    /// Reply: the member's new score.
    public static let recordRead = RedisScript(name: "record-read", source: prelude + """
        local cap, ttl = tonumber(ARGV[2]), arg_ttl(ARGV[3])
        if not cap or cap < 1 then error({err = 'ERR cache-contract: the hot-set cap is a positive integer'}) end
        local score = redis.call('ZINCRBY', KEYS[1], 1, ARGV[1])
        local size = redis.call('ZCARD', KEYS[1])
        if size > 2 * cap then redis.call('ZREMRANGEBYRANK', KEYS[1], 0, size - cap - 1) end
        redis.call('PEXPIRE', KEYS[1], ttl)
        return tonumber(score)
        """)

    /// Every script, e.g. to `SCRIPT LOAD` them all at start.
    public static let all: [RedisScript] = [
        setIfNewer, tombstoneIfNewer, invalidateIfNewer, writeManyIfNewer, fillIfNotStale, fillRowsIfNotStale, bumpFence, read, beginEpoch, setCheckpoint, recordRead,
    ]
}
