#!/usr/bin/env bash
# Chaos suite: a write workload with reads filling through the proxy (or the replica), two
# supervised workers on one slot (active + standby, restarted like the systemd unit does, not on
# exit 3 or 78), and faults at random points: kill -9 of the active worker, Redis restarted
# empty, the walsender terminated, the primary restarted (immediate), the replica stopped and
# started, the proxy restarted. Then an independent checker (Scripts/chaos/checker.py) compares
# every row and cached query page with the database.
#
# Runs on its OWN private stack (ports 27432/27433/27379, proxy 27434; data in
# $CHAOS_STACK_DIR, default /var/tmp/cw-chaos-stack), so it can run beside the other tests; the
# stack is removed afterwards unless --keep.
#
# Usage: Scripts/chaos/chaos.sh [--faults N] [--seed S] [--keep]     (needs .build/debug/cache-warmer)
set -euo pipefail

FAULTS=20
SEED=$RANDOM
KEEP=0
while (( $# )); do
    case "$1" in
        --faults) FAULTS="$2"; shift 2 ;;
        --seed) SEED="$2"; shift 2 ;;
        --keep) KEEP=1; shift ;;
        *) echo "usage: $0 [--faults N] [--seed S] [--keep]" >&2; exit 2 ;;
    esac
done
[[ "$FAULTS" =~ ^[0-9]+$ ]] || { echo "chaos: --faults needs a number" >&2; exit 2; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
BIN="${CACHE_WARMER_BIN:-$ROOT/.build/debug/cache-warmer}"
PY=/usr/bin/python3
[[ -x "$BIN" ]] || { echo "chaos: $BIN is missing (swift build first)" >&2; exit 2; }
if ! "$PY" -c 'import psycopg2, redis' 2>/dev/null; then
    if [[ $EUID -eq 0 ]]; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -qq python3-psycopg2 python3-redis >/dev/null 2>&1 \
            || { apt-get update -qq >/dev/null && apt-get install -y -qq python3-psycopg2 python3-redis >/dev/null; }
    else
        echo "chaos: needs python3-psycopg2 and python3-redis (apt-get install -y python3-psycopg2 python3-redis)" >&2; exit 2
    fi
fi

export STACK_DIR="${CHAOS_STACK_DIR:-/var/tmp/cw-chaos-stack}"
export STACK_PG_PORT=27432 STACK_REPLICA_PORT=27433 STACK_REDIS_PORT=27379 STACK_PROXY_PORT=27434
export STACK_REDIS_CLUSTER=0  # the chaos stack has no Redis Cluster (the shared stack's is on 27001-27006)
[[ -f "$ROOT/deploy/local/proxy.sh" ]] && export STACK_PROXY=1
STACK="$ROOT/deploy/local/stack.sh"
WORK="$(mktemp -d /tmp/cw-chaos.XXXXXX)"
RANDOM=$SEED
t0=$SECONDS
say() { printf 'chaos [%4ds]: %s\n' $(( SECONDS - t0 )) "$*"; }

"$STACK" up >"$WORK/stack.log" 2>&1 || { cat "$WORK/stack.log" >&2; exit 1; }
eval "$("$STACK" env)"
READ_URL="${DB_PROXY_URL:-$DB_READER_URL}"
READ_VIA="the replica"
[[ -n "${DB_PROXY_URL:-}" ]] && READ_VIA="the proxy (PgBouncer, two replicas)"
say "private stack up in $STACK_DIR (seed $SEED); reads fill through $READ_VIA"

NS="chaos$SEED"
SLOT="chaos_slot"
TAG=$(( 100000 + SEED ))
QUERY_SQL='SELECT id, name, "priceCents" FROM "Product" WHERE category = $category ORDER BY id LIMIT 20 OFFSET $offset'
cat >"$WORK/chaos.yaml" <<EOF
namespace: $NS
slot: $SLOT
publication: cache_warmer_pub
status_interval_s: 0.5
metrics_port: 0
entities:
  order: { table: public."Order", key: [id] }
  product: { table: public."Product", key: [id] }
queries:
  catalog-page:
    sql: $QUERY_SQL
    params: [category, offset]
    depends_on:
      - { table: public."Product", match: { param: category, column: category } }
EOF
sql() { psql "$DB_WRITER_URL" -XqAt -v ON_ERROR_STOP=1 -c "$1"; }
# Stale slots of an earlier interrupted run would pin WAL.
sql "SELECT count(pg_drop_replication_slot(slot_name)) FROM pg_replication_slots WHERE slot_name = '$SLOT' AND NOT active" >/dev/null
"$BIN" setup --config "$WORK/chaos.yaml" >"$WORK/setup.log" 2>&1 || { cat "$WORK/setup.log" >&2; exit 1; }

# Two supervised workers: restarted after any exit but 3 and 78 (as the systemd unit).
supervise() {
    local name="$1"
    while [[ ! -e "$WORK/stop-workers" ]]; do
        "$BIN" run --config "$WORK/chaos.yaml" >>"$WORK/worker-$name.log" 2>&1 &
        echo $! >"$WORK/worker-$name.pid"
        local rc=0
        wait $! || rc=$?
        echo "exit $rc" >>"$WORK/worker-$name.log"
        if (( rc == 3 || rc == 78 )); then echo "$rc" >"$WORK/worker-$name.fatal"; return; fi
        [[ -e "$WORK/stop-workers" ]] || sleep 0.5
    done
}
supervise a & SUP_A=$!
sleep 1
supervise b & SUP_B=$!

STOP="$WORK/stop-load"
"$PY" "$ROOT/Scripts/chaos/workload.py" "$DB_WRITER_URL" "$TAG" "$STOP" "$WORK/state.json" "$SEED" >"$WORK/workload.log" 2>&1 & LOAD=$!
# One read through the cache as a service would do it (CacheReads via `cache-warmer get`); a
# read that takes over 30 s is killed and counted as hung.
one_read() {
    local rc=0
    timeout -s KILL 30 "$BIN" get "$@" --config "$WORK/chaos.yaml" --reader-url "$READ_URL" >/dev/null 2>>"$WORK/reads.log" || rc=$?
    if (( rc == 137 )); then echo "$*" >>"$WORK/reads.hung"; fi
    return 0
}
reads() {
    local n=0 counter="$WORK/reads.count.$1"
    while [[ ! -e "$STOP" ]]; do
        local id
        id="$(sql "SELECT id FROM \"Order\" WHERE \"userId\" = $TAG ORDER BY random() LIMIT 1" 2>/dev/null || true)"
        [[ -n "$id" ]] && one_read order "$id"
        id="$(sql "SELECT id FROM \"Product\" WHERE category LIKE 'chaos-$TAG-%' ORDER BY random() LIMIT 1" 2>/dev/null || true)"
        [[ -n "$id" ]] && one_read product "$id"
        one_read catalog-page "category=chaos-$TAG-$(( RANDOM % 4 ))" "offset=$(( RANDOM % 2 * 20 ))"
        n=$(( n + 3 ))
        echo "$n" >"$counter"
    done
}
reads 1 & READS1=$!
reads 2 & READS2=$!

