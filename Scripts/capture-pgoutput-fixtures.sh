#!/usr/bin/env bash
#
# capture-pgoutput-fixtures.sh -- regenerate the byte-exact pgoutput fixtures in
# Tests/PGOutputTests/Fixtures/ from a real PostgreSQL (15) server.
#
# What it does:
#   * initdb's a throwaway cluster in a mktemp dir (wal_level=logical, UTC, C locale),
#     listening on 127.0.0.1:$CAPTURE_PG_PORT (default 55499) and on a unix socket in
#     the temp dir; as root, every PostgreSQL command runs as the `postgres` OS user;
#   * creates publication `p` FOR ALL TABLES;
#   * per scenario: creates the scenario's tables, then a fresh pgoutput slot, runs the
#     scenario SQL, reads the slot with pg_logical_slot_peek_binary_changes() and writes
#     Tests/PGOutputTests/Fixtures/<scenario>.txt, then drops the slot;
#   * streamed_aborted peeks while the transaction is still open (from a second session),
#     because decoding an already-aborted transaction yields empty stream blocks;
#   * checks that every fixture contains the message kinds it exists for (fails otherwise);
#   * prints a summary; stops the server and deletes the temp dir on exit.
#
# Fixture format (see Tests/PGOutputTests/Fixtures/README.md):
#   "# "-prefixed header lines (scenario, description, options, server version), then one
#   line per pgoutput message: <lsn>\t<xid>\t<lowercase hex of the message bytes>.
#
# The SQL is fixed, so reruns produce the same messages; only LSNs, xids, relation/type
# OIDs and commit timestamps differ from run to run.
#
# Environment:
#   CAPTURE_PG_PORT   TCP port on 127.0.0.1 for the throwaway server (default 55499)
#   PG_BINDIR         PostgreSQL bin dir (default /usr/lib/postgresql/15/bin, else pg_config --bindir)
#   CAPTURE_OUT_DIR   output dir (default <repo>/Tests/PGOutputTests/Fixtures)
#
set -euo pipefail

# The decoding session's GUCs shape the text forms in the fixtures: ignore the caller's.
unset PGOPTIONS PGTZ PGDATESTYLE PGCLIENTENCODING PGSERVICE PGSERVICEFILE PGSYSCONFDIR \
    PGHOST PGHOSTADDR PGPORT PGUSER PGDATABASE PGPASSWORD PGPASSFILE PSQLRC

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
OUT_DIR="${CAPTURE_OUT_DIR:-$REPO_ROOT/Tests/PGOutputTests/Fixtures}"
PORT="${CAPTURE_PG_PORT:-55499}"
DB=fixtures

die() { echo "capture-pgoutput-fixtures: error: $*" >&2; exit 1; }
log() { echo "capture-pgoutput-fixtures: $*" >&2; }

# ---------------------------------------------------------------------------------------
# Locate PostgreSQL.
if [[ -z "${PG_BINDIR:-}" ]]; then
    if [[ -x /usr/lib/postgresql/15/bin/postgres ]]; then
        PG_BINDIR=/usr/lib/postgresql/15/bin
    elif command -v pg_config >/dev/null 2>&1; then
        PG_BINDIR=$(pg_config --bindir)
    else
        die "PostgreSQL binaries not found; set PG_BINDIR"
    fi
fi
for b in initdb pg_ctl psql postgres; do
    [[ -x "$PG_BINDIR/$b" ]] || die "$PG_BINDIR/$b not found or not executable"
done
PG_MAJOR=$("$PG_BINDIR/postgres" --version | sed -E 's/^[^0-9]*([0-9]+).*/\1/')
if [[ "$PG_MAJOR" != 15 ]]; then
    log "warning: PostgreSQL $PG_MAJOR found; the committed fixtures come from PostgreSQL 15"
fi

[[ "$PORT" =~ ^[0-9]+$ ]] || die "CAPTURE_PG_PORT must be a number, got '$PORT'"
if (: </dev/tcp/127.0.0.1/"$PORT") 2>/dev/null; then
    die "port $PORT on 127.0.0.1 is already in use; set CAPTURE_PG_PORT to a free port"
fi

# Run PostgreSQL commands as a non-root user.
if [[ $EUID -eq 0 ]]; then
    id -u postgres >/dev/null 2>&1 || die "running as root but there is no 'postgres' OS user"
    as_pg() { runuser -u postgres -- "$@"; }
else
    as_pg() { "$@"; }
