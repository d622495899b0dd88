#!/usr/bin/python3
"""Independent checker for the chaos suite: applies the cache contract's read rules
(docs/cache-protocol.md sections 1-3 and the `read` script) itself, with its own Redis and
Postgres clients, and compares every row entry and cached query page of the run with the
database. It shares no code with the worker or the readers.

An entry is SERVED when its `lsn` is 16 uppercase hex digits, its `epoch` equals
`<ns>:meta:epoch`, and its `lsn` is at least every fence that covers it (fences of the current
epoch only). Counts:
  stale    a served entry that differs from the database (row JSON, tombstone for a live row,
           row for a deleted one, a query page that is not the query's current result)
  missing  a change committed after the current epoch's fill floor (so the worker must have
           written it, and Redis evicts nothing here) whose row entry is not served with the
           database's value: an acknowledged change lost. An invalidation marker of the
           current epoch at or above the change is not missing (the contract lets the worker
           invalidate instead of writing through; readers refill): counted as invalidated
  ack      the slot's confirmed_flush_lsn must not pass the Redis checkpoint (nothing is
           acknowledged that Redis has not confirmed)

Usage: checker.py WRITER_URL REDIS_URL NAMESPACE SLOT STATE_FILE QUERY_SQL
Prints one summary line; exit 0 when stale = missing = 0 and the acknowledgement holds.
"""
import hashlib
import json
import re
import sys

import psycopg2
import redis

writer_url, redis_url, ns, slot, state_file, query_sql = sys.argv[1:7]
state = json.load(open(state_file))
LSN16 = re.compile(r"^[0-9A-F]{16}$")


def lsn16(text):
    """pg_lsn text X/Y -> the contract's 16-hex form."""
    high, low = text.split("/")
    return f"{int(high, 16):08X}{int(low, 16):08X}"


db = psycopg2.connect(writer_url)
db.autocommit = True
cur = db.cursor()
cur.execute("SET TimeZone = 'UTC'; SET DateStyle = 'ISO, MDY'; SET extra_float_digits = 1; "
            "SET IntervalStyle = 'postgres'; SET bytea_output = 'hex'")
r = redis.Redis.from_url(redis_url, decode_responses=True)

# The slot's position first, then Redis' checkpoint: the worker keeps running, and a checkpoint
# read later can only be higher, so "confirmed <= checkpoint" holds for any correct worker.
cur.execute("SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = %s", (slot,))
row = cur.fetchone()
confirmed = lsn16(row[0]) if row and row[0] else None
epoch = r.get(f"{ns}:meta:epoch")
floor = r.get(f"{ns}:meta:floor") or "0" * 16
checkpoint = r.get(f"{ns}:meta:checkpoint")


def fence_lsn(key):
    f = r.hgetall(key)
    if LSN16.match(f.get("lsn", "")) and epoch is not None and f.get("epoch") == epoch:
        return f["lsn"]
    return None


def served(entry, fences):
    """The `read` script's validity rule, restated."""
    lsn = entry.get("lsn", "")
    if not LSN16.match(lsn) or epoch is None or entry.get("epoch") != epoch:
        return False
    if "row" not in entry and "value" not in entry and entry.get("deleted") != "1":
        return False  # invalidation marker: a miss
    return all(f is None or lsn >= f for f in fences)


stats = {"rows": 0, "pages": 0, "stale": 0, "missing": 0, "served": 0, "invalidated": 0}


def marked_at_or_after(entry, lsn):
    """An invalidation marker of the current epoch at or above `lsn` (16-hex form)."""
    return (entry.get("invalidated") == "1" and LSN16.match(entry.get("lsn", "")) is not None
            and epoch is not None and entry.get("epoch") == epoch and entry["lsn"] >= lsn)
problems = []