cleanup() {
    touch "$STOP" "$WORK/stop-workers"
    for f in "$WORK"/worker-*.pid; do [[ -f "$f" ]] && kill -TERM "$(cat "$f")" 2>/dev/null || true; done
    wait 2>/dev/null || true
    say "workers stopped"
    if (( KEEP )); then
        say "kept the stack and $WORK"
    else
        "$STACK" down --purge >/dev/null 2>&1 || true
        say "private stack removed"
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

# The worker process holding the slot: the owner of the walsender's client socket.
active_worker() {
    local port
    port="$(sql "SELECT r.client_port FROM pg_stat_replication r JOIN pg_replication_slots s ON s.active_pid = r.pid WHERE s.slot_name = '$SLOT'" 2>/dev/null || true)"
    [[ -n "$port" ]] || return 1
    ss -Htnp "sport = :$port" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n1 | cut -d= -f2
}
wait_active() { local i; for i in $(seq 1 300); do active_worker >/dev/null && return 0; sleep 0.1; done; return 1; }
redis_row() { redis-cli -p "$STACK_REDIS_PORT" HGET "$NS:order:$1" row 2>/dev/null; }

TAKEOVERS=()
fault_kill_worker() {
    local pid id start
    wait_active || { say "no active worker to kill"; return 1; }
    pid="$(active_worker)"
    kill -KILL "$pid"
    start=$(date +%s.%N)
    id="$(sql "INSERT INTO \"Order\" (\"userId\", \"totalCents\", note) VALUES ($TAG, 1, 'takeover probe') RETURNING id" 2>/dev/null || true)"
    local i
    for i in $(seq 1 600); do
        [[ -n "$id" && -n "$(redis_row "$id")" ]] && break
        sleep 0.02
    done
    local took
    took="$(awk -v now="$(date +%s.%N)" -v start="$start" 'BEGIN { printf "%.2f", now - start }')"
    TAKEOVERS+=("$took")
    say "kill -9 of the active worker (pid $pid): the next write was applied after ${took} s"
}
fault_redis_restart() { "$STACK" restart redis >/dev/null 2>&1; say "Redis restarted empty"; }
fault_walsender() {
    local n
    n="$(sql "SELECT count(pg_terminate_backend(active_pid)) FROM pg_replication_slots WHERE slot_name = '$SLOT' AND active_pid IS NOT NULL" 2>/dev/null || echo 0)"
    say "walsender terminated ($n)"
}
fault_primary_restart() {
    pg_ctl_as restart -D "$STACK_PG_PRIMARY_DATA" -m immediate -w -t 60 -s -l "$STACK_DIR/log/primary.log" >/dev/null 2>&1
    say "primary restarted (immediate)"
}
# pg_ctl directly: the primary and replica as their OS user, the same way stack.sh runs them.
pg_ctl_as() {
    if [[ $EUID -eq 0 ]]; then runuser -u "$STACK_PG_OS_USER" -- "$STACK_PG_BIN/pg_ctl" "$@" </dev/null; else "$STACK_PG_BIN/pg_ctl" "$@" </dev/null; fi
}
fault_replica() {
    pg_ctl_as stop -D "$STACK_PG_REPLICA_DATA" -m fast -w -t 60 -s >/dev/null 2>&1
    sleep $(( RANDOM % 3 + 1 ))
    pg_ctl_as start -D "$STACK_PG_REPLICA_DATA" -w -t 60 -s -l "$STACK_DIR/log/replica.log" >/dev/null 2>&1
    say "replica stopped and started"
}
fault_proxy() {
    local pid
    pid="$(cat "$STACK_DIR/pgbouncer/pgbouncer.pid" 2>/dev/null || true)"
    [[ -n "$pid" ]] && kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
    "$STACK" up >>"$WORK/stack.log" 2>&1 || say "stack.sh up could not restart the proxy (see $WORK/stack.log)"
    say "proxy killed and restarted"
}