fi

# ---------------------------------------------------------------------------------------
# Throwaway cluster.
WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/pgfx.XXXXXX")
PGDATA_DIR="$WORK_DIR/data"
SOCK_DIR="$WORK_DIR"
PG_LOG="$WORK_DIR/server.log"
SERVER_STARTED=0

cleanup() {
    local rc=$?
    set +e
    { exec 7>&-; } 2>/dev/null   # background psql session (if any) sees EOF
    if [[ $SERVER_STARTED -eq 1 ]]; then
        as_pg "$PG_BINDIR/pg_ctl" -D "$PGDATA_DIR" -m fast -w stop >/dev/null 2>&1 \
            || as_pg "$PG_BINDIR/pg_ctl" -D "$PGDATA_DIR" -m immediate -w stop >/dev/null 2>&1
    fi
    if [[ $rc -ne 0 && -f "$PG_LOG" ]]; then
        echo "---- last lines of the server log ----" >&2
        tail -n 30 "$PG_LOG" >&2
    fi
    [[ -n "${BG_PID:-}" ]] && wait "$BG_PID" 2>/dev/null
    rm -rf "$WORK_DIR"
    rm -f "$OUT_DIR"/.*.txt.tmp 2>/dev/null
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [[ $EUID -eq 0 ]]; then
    chown postgres: "$WORK_DIR"
fi
chmod 700 "$WORK_DIR"
cd "$WORK_DIR"   # a cwd the postgres user can access

log "initdb in $PGDATA_DIR (PostgreSQL $PG_MAJOR from $PG_BINDIR)"
as_pg "$PG_BINDIR/initdb" -D "$PGDATA_DIR" -U postgres --auth=trust \
    --encoding=UTF8 --locale=C --no-sync >/dev/null

as_pg tee -a "$PGDATA_DIR/postgresql.conf" >/dev/null <<EOF

# ---- capture-pgoutput-fixtures.sh ----
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$SOCK_DIR'
wal_level = logical
max_replication_slots = 10
max_wal_senders = 10
max_prepared_transactions = 10
TimeZone = 'UTC'
log_timezone = 'UTC'
DateStyle = 'ISO, MDY'
IntervalStyle = 'postgres'
extra_float_digits = 1
bytea_output = 'hex'
lc_messages = 'C'
# NB: keep synchronous_commit on: the SQL decoding functions only read WAL up to the
# flush position, so asynchronously committed transactions can be missing from a peek.
fsync = off
full_page_writes = off
autovacuum = off
EOF

log "starting server on 127.0.0.1:$PORT (socket in $SOCK_DIR)"
SERVER_STARTED=1
as_pg "$PG_BINDIR/pg_ctl" -D "$PGDATA_DIR" -l "$PG_LOG" -w -t 60 start >/dev/null

# psql as the postgres user over the unix socket; stops at the first error.
psql_pg() {
    as_pg "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK_DIR" -p "$PORT" -U postgres "$@"
}
psql_pg -d postgres -c "CREATE DATABASE $DB"
sql() { psql_pg -d "$DB" "$@"; }

SERVER_VERSION=$(sql -At -c "SELECT current_setting('server_version') || ' (server_version_num ' || current_setting('server_version_num') || ')'")
sql -c "CREATE PUBLICATION p FOR ALL TABLES"

mkdir -p "$OUT_DIR"

# ---------------------------------------------------------------------------------------
# Scenario plumbing. A scenario sets SETUP_SQL (tables etc., run before the slot exists)
# and BODY_SQL (the changes), then calls
#   capture NAME DESCRIPTION PROTO STREAMING BINARY MESSAGES TWO_PHASE WORK_MEM
# STREAMING/TWO_PHASE: on|off; BINARY/MESSAGES: true|false; WORK_MEM: '-' or e.g. 64kB,
# the logical_decoding_work_mem of the decoding session (= the session that peeks).
# The slot is fx_NAME, created with two_phase => (TWO_PHASE == on).
SETUP_SQL=""
BODY_SQL=""
CAPTURED=()
S_NAME="" S_DESC="" S_PROTO="" S_STREAMING="" S_BINARY="" S_MESSAGES="" S_TWO_PHASE="" S_WORK_MEM=""

begin_scenario() {
    S_NAME=$1 S_DESC=$2 S_PROTO=$3 S_STREAMING=$4 S_BINARY=$5 S_MESSAGES=$6 S_TWO_PHASE=$7 S_WORK_MEM=$8
    local slot_two_phase=false
    [[ $S_TWO_PHASE == on ]] && slot_two_phase=true
    log "scenario $S_NAME"
    if [[ -n "$SETUP_SQL" ]]; then
        sql -o /dev/null <<<"$SETUP_SQL"
    fi
    sql -o /dev/null -c "SELECT pg_create_logical_replication_slot('fx_$S_NAME', 'pgoutput', false, $slot_two_phase)"
}

# peek_rows: the slot's messages as "<lsn>\t<xid>\t<hex>" lines, without consuming them.
# CHECKPOINT first: the SQL decoding functions only read WAL up to the *flushed* position,
# and some records are never flushed by themselves (pg_logical_emit_message(false, ...)
# outside a transaction, the abort record of a plain ROLLBACK).
peek_rows() {
    local session_set=""
    [[ $S_WORK_MEM != - ]] && session_set="SET logical_decoding_work_mem = '$S_WORK_MEM';"
    sql -At -F $'\t' <<SQL
CHECKPOINT;
$session_set
SELECT lsn, xid, encode(data, 'hex')
  FROM pg_logical_slot_peek_binary_changes('fx_$S_NAME', NULL, NULL,
         'proto_version', '$S_PROTO',
         'publication_names', 'p',
         'streaming', '$S_STREAMING',
         'binary', '$S_BINARY',
         'messages', '$S_MESSAGES',
         'two_phase', '$S_TWO_PHASE');
SQL
}

# write_fixture NAME DESCRIPTION ROWS_FILE: header + rows -> $OUT_DIR/NAME.txt (atomically).
write_fixture() {
    local name=$1 desc=$2 rows=$3
    local tmp="$OUT_DIR/.$name.txt.tmp"
    local opts="proto_version=$S_PROTO streaming=$S_STREAMING binary=$S_BINARY messages=$S_MESSAGES two_phase=$S_TWO_PHASE"
    [[ $S_WORK_MEM != - ]] && opts+=" logical_decoding_work_mem=$S_WORK_MEM"
    [[ -s "$rows" ]] || die "scenario $name: the slot returned no messages"
    {
        printf '# scenario: %s\n' "$name"
        printf '# description: %s\n' "$desc"
        printf '# options: %s\n' "$opts"
        printf '# server_version: %s\n' "$SERVER_VERSION"
        cat "$rows"
    } >"$tmp"
    mv -f "$tmp" "$OUT_DIR/$name.txt"
    CAPTURED+=("$name")
}

end_scenario() {
    sql -o /dev/null -c "SELECT pg_drop_replication_slot('fx_$S_NAME')"
    SETUP_SQL=""
    BODY_SQL=""
}

capture() {
    begin_scenario "$@"
    sql -o /dev/null <<<"$BODY_SQL"
    peek_rows >"$WORK_DIR/rows"
    write_fixture "$S_NAME" "$S_DESC" "$WORK_DIR/rows"
    end_scenario
}

# A second psql session kept open in the background (stdin is a FIFO), so a transaction can
# stay in progress while the slot is peeked from another session.
BG_PID=""
bg_session_start() {
    local fifo="$WORK_DIR/bg.fifo"
    rm -f "$fifo" "$WORK_DIR/bg.ready"
    mkfifo "$fifo"
    [[ $EUID -eq 0 ]] && chown postgres: "$fifo"
    sql -o /dev/null <"$fifo" &
    BG_PID=$!
    exec 7>"$fifo"
}
# bg_session_run SQL: send SQL and wait until the session has executed it.
bg_session_run() {
    printf '%s\n\\! touch %s\n' "$1" "$WORK_DIR/bg.ready" >&7
    local i
    for ((i = 0; i < 600; i++)); do
        [[ -f "$WORK_DIR/bg.ready" ]] && { rm -f "$WORK_DIR/bg.ready"; return 0; }
        kill -0 "$BG_PID" 2>/dev/null || die "background psql session exited early"
        sleep 0.1
    done
    die "background psql session did not finish within 60 s"
}
bg_session_end() {
    exec 7>&-
    wait "$BG_PID" || die "background psql session failed"
    BG_PID=""
}

# LSN "X/Y" -> integer
lsn_num() { local hi=${1%/*} lo=${1#*/}; echo $(((16#$hi << 32) | 16#$lo)); }

# Message type letters (first data byte) of a fixture, one "<count> <letter>" per line.
type_counts() {
    { grep -v '^# ' "$1" || true; } | cut -f3 | cut -c1-2 | sort | uniq -c | while read -r n h; do
        printf '%s %b\n' "$n" "\\x$h"
    done
}

# expect NAME CHECK... ; CHECK is
#   X      message type X occurs          X=N   exactly N times       X>=N  at least N times
#   !X     message type X does not occur  ~RE   some message's hex matches the ERE RE
CHECK_FAILURES=0
expect() {
    local name=$1; shift
    local file="$OUT_DIR/$name.txt" counts c letter n want
    counts=$(type_counts "$file")
    for c in "$@"; do
        case $c in
        '~'*)
            # (no grep -q: with pipefail an early exit would fail the pipeline via SIGPIPE)
            if ! { grep -v '^# ' "$file" || true; } | cut -f3 | grep -E -- "${c#\~}" >/dev/null; then
                log "CHECK FAILED: $name: no message matches /${c#\~}/"
                CHECK_FAILURES=$((CHECK_FAILURES + 1))
            fi
            continue ;;
        '!'*) letter=${c#!}; want=none ;;
        *'>='*) letter=${c%%>=*}; want=">=${c#*>=}" ;;
        *'='*) letter=${c%%=*}; want="=${c#*=}" ;;
        *) letter=$c; want=">=1" ;;
        esac
        n=$(awk -v l="$letter" '$2 == l { print $1 }' <<<"$counts")
        n=${n:-0}
        local ok=1
        case $want in
        none) [[ $n -eq 0 ]] || ok=0 ;;
        '>='*) [[ $n -ge ${want#>=} ]] || ok=0 ;;
        '='*) [[ $n -eq ${want#=} ]] || ok=0 ;;
        esac
        if [[ $ok -eq 0 ]]; then
            log "CHECK FAILED: $name: message type '$letter' occurs $n times, expected $want"
            CHECK_FAILURES=$((CHECK_FAILURES + 1))
        fi
    done
}

# =======================================================================================
# Scenarios. Hex patterns in the checks: 42 B, 43 C, 52 R, 49 I, 55 U, 44 D, 54 T, 4d M,
# 4e 'N' new tuple, 4f 'O' old tuple, 4b 'K' key, 74 't' text, 62 'b' binary,
# 6e 'n' null, 75 'u' unchanged TOAST.

# 1 -------------------------------------------------------------------------------------
SETUP_SQL=$(cat <<'SQL'
CREATE TABLE fx_default (id int PRIMARY KEY, name text, qty int);
ALTER TABLE fx_default REPLICA IDENTITY DEFAULT;
SQL
)
BODY_SQL=$(cat <<'SQL'
INSERT INTO fx_default VALUES (1, 'apple', 10), (2, 'banana', 20);
UPDATE fx_default SET qty = 11 WHERE id = 1;
DELETE FROM fx_default WHERE id = 2;
SQL
)
capture insert_update_delete_default_identity \
    "REPLICA IDENTITY DEFAULT: insert 2 rows, update a non-key column (no old tuple), delete (old key 'K')" \
    1 off false false off -
expect insert_update_delete_default_identity B=3 C=3 R=1 I=2 U=1 D=1 \
    '~^55[0-9a-f]{8}4e' '~^44[0-9a-f]{8}4b'

# 2 -------------------------------------------------------------------------------------
SETUP_SQL=$(cat <<'SQL'
CREATE TABLE fx_full (id int PRIMARY KEY, name text, qty int);
ALTER TABLE fx_full REPLICA IDENTITY FULL;
SQL
)
BODY_SQL=$(cat <<'SQL'
INSERT INTO fx_full VALUES (1, 'apple', 10), (2, 'banana', 20);
UPDATE fx_full SET qty = 11 WHERE id = 1;
DELETE FROM fx_full WHERE id = 2;
SQL
)
capture insert_update_delete_full_identity \
    "REPLICA IDENTITY FULL: insert 2 rows, update a non-key column (old tuple 'O' + new 'N'), delete (old tuple 'O')" \
    1 off false false off -
expect insert_update_delete_full_identity B=3 C=3 R=1 I=2 U=1 D=1 \
    '~^55[0-9a-f]{8}4f' '~^44[0-9a-f]{8}4f'

# 3 -------------------------------------------------------------------------------------
# 320 md5 hex digests = 10240 chars: too big to stay inline and not compressible by pglz,
# so it is stored out of line in the TOAST table.
SETUP_SQL=$(cat <<'SQL'
CREATE TABLE fx_toast (id int PRIMARY KEY, big text, small int);
SQL
)
BODY_SQL=$(cat <<'SQL'
INSERT INTO fx_toast
  SELECT 1, string_agg(md5(i::text), '' ORDER BY i), 1 FROM generate_series(1, 320) AS i;
UPDATE fx_toast SET small = 2 WHERE id = 1;
UPDATE fx_toast
   SET big = (SELECT string_agg(md5((i + 1000)::text), '' ORDER BY i) FROM generate_series(1, 320) AS i)
 WHERE id = 1;
SQL
)
capture toast_unchanged \
    "out-of-line TOAST text: insert (full value), update only 'small' (big sent as 'u' unchanged), update big (new full value)" \
    1 off false false off -
# second message of the first update: U, relid, N, 3 cols: t "1", u, t "2"
expect toast_unchanged B=3 C=3 R=1 I=1 U=2 \
    '~^55[0-9a-f]{8}4e000374000000013175740000000132$'

# 4 -------------------------------------------------------------------------------------
SETUP_SQL=$(cat <<'SQL'
CREATE TABLE fx_pk (id int PRIMARY KEY, name text);
SQL
)
BODY_SQL=$(cat <<'SQL'
INSERT INTO fx_pk VALUES (1, 'one');
UPDATE fx_pk SET id = 100 WHERE id = 1;
UPDATE fx_pk SET name = 'hundred' WHERE id = 100;
SQL
)
capture primary_key_change \
    "REPLICA IDENTITY DEFAULT: update id 1 -> 100 (old key 'K' + new 'N'), then a non-key update (new 'N' only)" \
    1 off false false off -
expect primary_key_change B=3 C=3 R=1 I=1 U=2 '~^55[0-9a-f]{8}4b' '~^55[0-9a-f]{8}4e'

# 5 -------------------------------------------------------------------------------------
SETUP_SQL=$(cat <<'SQL'
CREATE TABLE fx_trunc_a (id serial PRIMARY KEY, label text);
CREATE TABLE fx_trunc_b (id serial PRIMARY KEY, a_id int REFERENCES fx_trunc_a (id), label text);
SQL
)
BODY_SQL=$(cat <<'SQL'
SET client_min_messages = warning;  -- no "truncate cascades" NOTICE
INSERT INTO fx_trunc_a (label) VALUES ('a1'), ('a2');
INSERT INTO fx_trunc_b (a_id, label) VALUES (1, 'b1');
TRUNCATE fx_trunc_a, fx_trunc_b;
INSERT INTO fx_trunc_a (label) VALUES ('a3');
INSERT INTO fx_trunc_b (a_id, label) VALUES (3, 'b2');
TRUNCATE fx_trunc_a RESTART IDENTITY CASCADE;
SQL
)
capture truncate_two_tables \
    "TRUNCATE a, b (options 0, 2 relids); later TRUNCATE a RESTART IDENTITY CASCADE (options 3, b included by cascade)" \
    1 off false false off -
expect truncate_two_tables T=2 I=5 R '~^5400000002000' '~^5400000002030'

# 6 -------------------------------------------------------------------------------------
SETUP_SQL=$(cat <<'SQL'
CREATE TABLE fx_msg (id int PRIMARY KEY, note text);
SQL
)
BODY_SQL=$(cat <<'SQL'
BEGIN;
INSERT INTO fx_msg VALUES (1, 'with message');
SELECT pg_logical_emit_message(true, 'prefix-tx', 'payload');
COMMIT;
SELECT pg_logical_emit_message(false, 'prefix-nontx', 'payload2');
SQL
)
capture logical_messages \
    "transactional message 'prefix-tx'/'payload' inside a txn with an insert; non-transactional 'prefix-nontx'/'payload2' outside" \
    1 off false true off -
expect logical_messages M=2 B=1 C=1 I=1 '~^4d01' '~^4d00'

# 7 -------------------------------------------------------------------------------------
SETUP_SQL=$(cat <<'SQL'
CREATE TABLE fx_alter (id int PRIMARY KEY, name text);
SQL
)
BODY_SQL=$(cat <<'SQL'
INSERT INTO fx_alter VALUES (1, 'before');
ALTER TABLE fx_alter ADD COLUMN note text;
INSERT INTO fx_alter VALUES (2, 'after', 'new column');
SQL
)
capture alter_table_between_inserts \
    "insert, ALTER TABLE ADD COLUMN note text, insert: two Relation messages (2 then 3 columns) for the same OID" \
    1 off false false off -
expect alter_table_between_inserts R=2 I=2 B=2 C=2

# 8 -------------------------------------------------------------------------------------
SETUP_SQL=$(cat <<'SQL'
CREATE TABLE fx_stream (id int PRIMARY KEY, payload text);
SQL
)
BODY_SQL=$(cat <<'SQL'
BEGIN;
INSERT INTO fx_stream SELECT i, 'row-' || i FROM generate_series(1, 1000) AS i;
COMMIT;
SQL
)
capture streamed_committed \
    "one committed txn of 1000 small inserts, streamed (logical_decoding_work_mem=64kB): 2 full S..E blocks, the rest in a last S..E at commit, then Stream Commit" \
    2 on false false off 64kB
expect streamed_committed 'S>=3' 'E>=3' c=1 I=1000 R=1 '!B' '!C' '~^53[0-9a-f]{8}01$' '~^53[0-9a-f]{8}00$'

# 9 -------------------------------------------------------------------------------------
# Decoding an aborted transaction *after* the abort is not what a live walsender sees: the
# decoder notices the abort when it reads the catalogs ("concurrent abort") and sends the
# stream blocks empty. So the slot is peeked while the transaction is still open (a second
# session keeps it open); that gives the stream blocks with their changes and the Stream
# Abort of the rolled-back subtransaction. After the ROLLBACK, a second peek gives the Stream
# Abort of the top-level transaction: its messages past the last LSN of the first peek are
# appended. The second peek as a whole is kept as streamed_aborted_catchup.
SETUP_SQL=$(cat <<'SQL'
CREATE TABLE fx_stream_abort (id int PRIMARY KEY, payload text);
SQL
)
BODY_SQL=$(cat <<'SQL'
BEGIN;
INSERT INTO fx_stream_abort SELECT i, 'row-' || i FROM generate_series(1, 500) AS i;
SAVEPOINT s1;
INSERT INTO fx_stream_abort SELECT i, 'row-' || i FROM generate_series(501, 1000) AS i;
ROLLBACK TO SAVEPOINT s1;
INSERT INTO fx_stream_abort VALUES (1001, 'after rollback to savepoint');
SQL
)
begin_scenario streamed_aborted \
    "txn: 500 inserts, SAVEPOINT s1, 500 inserts, ROLLBACK TO s1, 1 insert, ROLLBACK; streamed blocks, Stream Abort (xid, subxid) of s1, Stream Abort (xid, xid); peeked live + after rollback" \
    2 on false false off 64kB
bg_session_start
bg_session_run "$BODY_SQL"
peek_rows >"$WORK_DIR/rows_live"       # txn still in progress
bg_session_run "ROLLBACK;"
bg_session_end
peek_rows >"$WORK_DIR/rows_after"      # txn aborted: empty stream blocks + aborts
last_lsn=$(lsn_num "$(tail -n 1 "$WORK_DIR/rows_live" | cut -f1)")
cp "$WORK_DIR/rows_live" "$WORK_DIR/rows"
while IFS= read -r row; do
    if (($(lsn_num "${row%%$'\t'*}") > last_lsn)); then
        printf '%s\n' "$row" >>"$WORK_DIR/rows"
    fi
done <"$WORK_DIR/rows_after"
write_fixture streamed_aborted "$S_DESC" "$WORK_DIR/rows"
write_fixture streamed_aborted_catchup \
    "same txn as streamed_aborted, but decoded only after the ROLLBACK: the decoder detects the abort (concurrent abort) and sends empty S..E blocks, then both Stream Aborts" \
    "$WORK_DIR/rows_after"
end_scenario
expect streamed_aborted 'S>=2' 'E>=2' A=2 'I>=500' R=1 '!B' '!C' '!c'
expect streamed_aborted_catchup 'S>=1' 'E>=1' A=2 '!I' '!B' '!C' '!c'

# 10 ------------------------------------------------------------------------------------
SETUP_SQL=$(cat <<'SQL'
CREATE TABLE fx_2pc (id int PRIMARY KEY, note text);
SQL
)
BODY_SQL=$(cat <<'SQL'
BEGIN;
INSERT INTO fx_2pc VALUES (1, 'committed');
PREPARE TRANSACTION 'fx1';
COMMIT PREPARED 'fx1';
BEGIN;
INSERT INTO fx_2pc VALUES (2, 'rolled back');
PREPARE TRANSACTION 'fx2';
ROLLBACK PREPARED 'fx2';
SQL
)
capture two_phase \
    "two-phase: PREPARE TRANSACTION 'fx1' + COMMIT PREPARED, PREPARE TRANSACTION 'fx2' + ROLLBACK PREPARED" \
    3 off false false on -
expect two_phase b=2 P=2 K=1 r=1 I=2 '!B' '!C'

# 11 ------------------------------------------------------------------------------------
SETUP_SQL=$(cat <<'SQL'
CREATE TABLE fx_binary (
    id     int4 PRIMARY KEY,
    big    int8,
    name   text,
    flag   bool,
    amount numeric,
    at     timestamptz
);
SQL
)
BODY_SQL=$(cat <<'SQL'
INSERT INTO fx_binary VALUES
  (1, 9000000000, 'alpha', true,  12345.6789, '2026-01-02 03:04:05.123456+00'),
  (2, -42,        'beta',  false, -0.5,       '2000-01-01 00:00:00+00'),
  (3, NULL,       NULL,    NULL,  NULL,       NULL);
UPDATE fx_binary SET flag = false, amount = 1.5 WHERE id = 1;
DELETE FROM fx_binary WHERE id = 3;
SQL
)
capture binary_mode \
    "binary 'true': int4/int8/text/bool/numeric/timestamptz columns sent as 'b' (send/recv format), NULLs as 'n'" \
    1 off true false off -
expect binary_mode I=3 U=1 D=1 '~^49[0-9a-f]{8}4e000662' '~6e6e6e6e6e$'

# 12 ------------------------------------------------------------------------------------
SETUP_SQL=$(cat <<'SQL'
CREATE TABLE fx_types (
    id            int4 PRIMARY KEY,
    c_int2        int2,
    c_int4        int4,
    c_int8        int8,
    c_numeric     numeric,
    c_text        text,
    c_bool        bool,
    c_timestamptz timestamptz,
    c_jsonb       jsonb,
    c_uuid        uuid,
    c_bytea       bytea,
    c_int4_arr    int4[],
    c_text_arr    text[],
    c_float8      float8,
    c_date        date,
    c_varchar     varchar(32)
);
SQL
)
BODY_SQL=$(cat <<'SQL'
INSERT INTO fx_types VALUES (
    1, 12345, 2147483647, 9223372036854775807, 12345.6789, 'hello, world', true,
    '2026-01-02 03:04:05.123456+00', '{"b": [1, 2], "a": "x"}',
    'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\xdeadbeef', '{1,2,3}', '{"a b",c}',
    3.14159, '2026-01-02', 'varchar value');
INSERT INTO fx_types VALUES (
    2, -32768, -2147483648, -9223372036854775808, -0.0001, E'tab\there\nnewline "quoted" \\ backslash ünïcødé', false,
    '1999-12-31 23:59:59+00', '{"nested": {"k": null}, "n": 1.50}',
    '00000000-0000-0000-0000-000000000000', '\x', '{}', '{NULL,"x,y","q\"uote"}',
    -1.5e-10, '1970-01-01', '');
INSERT INTO fx_types (id) VALUES (3);
SQL
)
capture types_text \
    "text format of int2/int4/int8/numeric/text/bool/timestamptz/jsonb/uuid/bytea/int4[]/text[]/float8/date/varchar; row 3 all NULL but id" \
    1 off false false off -
expect types_text B=3 C=3 R=1 I=3 \
    '~^49[0-9a-f]{8}4e0010740000000133(6e){15}$'

# 13 ------------------------------------------------------------------------------------
# 1000 transactions, each: insert 2 orders, update both (2000 inserts + 2000 updates).
SETUP_SQL=$(cat <<'SQL'
CREATE TABLE "Order" (
    id           int PRIMARY KEY,
    "userId"     int NOT NULL,
    status       text NOT NULL,
    "totalCents" int NOT NULL,
    "createdAt"  timestamptz NOT NULL
);
SQL
)
BODY_SQL=$(cat <<'SQL'
DO $$
DECLARE
    k int;
    a int;
    b int;
BEGIN
    FOR k IN 1..1000 LOOP
        a := 2 * k - 1;
        b := 2 * k;
        INSERT INTO "Order" VALUES
            (a, (a * 7919) % 500 + 1, 'pending', (a * 104729) % 100000 + 99,
             timestamptz '2026-01-01 00:00:00+00' + a * interval '37 seconds');
        INSERT INTO "Order" VALUES
            (b, (b * 7919) % 500 + 1, 'pending', (b * 104729) % 100000 + 99,
             timestamptz '2026-01-01 00:00:00+00' + b * interval '37 seconds');
        UPDATE "Order" SET status = 'paid' WHERE id = a;
        UPDATE "Order" SET status = CASE WHEN k % 2 = 0 THEN 'shipped' ELSE 'cancelled' END,
                           "totalCents" = "totalCents" + 500
         WHERE id = b;
        COMMIT;
    END LOOP;
END
$$;
SQL
)
capture small_rows_bench \
    "decoder benchmark: table \"Order\", 1000 txns x (2 inserts + 2 updates) = 2000 I + 2000 U" \
    1 off false false off -
expect small_rows_bench B=1000 C=1000 R=1 I=2000 U=2000

# ---------------------------------------------------------------------------------------
# Extra scenarios for message kinds the list above does not produce.

# 14: Type messages ('Y') are only sent for non-built-in column types.
SETUP_SQL=$(cat <<'SQL'
CREATE TYPE fx_mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN fx_positive AS int4 CHECK (VALUE > 0);
CREATE TABLE fx_custom (id int PRIMARY KEY, mood fx_mood, score fx_positive);
SQL
)
BODY_SQL=$(cat <<'SQL'
INSERT INTO fx_custom VALUES (1, 'happy', 42);
SQL
)
capture custom_type \
    "columns of a user enum (fx_mood) and a user domain (fx_positive over int4): Type ('Y') messages precede the Relation" \
    1 off false false off -
expect custom_type Y=2 R=1 I=1 B=1 C=1

# 15: Origin message ('O') after Begin when the txn was replayed under a replication origin.
SETUP_SQL=$(cat <<'SQL'
CREATE TABLE fx_origin (id int PRIMARY KEY, note text);
SELECT pg_replication_origin_create('fx_origin');
SQL
)
BODY_SQL=$(cat <<'SQL'
SELECT pg_replication_origin_session_setup('fx_origin');
BEGIN;
SELECT pg_replication_origin_xact_setup('0/12345678', '2026-01-02 03:04:05+00');
INSERT INTO fx_origin VALUES (1, 'replayed');
COMMIT;
SELECT pg_replication_origin_session_reset();
INSERT INTO fx_origin VALUES (2, 'local');
SQL
)
capture replication_origin \
    "txn under replication origin 'fx_origin' (origin lsn 0/12345678, origin time 2026-01-02 03:04:05+00): Begin, Origin, ...; then a local txn" \
    1 off false false off -
expect replication_origin O=1 B=2 C=2 I=2 '~^4f0000000012345678'

# 16: Stream Prepare ('p'): a streamed transaction that is PREPAREd, then COMMIT PREPARED.
SETUP_SQL=$(cat <<'SQL'
CREATE TABLE fx_stream_2pc (id int PRIMARY KEY, payload text);
SQL
)
BODY_SQL=$(cat <<'SQL'
BEGIN;
INSERT INTO fx_stream_2pc SELECT i, 'row-' || i FROM generate_series(1, 600) AS i;
PREPARE TRANSACTION 'fx_stream_2pc';
COMMIT PREPARED 'fx_stream_2pc';
SQL
)
capture streamed_two_phase \
    "proto 3, streaming + two_phase: 600 inserts streamed (2 blocks), PREPARE TRANSACTION 'fx_stream_2pc' (Stream Prepare), COMMIT PREPARED" \
    3 on false false on 64kB
expect streamed_two_phase S E p=1 K=1 I=600 '!B' '!C' '!b' '!P'

# =======================================================================================
# Summary.
echo
printf '%-42s %9s %9s  %s\n' FILE BYTES MESSAGES TYPES
for name in "${CAPTURED[@]}"; do
    f="$OUT_DIR/$name.txt"
    n=$(grep -vc '^# ' "$f" || true)
    types=$(type_counts "$f" | awk '{ printf "%s%s:%s", sep, $2, $1; sep = " " }')
    printf '%-42s %9s %9s  %s\n' "$name.txt" "$(wc -c <"$f")" "$n" "$types"
done
echo

if [[ $CHECK_FAILURES -ne 0 ]]; then
    die "$CHECK_FAILURES fixture check(s) failed (see above)"
fi
log "all fixture checks passed; fixtures in $OUT_DIR"
