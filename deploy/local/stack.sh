#!/usr/bin/env bash
# Local dev/test stack for cache-warmer:
#   - primary PostgreSQL 15 (wal_level=logical)      port $STACK_PG_PORT      (25432)
#   - physical streaming replica (hot standby)       port $STACK_REPLICA_PORT (25433)
#   - Redis                                          port $STACK_REDIS_PORT   (26379)
# Default ports sit below the kernel's ephemeral range (32768-60999), so an outgoing
# connection can never hold one of them while a server restarts.
#
# Usage: deploy/local/stack.sh up|down [--purge]|purge|status|env|psql [writer|reader] [args]|logs [-f]
#
# Environment:
#   STACK_PG_PORT, STACK_REPLICA_PORT, STACK_REDIS_PORT   ports (defaults above)
#   STACK_DIR            data dir (default <repo>/.stack, or /var/tmp/cache-warmer-stack-<hash>
#                        when the postgres OS user cannot traverse to the repo)
#   STACK_REPLICA_DELAY  replica recovery_min_apply_delay: 0 (default), 500ms, 2s, 1min, or a number of ms
#   STACK_TIMEOUT        readiness timeout in seconds (default 30)
#   STACK_PROXY=1        also a second replica and PgBouncer in front of both (deploy/local/proxy.sh;
#                        STACK_PROXY_PORT default 25434, STACK_PROXY_REPLICA_DELAY default 2s)
#   STACK_REDIS_CLUSTER=3  also a Redis Cluster: 3 masters with one replica each (deploy/local/redis-cluster.sh;
#                        STACK_REDIS_CLUSTER_PORT default 27001, bus ports 100 higher)
#
# Everything runs as a non-root OS user: "postgres" when this script runs as root
# (Debian's postgresql package creates it), otherwise the invoking user.
set -euo pipefail

PROG=stack
PG_BIN=/usr/lib/postgresql/15/bin
DB_USER=cachewarmer
DB_PASS=cachewarmer
DB_NAME=cachewarmer
PUB_SLOT=reader_replica
WORKER_ROLE=cw_worker
READER_ROLE=cw_reader

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd -P)"
# shellcheck source=deploy/local/lib.sh
source "$SCRIPT_DIR/lib.sh"
SCHEMA_SQL="$REPO_ROOT/deploy/sql/demo-schema.sql"

PG_PORT="${STACK_PG_PORT:-25432}"
REPLICA_PORT="${STACK_REPLICA_PORT:-25433}"
REDIS_PORT="${STACK_REDIS_PORT:-26379}"
REPLICA_DELAY="${STACK_REPLICA_DELAY:-0}"
TIMEOUT="${STACK_TIMEOUT:-30}"

log()  { printf '%s: %s\n' "$PROG" "$*"; }
warn() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die()  { printf '%s: %s\n' "$PROG" "$*" >&2; exit 1; }

usage() {
    cat >&2 <<EOF
usage: deploy/local/stack.sh <command>
  up                 install missing packages, start primary + replica + redis (idempotent)
  down [--purge]     stop everything this stack started (--purge also deletes the data dir)
  purge              same as: down --purge
  status             one line per component; exit 0 if all running, 3 otherwise
  env                print 'export ...' lines; use: eval "\$(deploy/local/stack.sh env)"
  psql [writer|reader] [psql args...]   psql as $DB_USER
  logs [-f]          show (and with -f, or on a terminal, follow) the logs
  stop COMPONENT     stop primary, replica or redis alone (fault tests; 'up' starts it again)
  restart COMPONENT  restart primary, replica or redis alone
EOF
}

for v in PG_PORT REPLICA_PORT REDIS_PORT; do
    [[ "${!v}" =~ ^[0-9]+$ ]] && (( ${!v} > 0 && ${!v} < 65536 )) || die "invalid port ${v}=${!v}"
done
[[ "$TIMEOUT" =~ ^[0-9]+$ ]] || die "invalid STACK_TIMEOUT=$TIMEOUT (seconds)"
if [[ "$PG_PORT" == "$REPLICA_PORT" || "$PG_PORT" == "$REDIS_PORT" || "$REPLICA_PORT" == "$REDIS_PORT" ]]; then
    die "STACK_PG_PORT ($PG_PORT), STACK_REPLICA_PORT ($REPLICA_PORT) and STACK_REDIS_PORT ($REDIS_PORT) must differ"
fi

