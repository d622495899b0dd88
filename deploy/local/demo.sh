#!/usr/bin/env bash
# The demo: on the running local stack, set up the slot, start the worker, write orders and
# products for a while, and show changes flowing into Redis. Run by `make demo`.
set -euo pipefail
cd "$(dirname "$0")/../.."
eval "$(deploy/local/stack.sh env)"
BIN=${CACHE_WARMER_BIN:-.build/debug/cache-warmer}
SECONDS_TO_RUN=${DEMO_SECONDS:-20}
LOG="$STACK_DIR/demo-worker.log"
REDIS="redis-cli -h 127.0.0.1 -p $STACK_REDIS_PORT"
PSQL="psql -X -q -v ON_ERROR_STOP=1 $DB_WRITER_URL"

echo "== setup: publication and slot on the writer"
if ! "$BIN" setup --config deploy/cache-warmer.yaml; then
    # A demo slot left by an earlier run may have lost its WAL (other work on the stack wrote
    # past max_slot_wal_keep_size): the demo starts over with a new slot and a new cache epoch.
    echo "== the demo's slot is unusable: recreating it (a new cache epoch; the warm-up refills the cache)"
    "$BIN" setup --recreate-slot --config deploy/cache-warmer.yaml
fi

echo "== starting the worker (log: $LOG, metrics: http://127.0.0.1:9187/metrics)"
"$BIN" run --config deploy/cache-warmer.yaml >"$LOG" 2>&1 &
WORKER=$!
trap 'kill -TERM $WORKER 2>/dev/null || true' EXIT
for _ in $(seq 50); do
    "$BIN" status --config deploy/cache-warmer.yaml 2>/dev/null | grep -q "streaming" && break
    sleep 0.2
done

echo "== writing orders and products for ${SECONDS_TO_RUN}s; live view every second"
(
    categories=(home garden kitchen toys books)
    end=$((SECONDS + SECONDS_TO_RUN))
    i=0
    while (( SECONDS < end )); do
        i=$((i + 1))
        category=${categories[$((RANDOM % 5))]}
        $PSQL <<SQL
INSERT INTO "Order" ("userId", "totalCents", items) VALUES ($((RANDOM % 100)), $((RANDOM % 10000)), '[{"sku": "p$i", "qty": 1}]');
UPDATE "Order" SET status = 'paid', "updatedAt" = now() WHERE id = (SELECT max(id) - 1 FROM "Order");
INSERT INTO "Product" (name, category, "priceCents", "popularityScore") VALUES ('Item $i', '$category', $((RANDOM % 5000)), $((RANDOM % 100)));
UPDATE "Product" SET category = '${categories[$((RANDOM % 5))]}' WHERE id = (SELECT max(id) - 2 FROM "Product");
DELETE FROM "Order" WHERE id = (SELECT min(id) FROM "Order" WHERE status = 'paid' AND "userId" = 99);
SQL
        sleep 0.2
    done
) &
WRITER=$!

for _ in $(seq "$SECONDS_TO_RUN"); do
    sleep 1
    orders=$($REDIS --scan --pattern 'cw:order:*' | wc -l)
    products=$($REDIS --scan --pattern 'cw:product:*' | wc -l)
    fences=$($REDIS --scan --pattern 'cw:fence:*' | wc -l)
    checkpoint=$($REDIS get cw:meta:checkpoint)
    lag=$("$BIN" status --config deploy/cache-warmer.yaml 2>/dev/null | awk '/^confirmed lag/{print $3, $4}')
    printf '%s  order keys %4d  product keys %4d  fences %3d  checkpoint %s  slot lag %s\n' \
        "$(date +%T)" "$orders" "$products" "$fences" "$checkpoint" "$lag"
done
wait "$WRITER"

latest=$($PSQL -Atc 'SELECT max(id) FROM "Order"')
echo "== the newest order, in Postgres and in Redis (cw:order:$latest)"
$PSQL -Atc "SET TimeZone = 'UTC'; SELECT to_jsonb(o)::text FROM \"Order\" o WHERE id = $latest"
$REDIS hget "cw:order:$latest" row
echo "== the warm-up: when run begins a new epoch (first start, Redis lost its data) it resyncs from the replica"
grep -E "warm-up|resync finished" "$LOG" | tail -4 || echo "(no new epoch this run: the cache was already current)"
echo "== resync on demand (orders of the last 30 days, as warm: says), then verify against the database"
"$BIN" resync order --config deploy/cache-warmer.yaml 2>/dev/null
"$BIN" verify order --sample 500 --config deploy/cache-warmer.yaml 2>/dev/null || echo "verify found stale entries (exit 1)"
echo "== stopping the worker (SIGTERM: finishes the batch, acknowledges, exits 0)"
kill -TERM "$WORKER"
wait "$WORKER" && echo "worker exited 0"
trap - EXIT
"$BIN" status --config deploy/cache-warmer.yaml