def check_rows(entity, table, ids, where):
    cur.execute(f'SELECT id, to_jsonb(t)::text FROM "{table}" t WHERE {where}')
    database = {str(i): text for i, text in cur.fetchall()}
    entity_fence = fence_lsn(f"{ns}:fence:{entity}")
    for rid in sorted(set(database) | {str(i) for i in ids}, key=int):
        stats["rows"] += 1
        entry = r.hgetall(f"{ns}:{entity}:{rid}")
        is_served = served(entry, [entity_fence])
        current = database.get(rid)
        if is_served:
            stats["served"] += 1
            cached = entry.get("row") if entry.get("deleted") != "1" else None
            if cached != current:
                stats["stale"] += 1
                problems.append(f"stale {entity} {rid}: cached {cached!r} (lsn {entry.get('lsn')}), database {current!r}")
                continue
        lower_bound = ids.get(rid)
        if lower_bound is not None and lsn16(lower_bound) > floor:
            if not is_served:
                if marked_at_or_after(entry, lsn16(lower_bound)):
                    # The worker may invalidate instead of writing through (contract section 10,
                    # e.g. a key left after a row arrived at it under a FULL replica identity):
                    # the change reached Redis, and readers refill.
                    stats["invalidated"] += 1
                    continue
                stats["missing"] += 1
                problems.append(f"missing {entity} {rid}: changed after the floor {floor} (>= {lower_bound}) but not served: {entry}")


check_rows("order", "Order", {str(k): v for k, v in state["orders"].items()}, f'"userId" = {int(state["tag"])}')
categories = state["categories"]
check_rows("product", "Product", {str(k): v for k, v in state["products"].items()},
           "category = ANY(%s)" % ("ARRAY[" + ",".join("'" + c.replace("'", "''") + "'" for c in categories) + "]"))

# Cached query pages: the parameter hash is SHA-256 of the canonical parameter JSON, which is
# what jsonb prints for the parameter object (contract section 5).
query_fence = fence_lsn(f"{ns}:fence:catalog-page")
for category in categories:
    for offset in (0, 20):
        cur.execute("SELECT jsonb_build_object('category', %s::text, 'offset', %s::int)::text", (category, offset))
        params = cur.fetchone()[0]
        key = f"{ns}:q:catalog-page:" + hashlib.sha256(params.encode()).hexdigest()[:32]
        entry = r.hgetall(key)
        if not entry:
            continue
        stats["pages"] += 1
        escaped = category.replace("%", "%25").replace(":", "%3A").replace("=", "%3D")
        fences = [query_fence, fence_lsn(f"{ns}:fence:catalog-page:category={escaped}")]
        if not served(entry, fences):
            continue
        stats["served"] += 1
        sql = query_sql.replace("$category", "%(category)s").replace("$offset", "%(offset)s")
        cur.execute(f"SELECT coalesce(jsonb_agg(to_jsonb(q)), '[]'::jsonb)::text FROM ({sql}) q",
                    {"category": category, "offset": offset})
        current = cur.fetchone()[0]
        if json.loads(entry.get("value", "null")) != json.loads(current):
            stats["stale"] += 1
            problems.append(f"stale page {params}: cached {entry.get('value')!r} (lsn {entry.get('lsn')}), database {current!r}")

ack_ok = confirmed is not None and checkpoint is not None and confirmed <= checkpoint
if not ack_ok:
    problems.append(f"acknowledgement: slot confirmed_flush_lsn {confirmed} vs Redis checkpoint {checkpoint}")

for line in problems[:30]:
    print("checker:", line)
print(f"checker: rows checked {stats['rows']}, query pages checked {stats['pages']}, served {stats['served']}, "
      f"stale {stats['stale']}, missing {stats['missing']}, invalidated {stats['invalidated']}, slot confirmed {confirmed} <= checkpoint {checkpoint}: "
      f"{'yes' if ack_ok else 'NO'} (epoch {epoch}, floor {floor})")
sys.exit(0 if stats["stale"] == 0 and stats["missing"] == 0 and ack_ok else 1)