# ---------------------------------------------------------------------------
# OS user & directory layout (computed deterministically, so down/status/env
# find the same directory as up).
# ---------------------------------------------------------------------------
if [[ $EUID -eq 0 ]]; then
    RUN_USER=postgres
else
    RUN_USER="$(id -un)"
fi

# Run a command as RUN_USER (from /, so an unreadable cwd does not matter).
# fd 9 (our flock) is closed so daemons started here do not inherit the lock.
as_user() {
    if [[ $EUID -eq 0 ]]; then
        local home
        home="$(getent passwd "$RUN_USER" | cut -d: -f6)"
        (cd / && runuser -u "$RUN_USER" -- env HOME="${home:-/tmp}" "$@") 9>&-
    else
        (cd / && "$@") 9>&-
    fi
}

run_user_exists() { id -u "$RUN_USER" >/dev/null 2>&1; }

REPO_HASH="$(printf '%s' "$REPO_ROOT" | sha256sum | cut -c1-10)"
FALLBACK_DIR="/var/tmp/cache-warmer-stack-$REPO_HASH"
STACK_DIR_NOTE=""
if [[ -n "${STACK_DIR:-}" ]]; then
    STACK_DIR="${STACK_DIR%/}"
    [[ "$STACK_DIR" = /* ]] || STACK_DIR="$PWD/$STACK_DIR"
elif [[ $EUID -eq 0 ]] && run_user_exists && ! as_user test -x "$REPO_ROOT" 2>/dev/null; then
    STACK_DIR="$FALLBACK_DIR"
    STACK_DIR_NOTE="OS user $RUN_USER cannot traverse to $REPO_ROOT; using $STACK_DIR instead of $REPO_ROOT/.stack"
else
    STACK_DIR="$REPO_ROOT/.stack"
fi

PRIMARY_DATA="$STACK_DIR/primary"
REPLICA_DATA="$STACK_DIR/replica"
REDIS_DIR="$STACK_DIR/redis"
LOG_DIR="$STACK_DIR/log"
PRIMARY_LOG="$LOG_DIR/primary.log"
REPLICA_LOG="$LOG_DIR/replica.log"
REDIS_LOG="$LOG_DIR/redis.log"
REDIS_CONF="$REDIS_DIR/redis.conf"
REDIS_PID="$REDIS_DIR/redis.pid"

# Unix sockets: paths are limited to ~107 bytes; if the stack dir is too deep,
# use a short deterministic dir under /tmp.
SOCKET_DIR="$STACK_DIR/run"
if (( ${#SOCKET_DIR} + 24 > 100 )); then
    SOCKET_DIR="/tmp/cache-warmer-sock-$REPO_HASH"
fi

WRITER_URL="postgres://$DB_USER:$DB_PASS@127.0.0.1:$PG_PORT/$DB_NAME"
READER_URL="postgres://$DB_USER:$DB_PASS@127.0.0.1:$REPLICA_PORT/$DB_NAME"
REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
WORKER_URL="postgres://$WORKER_ROLE:$WORKER_ROLE@127.0.0.1:$PG_PORT/$DB_NAME"
READER_ROLE_URL="postgres://$READER_ROLE:$READER_ROLE@127.0.0.1:$REPLICA_PORT/$DB_NAME"
READER_ROLE_WRITER_URL="postgres://$READER_ROLE:$READER_ROLE@127.0.0.1:$PG_PORT/$DB_NAME"
# shellcheck source=deploy/local/proxy.sh
source "$SCRIPT_DIR/proxy.sh"   # STACK_PROXY=1: second replica + PgBouncer
# shellcheck source=deploy/local/redis-cluster.sh
source "$SCRIPT_DIR/redis-cluster.sh"   # STACK_REDIS_CLUSTER=3: Redis Cluster on loopback

# ---------------------------------------------------------------------------
# Process state helpers
# ---------------------------------------------------------------------------

# pid of the postmaster of a data dir if it is running, else empty.
pg_pid() {
    local data="$1" pid
    pid="$(head -n1 "$data/postmaster.pid" 2>/dev/null || true)"
    if [[ "$pid" =~ ^[0-9]+$ ]] && pid_alive "$pid" \
        && grep -qE '(postgres|postmaster)' "/proc/$pid/comm" 2>/dev/null; then
        echo "$pid"
    fi
}
pg_running_port() { sed -n 4p "$1/postmaster.pid" 2>/dev/null || true; }

redis_pid() {
    local pid
    pid="$(cat "$REDIS_PID" 2>/dev/null || true)"
    if [[ "$pid" =~ ^[0-9]+$ ]] && pid_alive "$pid" \
        && grep -q 'redis' "/proc/$pid/comm" 2>/dev/null; then
        echo "$pid"
    fi
}
redis_running_port() { awk '$1=="port"{print $2}' "$REDIS_CONF" 2>/dev/null || true; }


# Fail if a port is taken by something that is not our component.
check_port() {
    local port="$1" var="$2" ours_pid="$3"
    [[ -n "$ours_pid" ]] && return 0
    if port_in_use "$port"; then
        die "port $port ($var) is already in use by another process"
    fi
}

# Fail if our component is running, but on another port than requested.
check_running_port() {
    local name="$1" running_port="$2" want="$3" var="$4"
    if [[ -n "$running_port" && "$running_port" != "$want" ]]; then
        die "$name is already running on port $running_port but $var=$want; run 'deploy/local/stack.sh down' first"
    fi
}

show_log_tail() {
    local f="$1"
    if [[ -f "$f" ]]; then
        warn "last lines of $f:"
        tail -n 15 "$f" | sed "s/^/$PROG:   /" >&2 || true
    fi
}

# ---------------------------------------------------------------------------
# up
# ---------------------------------------------------------------------------
pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

ensure_packages() {
    local missing=()
    [[ -x "$PG_BIN/postgres" ]] || missing+=(postgresql-15)
    [[ -f /usr/lib/postgresql/15/lib/pg_stat_statements.so ]] || missing+=(postgresql-contrib)
    command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
    command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
    pkg_installed libhiredis-dev || missing+=(libhiredis-dev)
    pkg_installed libpq-dev || missing+=(libpq-dev)
    pkg_installed libssl-dev || missing+=(libssl-dev)
    command -v openssl >/dev/null 2>&1 || missing+=(openssl)
    command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
    command -v ss >/dev/null 2>&1 || missing+=(iproute2)
    if proxy_wanted; then command -v pgbouncer >/dev/null 2>&1 || missing+=(pgbouncer); fi
    (( ${#missing[@]} == 0 )) && return 0
    if [[ $EUID -ne 0 ]]; then
        die "missing packages: ${missing[*]} (run as root or: sudo apt-get install -y ${missing[*]})"
    fi
    log "installing missing packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null || die "apt-get update failed"
    apt-get install -y -qq "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
    [[ -x "$PG_BIN/postgres" ]] || die "$PG_BIN/postgres still missing after install"
}

ensure_dirs() {
    run_user_exists || die "OS user $RUN_USER does not exist (is postgresql-15 installed?)"
    mkdir -p "$STACK_DIR"
    if [[ $EUID -eq 0 ]]; then
        chown "$RUN_USER:" "$STACK_DIR"
        as_user test -w "$STACK_DIR" -a -x "$STACK_DIR" \
            || die "OS user $RUN_USER cannot access $STACK_DIR (set STACK_DIR to a path it can reach)"
    fi
    as_user mkdir -p "$LOG_DIR" "$REDIS_DIR" "$SOCKET_DIR"
    if [[ $EUID -eq 0 ]]; then
        # in case an older run (or another user) left them with other owners
        chown "$RUN_USER:" "$LOG_DIR" "$REDIS_DIR" "$SOCKET_DIR"
    fi
    chmod 755 "$STACK_DIR" 2>/dev/null || true
}

# Settings shared by primary and replica (the replica must have
# max_connections/max_wal_senders/... >= the primary's).
common_conf() {
    cat <<EOF
# generated by deploy/local/stack.sh on every 'up' -- do not edit
listen_addresses = '127.0.0.1'
unix_socket_directories = '$SOCKET_DIR'
max_connections = 200
wal_level = logical
max_replication_slots = 64
max_wal_senders = 64
wal_keep_size = '512MB'
# A stalled slot may keep at most this much WAL (what 'cache-warmer check' requires; see docs/operations.md).
max_slot_wal_keep_size = '8GB'
shared_preload_libraries = 'pg_stat_statements'
password_encryption = 'scram-sha-256'
# fsync=off: this is a throwaway dev/test stack and speed matters more than
# crash safety. An OS crash / power loss can corrupt it (just 'down --purge').
# synchronous_commit is left at its default (on). NEVER use fsync=off in prod.
fsync = off
hot_standby = on
hot_standby_feedback = on
log_line_prefix = '%m [%p] %q%u@%d '
log_timezone = 'UTC'
timezone = 'UTC'
EOF
}

write_hba() {
    local data="$1"
    as_user tee "$data/pg_hba.conf" >/dev/null <<EOF
# generated by deploy/local/stack.sh -- do not edit
# TYPE  DATABASE     USER         ADDRESS        METHOD
local   all          $RUN_USER                   trust
local   replication  $RUN_USER                   trust
local   all          all                         scram-sha-256
local   replication  all                         scram-sha-256
host    all          all          127.0.0.1/32   scram-sha-256
host    replication  all          127.0.0.1/32   scram-sha-256
EOF
}

ensure_include() {
    local data="$1"
    grep -qxF "include 'stack.conf'" "$data/postgresql.conf" 2>/dev/null \
        || printf "\ninclude 'stack.conf'\n" | as_user tee -a "$data/postgresql.conf" >/dev/null
}

write_primary_conf() {
    { common_conf; echo "port = $PG_PORT"; } | as_user tee "$PRIMARY_DATA/stack.conf" >/dev/null
    ensure_include "$PRIMARY_DATA"
    write_hba "$PRIMARY_DATA"
}

normalize_delay() {
    local d="$1"
    if [[ "$d" =~ ^[0-9]+$ ]]; then
        echo "${d}ms"
    elif [[ "$d" =~ ^[0-9]+(ms|s|min|h|d)$ ]]; then
        echo "$d"
    else
        die "invalid STACK_REPLICA_DELAY=$d (use e.g. 0, 500, 500ms, 2s, 1min)"
    fi
}

replica_conf() {
    common_conf
    cat <<EOF
port = $REPLICA_PORT
primary_conninfo = 'host=''$SOCKET_DIR'' port=$PG_PORT user=$RUN_USER application_name=reader_replica'
primary_slot_name = '$PUB_SLOT'
recovery_min_apply_delay = '$(normalize_delay "$REPLICA_DELAY")'
EOF
}

write_replica_conf() {
    replica_conf | as_user tee "$REPLICA_DATA/stack.conf" >/dev/null
    ensure_include "$REPLICA_DATA"
    # pg_basebackup -R wrote primary_conninfo into postgresql.auto.conf, which
    # would override stack.conf; we manage it in stack.conf (ports may change).
    if grep -qE '^(primary_conninfo|primary_slot_name)' "$REPLICA_DATA/postgresql.auto.conf" 2>/dev/null; then
        as_user sed -i -E '/^(primary_conninfo|primary_slot_name)/d' "$REPLICA_DATA/postgresql.auto.conf"
    fi
    write_hba "$REPLICA_DATA"
}

psql_admin() { # psql as the OS superuser via the unix socket: psql_admin PORT DB args...
    local port="$1" db="$2"; shift 2
    as_user "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCKET_DIR" -p "$port" -d "$db" "$@"
}

pg_start() { # name data log
    local name="$1" data="$2" logf="$3"
    if ! as_user "$PG_BIN/pg_ctl" start -D "$data" -l "$logf" -w -t "$TIMEOUT" -s >/dev/null 2>&1; then
        warn "$name failed to start within ${TIMEOUT}s; see $logf"
        show_log_tail "$logf"
        exit 1
    fi
}

init_primary() {
    log "initializing primary in $PRIMARY_DATA"
    as_user "$PG_BIN/initdb" -D "$PRIMARY_DATA" -U "$RUN_USER" --auth-local=trust --auth-host=scram-sha-256 \
        --encoding=UTF8 --locale=C.UTF-8 --no-sync >"$LOG_DIR/initdb.log" 2>&1 \
        || { warn "initdb failed; see $LOG_DIR/initdb.log"; show_log_tail "$LOG_DIR/initdb.log"; exit 1; }
}

setup_primary_db() {
    psql_admin "$PG_PORT" postgres <<EOF
DO \$\$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$DB_USER') THEN
        CREATE ROLE $DB_USER LOGIN REPLICATION CREATEDB NOSUPERUSER PASSWORD '$DB_PASS';
    ELSE
        ALTER ROLE $DB_USER LOGIN REPLICATION CREATEDB NOSUPERUSER PASSWORD '$DB_PASS';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = '$PUB_SLOT') THEN
        PERFORM pg_create_physical_replication_slot('$PUB_SLOT', true);
    END IF;
END
\$\$;
EOF
    if [[ "$(psql_admin "$PG_PORT" postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" != 1 ]]; then
        psql_admin "$PG_PORT" postgres -c "CREATE DATABASE $DB_NAME OWNER $DB_USER"
    fi
    psql_admin "$PG_PORT" "$DB_NAME" -c "SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS pg_stat_statements"
    [[ -f "$SCHEMA_SQL" ]] || die "schema file $SCHEMA_SQL not found"
    # As role cachewarmer over TCP with password (also proves scram auth works).
    if ! "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 "$WRITER_URL" -f "$SCHEMA_SQL" >"$LOG_DIR/schema.log" 2>&1; then
        warn "applying $SCHEMA_SQL failed; see $LOG_DIR/schema.log"
        show_log_tail "$LOG_DIR/schema.log"
        exit 1
    fi
}

# Least-privilege roles (what `cache-warmer setup --print-grants` prints): tests run the worker as
# cw_worker (REPLICATION, SELECT) and the readers as cw_reader (read-only SELECT). Idempotent.
ensure_roles() {
    psql_admin "$PG_PORT" "$DB_NAME" <<EOF
DO \$\$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$WORKER_ROLE') THEN
        CREATE ROLE $WORKER_ROLE LOGIN REPLICATION NOSUPERUSER PASSWORD '$WORKER_ROLE';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$READER_ROLE') THEN
        CREATE ROLE $READER_ROLE LOGIN NOSUPERUSER PASSWORD '$READER_ROLE';
    END IF;
END
\$\$;
ALTER ROLE $READER_ROLE SET default_transaction_read_only = on;
GRANT USAGE ON SCHEMA public TO $WORKER_ROLE, $READER_ROLE;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO $WORKER_ROLE, $READER_ROLE;
ALTER DEFAULT PRIVILEGES FOR ROLE $DB_USER IN SCHEMA public GRANT SELECT ON TABLES TO $WORKER_ROLE, $READER_ROLE;
EOF
}

sysid() { as_user "$PG_BIN/pg_controldata" -D "$1" 2>/dev/null | awk -F: '/Database system identifier/{gsub(/ /,"",$2); print $2}'; }

make_replica() {
    log "creating replica with pg_basebackup (slot $PUB_SLOT)"
    [[ -e "$REPLICA_DATA" ]] && rm -rf "$REPLICA_DATA"
    if ! as_user "$PG_BIN/pg_basebackup" -h "$SOCKET_DIR" -p "$PG_PORT" -U "$RUN_USER" -D "$REPLICA_DATA" \
        -R -X stream -S "$PUB_SLOT" --checkpoint=fast --no-sync >"$LOG_DIR/basebackup.log" 2>&1; then
        warn "pg_basebackup failed; see $LOG_DIR/basebackup.log"
        show_log_tail "$LOG_DIR/basebackup.log"
        exit 1
    fi
}

wait_until() { # description logfile command...
    local what="$1" logf="$2"; shift 2
    local deadline=$(( SECONDS + TIMEOUT ))
    until "$@" >/dev/null 2>&1; do
        if (( SECONDS >= deadline )); then
            warn "timed out after ${TIMEOUT}s waiting for $what; see $logf"
            show_log_tail "$logf"
            exit 1
        fi
        sleep 0.1
    done
}

replica_in_recovery() { [[ "$(psql_admin "$REPLICA_PORT" postgres -tAc 'SELECT pg_is_in_recovery()')" == t ]]; }
replica_streaming() { [[ "$(psql_admin "$REPLICA_PORT" postgres -tAc 'SELECT status FROM pg_stat_wal_receiver')" == streaming ]]; }
redis_ping() { [[ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]]; }

start_redis() {
    as_user tee "$REDIS_CONF" >/dev/null <<EOF
# generated by deploy/local/stack.sh -- do not edit
bind 127.0.0.1
port $REDIS_PORT
protected-mode yes
dir $REDIS_DIR
save ""
appendonly no
daemonize yes
supervised no
pidfile $REDIS_PID
logfile $REDIS_LOG
loglevel notice
databases 16
EOF
    rm -f "$REDIS_PID"
    if ! as_user redis-server "$REDIS_CONF" >>"$LOG_DIR/redis-start.log" 2>&1; then
        warn "redis-server failed to start; see $REDIS_LOG"
        show_log_tail "$REDIS_LOG"
        exit 1
    fi
    wait_until "redis to answer PING on port $REDIS_PORT" "$REDIS_LOG" redis_ping
}

cmd_up() {
    ensure_packages
    [[ -n "$STACK_DIR_NOTE" ]] && warn "$STACK_DIR_NOTE"
    ensure_dirs
    exec 9>"$STACK_DIR/.lock"
    flock -w 60 9 || die "another 'stack.sh up/down' is running (lock $STACK_DIR/.lock)"

    local t0=$SECONDS
    local ppid rpid dpid
    ppid="$(pg_pid "$PRIMARY_DATA")"
    rpid="$(pg_pid "$REPLICA_DATA")"
    dpid="$(redis_pid)"
    [[ -n "$ppid" ]] && check_running_port primary "$(pg_running_port "$PRIMARY_DATA")" "$PG_PORT" STACK_PG_PORT
    [[ -n "$rpid" ]] && check_running_port replica "$(pg_running_port "$REPLICA_DATA")" "$REPLICA_PORT" STACK_REPLICA_PORT
    [[ -n "$dpid" ]] && check_running_port redis "$(redis_running_port)" "$REDIS_PORT" STACK_REDIS_PORT
    check_port "$PG_PORT" STACK_PG_PORT "$ppid"
    check_port "$REPLICA_PORT" STACK_REPLICA_PORT "$rpid"
    check_port "$REDIS_PORT" STACK_REDIS_PORT "$dpid"
    local delay
    delay="$(normalize_delay "$REPLICA_DELAY")"

    if [[ -n "$ppid" && -n "$rpid" && -n "$dpid" ]]; then
        # Everything up. Only reloadable changes are applied (replica delay, slot WAL limit); roles are ensured.
        ensure_roles
        if ! cmp -s <({ common_conf; echo "port = $PG_PORT"; }) "$PRIMARY_DATA/stack.conf"; then
            write_primary_conf
            as_user "$PG_BIN/pg_ctl" reload -D "$PRIMARY_DATA" -s >/dev/null
            log "primary settings changed, reloaded"
        fi
        if ! cmp -s <(replica_conf) "$REPLICA_DATA/stack.conf"; then
            write_replica_conf
            as_user "$PG_BIN/pg_ctl" reload -D "$REPLICA_DATA" -s >/dev/null
            log "replica settings changed, reloaded (recovery_min_apply_delay=$delay)"
        fi
        log "stack already running (primary pid $ppid port $PG_PORT, replica pid $rpid port $REPLICA_PORT, redis pid $dpid port $REDIS_PORT)"
        if proxy_wanted; then proxy_up; fi
        if cluster_wanted; then cluster_up; fi
        return 0
    fi

    # --- primary ---
    local fresh_primary=0
    if [[ -z "$ppid" ]]; then
        if [[ ! -f "$PRIMARY_DATA/PG_VERSION" ]]; then
            if [[ -n "$rpid" ]]; then
                as_user "$PG_BIN/pg_ctl" stop -D "$REPLICA_DATA" -m immediate -w -s >/dev/null 2>&1 || true
                rpid=""
            fi
            rm -rf "$PRIMARY_DATA"
            init_primary
            fresh_primary=1
        fi
        write_primary_conf
        log "starting primary on port $PG_PORT"
        pg_start primary "$PRIMARY_DATA" "$PRIMARY_LOG"
        ppid="$(pg_pid "$PRIMARY_DATA")"
    fi
    wait_until "primary to accept connections on port $PG_PORT" "$PRIMARY_LOG" \
        "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"
    setup_primary_db
    ensure_roles

    # --- replica ---
    if [[ -z "$rpid" ]]; then
        if (( fresh_primary )) || [[ ! -f "$REPLICA_DATA/PG_VERSION" ]] \
            || [[ "$(sysid "$PRIMARY_DATA")" != "$(sysid "$REPLICA_DATA")" ]]; then
            make_replica
        fi
        write_replica_conf
        log "starting replica on port $REPLICA_PORT (recovery_min_apply_delay=$delay)"
        pg_start replica "$REPLICA_DATA" "$REPLICA_LOG"
        rpid="$(pg_pid "$REPLICA_DATA")"
    elif ! cmp -s <(replica_conf) "$REPLICA_DATA/stack.conf"; then
        write_replica_conf
        as_user "$PG_BIN/pg_ctl" reload -D "$REPLICA_DATA" -s >/dev/null
    fi
    wait_until "replica to accept connections on port $REPLICA_PORT" "$REPLICA_LOG" \
        "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$REPLICA_PORT"
    wait_until "replica to be in recovery (hot standby)" "$REPLICA_LOG" replica_in_recovery
    wait_until "replica to stream from the primary" "$REPLICA_LOG" replica_streaming

    # --- redis ---
    if [[ -z "$dpid" ]]; then
        log "starting redis on port $REDIS_PORT"
        start_redis
        dpid="$(redis_pid)"
    fi
    wait_until "redis to answer PING on port $REDIS_PORT" "$REDIS_LOG" redis_ping

    if proxy_wanted; then proxy_up; fi
    if cluster_wanted; then cluster_up; fi
    log "stack up in $(( SECONDS - t0 ))s: primary pid $ppid port $PG_PORT, replica pid $rpid port $REPLICA_PORT (delay $delay), redis pid $dpid port $REDIS_PORT; data in $STACK_DIR"
    log "use: eval \"\$(deploy/local/stack.sh env)\""
}

# ---------------------------------------------------------------------------
# down
# ---------------------------------------------------------------------------
wait_gone() { # pid seconds
    local pid="$1" n=$(( $2 * 10 ))
    while pid_alive "$pid" && (( n-- > 0 )); do sleep 0.1; done
    ! pid_alive "$pid"
}

pg_stop() { # name data
    local name="$1" data="$2" pid
    pid="$(pg_pid "$data")"
    [[ -z "$pid" ]] && return 0
    log "stopping $name (pid $pid)"
    as_user "$PG_BIN/pg_ctl" stop -D "$data" -m fast -w -t "$TIMEOUT" -s >/dev/null 2>&1 || true
    if ! wait_gone "$pid" 5; then
        warn "$name (pid $pid) did not stop after fast shutdown; sending SIGQUIT"
        kill -QUIT "$pid" 2>/dev/null || true
        wait_gone "$pid" 10 || { kill -KILL "$pid" 2>/dev/null || true; wait_gone "$pid" 5 || true; }
    fi
}

stop_redis() {
    local pid
    pid="$(redis_pid)"
    [[ -z "$pid" ]] && return 0
    log "stopping redis (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    wait_gone "$pid" 10 || { warn "redis (pid $pid) did not stop; sending SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; wait_gone "$pid" 5 || true; }
    rm -f "$REDIS_PID"
}

pg_restart() { # name data log
    local name="$1" data="$2" logf="$3"
    [[ -n "$(pg_pid "$data")" ]] || die "$name is not running (start it with: deploy/local/stack.sh up)"
    log "restarting $name"
    if ! as_user "$PG_BIN/pg_ctl" restart -D "$data" -l "$logf" -m fast -w -t "$TIMEOUT" -s </dev/null >/dev/null 2>&1; then
        warn "$name failed to restart within ${TIMEOUT}s; see $logf"
        show_log_tail "$logf"
        exit 1
    fi
}

# stop/restart one component, for fault tests: the others keep running.
cmd_component() { # stop|restart component
    local action="$1" component="${2:-}"
    [[ -d "$STACK_DIR" ]] || die "no stack in $STACK_DIR (run: deploy/local/stack.sh up)"
    exec 9>"$STACK_DIR/.lock"
    flock -w 60 9 || die "another stack.sh command is running (lock $STACK_DIR/.lock)"
    case "$action:$component" in
        stop:primary)    pg_stop primary "$PRIMARY_DATA" ;;
        stop:replica)    pg_stop replica "$REPLICA_DATA" ;;
        stop:redis)      stop_redis ;;
        restart:primary) pg_restart primary "$PRIMARY_DATA" "$PRIMARY_LOG" ;;
        restart:replica) pg_restart replica "$REPLICA_DATA" "$REPLICA_LOG" ;;
        restart:redis)   stop_redis; exec 9>&-; start_redis ;;
        *) die "usage: deploy/local/stack.sh $action primary|replica|redis" ;;
    esac
}

cmd_down() {
    local purge=0
    for a in "$@"; do
        case "$a" in
            --purge|purge) purge=1 ;;
            *) die "unknown argument to down: $a" ;;
        esac
    done
    if [[ -d "$STACK_DIR" ]]; then
        exec 9>"$STACK_DIR/.lock"
        flock -w 60 9 || die "another 'stack.sh up/down' is running (lock $STACK_DIR/.lock)"
    fi
    # replicas first, so the primary's walsender does not wait on them
    proxy_down
    cluster_down
    pg_stop replica "$REPLICA_DATA"
    pg_stop primary "$PRIMARY_DATA"
    stop_redis
    if (( purge )); then
        log "purging $STACK_DIR"
        # remove only what this script creates (STACK_DIR may be user-provided)
        rm -rf "$PRIMARY_DATA" "$REPLICA_DATA" "$REPLICA2_DATA" "$PROXY_DIR" "$CLUSTER_DIR" "$REDIS_DIR" "$LOG_DIR" "$STACK_DIR/run" "$STACK_DIR/.lock"
        [[ "$SOCKET_DIR" == /tmp/cache-warmer-sock-* ]] && rm -rf "$SOCKET_DIR"
        rmdir "$STACK_DIR" 2>/dev/null || true
    fi
    log "stack stopped"
}

# ---------------------------------------------------------------------------
# status / env / psql / logs
# ---------------------------------------------------------------------------
cmd_status() {
    local rc=0 pid port
    pid="$(pg_pid "$PRIMARY_DATA")"
    if [[ -n "$pid" ]]; then
        port="$(pg_running_port "$PRIMARY_DATA")"; log "primary running port=$port pid=$pid data=$PRIMARY_DATA"
    else
        log "primary stopped port=$PG_PORT pid=- data=$PRIMARY_DATA"; rc=3
    fi
    pid="$(pg_pid "$REPLICA_DATA")"
    if [[ -n "$pid" ]]; then
        port="$(pg_running_port "$REPLICA_DATA")"
        local delay
        delay="$(sed -n "s/^recovery_min_apply_delay = '\(.*\)'/\1/p" "$REPLICA_DATA/stack.conf" 2>/dev/null || true)"
        log "replica running port=$port pid=$pid data=$REPLICA_DATA delay=${delay:-?}"
    else
        log "replica stopped port=$REPLICA_PORT pid=- data=$REPLICA_DATA"; rc=3
    fi
    pid="$(redis_pid)"
    if [[ -n "$pid" ]]; then
        port="$(redis_running_port)"; log "redis   running port=$port pid=$pid"
    else
        log "redis   stopped port=$REDIS_PORT pid=-"; rc=3
    fi
    proxy_status
    cluster_status
    return $rc
}

emit() { # name value -> export line that eval accepts
    if [[ "$2" =~ ^[A-Za-z0-9_@%+=:,./-]*$ ]]; then
        printf 'export %s=%s\n' "$1" "$2"
    else
        printf "export %s='%s'\n" "$1" "${2//\'/\'\\\'\'}"
    fi
}

cmd_env() {
    emit DB_WRITER_URL "$WRITER_URL"
    emit DB_READER_URL "$READER_URL"
    emit REDIS_URL "$REDIS_URL"
    emit DB_WORKER_URL "$WORKER_URL"
    emit DB_READER_ROLE_URL "$READER_ROLE_URL"
    emit DB_READER_ROLE_WRITER_URL "$READER_ROLE_WRITER_URL"
    emit STACK_DIR "$STACK_DIR"
    emit STACK_PG_SOCKET_DIR "$SOCKET_DIR"
    emit STACK_PG_OS_USER "$RUN_USER"
    emit STACK_PG_BIN "$PG_BIN"
    emit STACK_PG_PORT "$PG_PORT"
    emit STACK_REPLICA_PORT "$REPLICA_PORT"
    emit STACK_REDIS_PORT "$REDIS_PORT"
    emit STACK_PG_PRIMARY_DATA "$PRIMARY_DATA"
    emit STACK_PG_REPLICA_DATA "$REPLICA_DATA"
    emit STACK_SCRIPT "$SCRIPT_DIR/stack.sh"
    proxy_env
    cluster_env
}

cmd_psql() {
    local url="$WRITER_URL"
    case "${1:-}" in
        writer|primary) shift ;;
        reader|replica) url="$READER_URL"; shift ;;
    esac
    exec "$PG_BIN/psql" "$url" "$@"
}

cmd_logs() {
    local follow=0 files=()
    [[ -t 1 ]] && follow=1
    [[ "${1:-}" == -f ]] && follow=1
    [[ "${1:-}" == --no-follow ]] && follow=0
    local f
    for f in "$PRIMARY_LOG" "$REPLICA_LOG" "$REDIS_LOG"; do [[ -f "$f" ]] && files+=("$f"); done
    (( ${#files[@]} )) || die "no logs in $LOG_DIR (stack never started?)"
    if (( follow )); then
        exec tail -n 50 -F "${files[@]}"
    else
        tail -n 50 "${files[@]}"
    fi
}

cmd="${1:-}"
[[ $# -gt 0 ]] && shift
case "$cmd" in
    up)      cmd_up "$@" ;;
    down)    cmd_down "$@" ;;
    purge)   cmd_down --purge ;;
    status)  cmd_status ;;
    env)     cmd_env ;;
    psql)    cmd_psql "$@" ;;
    logs)    cmd_logs "$@" ;;
    stop|restart) cmd_component "$cmd" "$@" ;;
    -h|--help|help) usage ;;
    *) usage; exit 2 ;;
esac