KINDS=(kill_worker redis_restart walsender primary_restart replica)
[[ -n "${DB_PROXY_URL:-}" ]] && KINDS+=(proxy)
say "workload and reads running; $FAULTS faults from: ${KINDS[*]}"
wait_active || { say "FAIL: no worker streams"; exit 1; }
sleep 2
injected=0
order=()
while (( injected < FAULTS )); do
    if (( ${#order[@]} == 0 )); then order=($(printf '%s\n' "${KINDS[@]}" | shuf --random-source=<(yes "$SEED"))); fi
    kind="${order[0]}"; order=("${order[@]:1}")
    sleep "$(( RANDOM % 3 + 1 )).$(( RANDOM % 10 ))"
    "fault_$kind" || true
    injected=$(( injected + 1 ))
done
# A quiet stretch: the workload and the reads go on without faults, so pages fill again.
sleep 8
touch "$STOP"
wait "$LOAD" || true
wait "$READS1" "$READS2" || true
say "$(cat "$WORK/workload.log"); $(( $(cat "$WORK/reads.count.1" 2>/dev/null || echo 0) + $(cat "$WORK/reads.count.2" 2>/dev/null || echo 0) )) reads through the cache, $(cat "$WORK/reads.hung" 2>/dev/null | wc -l) hung over 30 s"

# Every page read once more now that the writes stopped (during the run most page fills are
# refused: the pages' fences move faster than the delayed replicas replay).
for category in 0 1 2 3; do
    for offset in 0 20; do one_read catalog-page "category=chaos-$TAG-$category" "offset=$offset"; done
done

# Everything committed is applied within 60 s: a marker written last (its commit is after every
# workload commit) reaches Redis and the checkpoint passes it; then the checker compares.
marker_lsn="$(psql "$DB_WRITER_URL" -XqAt -v ON_ERROR_STOP=1 <<EOF | tail -n1
BEGIN;
INSERT INTO "Order" ("userId", "totalCents", note) VALUES ($TAG, 0, 'chaos end marker');
SELECT pg_current_wal_insert_lsn();
COMMIT;
EOF
)"
caught_up=0
for i in $(seq 1 600); do
    checkpoint="$(redis-cli -p "$STACK_REDIS_PORT" GET "$NS:meta:checkpoint")"
    if [[ -n "$checkpoint" && "$(sql "SELECT '${checkpoint:0:8}/${checkpoint:8:8}'::pg_lsn > '$marker_lsn'")" == t ]]; then caught_up=1; break; fi
    sleep 0.1
done
healthy=1
(( caught_up )) || { say "FAIL: the Redis checkpoint did not pass the last commit ($marker_lsn) within 60 s"; healthy=0; }
for f in "$WORK"/worker-*.fatal; do [[ -f "$f" ]] && { say "FAIL: a worker exited $(cat "$f") ($f)"; healthy=0; }; done
"$BIN" status --config "$WORK/chaos.yaml" >"$WORK/status.log" 2>&1 || { say "FAIL: cache-warmer status: $(tail -n 3 "$WORK/status.log")"; healthy=0; }
grep -q "streaming (walsender pid" "$WORK/status.log" || { say "FAIL: no worker streams"; healthy=0; }

checker_rc=0
"$PY" "$ROOT/Scripts/chaos/checker.py" "$DB_WRITER_URL" "$REDIS_URL" "$NS" "$SLOT" "$WORK/state.json" "$QUERY_SQL" || checker_rc=$?
# The checker must be able to fail: one served row entry made stale must be reported.
if (( checker_rc == 0 )); then
    epoch_now="$(redis-cli -p "$STACK_REDIS_PORT" GET "$NS:meta:epoch")"
    victim=""
    # Among this run's orders (the rows the checker compares; the warm-up also caches other
    # runs' rows of the shared table, which it does not).
    for id in $("$PY" -c 'import json, sys; print(" ".join(json.load(open(sys.argv[1]))["orders"]))' "$WORK/state.json"); do
        key="$NS:order:$id"
        if [[ "$(redis-cli -p "$STACK_REDIS_PORT" HGET "$key" epoch)" == "$epoch_now" && "$(redis-cli -p "$STACK_REDIS_PORT" HEXISTS "$key" row)" == 1 ]]; then
            victim="$key"; break
        fi
    done
    if [[ -z "$victim" ]]; then
        say "FAIL: no served row entry to plant a stale value in (self-check)"; healthy=0
    else
        redis-cli -p "$STACK_REDIS_PORT" HSET "$victim" row '{"stale": true}' >/dev/null
        if "$PY" "$ROOT/Scripts/chaos/checker.py" "$DB_WRITER_URL" "$REDIS_URL" "$NS" "$SLOT" "$WORK/state.json" "$QUERY_SQL" >"$WORK/self-check.log" 2>&1; then
            say "FAIL: the checker did not notice a stale entry planted in $victim"; healthy=0
        else
            say "checker self-check: a planted stale entry is reported ($(grep -c '^checker: stale' "$WORK/self-check.log") stale)"
        fi
    fi
fi
if (( ${#TAKEOVERS[@]} )); then
    max="$(printf '%s\n' "${TAKEOVERS[@]}" | sort -g | tail -n1)"
    say "HA takeover after kill -9: ${TAKEOVERS[*]} s (max $max s)"
    if awk -v max="$max" 'BEGIN { exit !(max > 2) }'; then say "FAIL: a takeover took over 2 s"; healthy=0; fi
fi
say "faults injected $injected; worker healthy: $( (( healthy )) && echo yes || echo NO )"
if (( checker_rc != 0 || !healthy )); then
    KEEP=1
    say "FAILED: logs in $WORK (stack kept in $STACK_DIR; remove with STACK_DIR=$STACK_DIR STACK_PG_PORT=27432 STACK_REPLICA_PORT=27433 STACK_REDIS_PORT=27379 $STACK down --purge)"
    exit 1
fi
say "PASSED"
