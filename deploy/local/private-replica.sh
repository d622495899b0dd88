#!/usr/bin/env bash
# A throwaway streaming replica of the local stack's primary, for tests that must break a
# replica without touching the shared one.
#
# Usage (with the stack's settings loaded: eval "$(deploy/local/stack.sh env)"):
#   deploy/local/private-replica.sh start DIR PORT   pg_basebackup into DIR, start on 127.0.0.1:PORT
#   deploy/local/private-replica.sh cutoff DIR       point primary_conninfo at a closed port and reload:
#                                                   the standby stops receiving, keeps serving reads
#   deploy/local/private-replica.sh stop DIR         stop it (immediate) and delete DIR
#
# DIR must not exist (start); its parent must be reachable by the stack's OS user.
set -euo pipefail

die() { printf 'private-replica: %s\n' "$*" >&2; exit 1; }

cmd="${1:-}"
dir="${2:-}"
[[ -n "$cmd" && -n "$dir" ]] || die "usage: $0 start DIR PORT | cutoff DIR | stop DIR"
for v in STACK_PG_BIN STACK_PG_SOCKET_DIR STACK_PG_PORT STACK_PG_OS_USER; do
    [[ -n "${!v:-}" ]] || die "$v is not set (eval \"\$(deploy/local/stack.sh env)\")"
done
PG_BIN="$STACK_PG_BIN"

as_user() {
    if [[ $EUID -eq 0 ]]; then
        (cd / && runuser -u "$STACK_PG_OS_USER" -- "$@")
    else
        (cd / && "$@")
    fi
}

case "$cmd" in
start)
    port="${3:-}"
    [[ "$port" =~ ^[0-9]+$ ]] || die "start needs a port"
    [[ ! -e "$dir" ]] || die "$dir exists"
    mkdir -p "$(dirname "$dir")"
    as_user "$PG_BIN/pg_basebackup" -h "$STACK_PG_SOCKET_DIR" -p "$STACK_PG_PORT" -U "$STACK_PG_OS_USER" -D "$dir" \
        -R -X stream --checkpoint=fast --no-sync >/dev/null 2>&1 || die "pg_basebackup into $dir failed"
    # postgresql.auto.conf is read last: its settings win over the copied stack.conf.
    as_user sed -i -E '/^(primary_slot_name|port|unix_socket_directories|listen_addresses|recovery_min_apply_delay)/d' "$dir/postgresql.auto.conf"
    printf "%s\n" "port = $port" "listen_addresses = '127.0.0.1'" "unix_socket_directories = '$dir'" \
        "recovery_min_apply_delay = 0" | as_user tee -a "$dir/postgresql.auto.conf" >/dev/null
    as_user "$PG_BIN/pg_ctl" start -D "$dir" -l "$dir/server.log" -w -t 30 -s >/dev/null || die "start failed; see $dir/server.log"
    ;;
cutoff)
    [[ -f "$dir/postmaster.pid" ]] || die "no server running in $dir"
    port="$(sed -n 4p "$dir/postmaster.pid")"
    as_user "$PG_BIN/psql" -X -q -h "$dir" -p "$port" -d postgres \
        -c "ALTER SYSTEM SET primary_conninfo = 'host=127.0.0.1 port=1 connect_timeout=1'" -c "SELECT pg_reload_conf()" >/dev/null
    ;;
stop)
    if [[ -f "$dir/postmaster.pid" ]]; then
        as_user "$PG_BIN/pg_ctl" stop -D "$dir" -m immediate -w -s >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
*) die "unknown command $cmd" ;;
esac
