#!/usr/bin/env bash
# A throwaway PostgreSQL 15 primary for tests that need TLS or must change server settings
# (ALTER SYSTEM, CHECKPOINT, restarts) without touching the shared local stack: a fresh CA and
# server certificate (openssl CLI), then a cluster with ssl = on and wal_level = logical that
# accepts TCP connections over TLS only (hostnossl is rejected), on 127.0.0.1 at a free port in
# 21000-24999 (below the kernel's ephemeral range and the local stack's default ports).
#
# Usage: deploy/local/pg-tls.sh start DIR   -> writes into DIR:
#          port          the TCP port
#          url           postgres://cachewarmer:cachewarmer@127.0.0.1:PORT/cachewarmer?sslmode=verify-full&sslrootcert=DIR/ca.pem
#          admin-url     a superuser key/value string over the Unix socket in DIR (trust; for ALTER SYSTEM, CHECKPOINT)
#          ca.pem        the CA that signed the server certificate; other-ca.pem: an unrelated CA
#        deploy/local/pg-tls.sh stop DIR       (immediate shutdown; DIR stays for the logs)
#        deploy/local/pg-tls.sh restart DIR    (fast restart, same port)
#
# DIR must exist and be empty (start). Role cachewarmer (LOGIN REPLICATION, owns database
# cachewarmer). The certificate names DNS:localhost and IP:127.0.0.1. Certificates are made here
# on every start and never committed. As root, the server runs as the OS user postgres.
set -euo pipefail

die() { printf 'pg-tls: %s\n' "$*" >&2; exit 1; }
# shellcheck source=deploy/local/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)/lib.sh"

PG_BIN=/usr/lib/postgresql/15/bin
cmd="${1:-}"
dir="${2:-}"
[[ -n "$cmd" && -n "$dir" ]] || die "usage: $0 start|stop|restart DIR"
[[ -d "$dir" ]] || die "$dir is not a directory"
dir="$(cd "$dir" && pwd -P)"
(( ${#dir} < 80 )) || die "$dir is too long for a Unix socket path (keep it under 80 characters)"
exec 2> >(tee -a "$dir/script.log" >&2)

if [[ $EUID -eq 0 ]]; then RUN_USER=postgres; else RUN_USER="$(id -un)"; fi
as_user() {
    if [[ $EUID -eq 0 ]]; then (cd / && runuser -u "$RUN_USER" -- "$@"); else (cd / && "$@"); fi
}

start() {
    [[ -x "$PG_BIN/postgres" ]] || die "$PG_BIN/postgres is missing (deploy/local/stack.sh up installs PostgreSQL 15)"
    command -v openssl >/dev/null || die "the openssl CLI is missing (deploy/local/stack.sh up installs it)"
    cd "$dir"
    {
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
            -keyout ca.key -out ca.pem -subj "/CN=cache-warmer test CA $$"
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
            -keyout other-ca.key -out other-ca.pem -subj "/CN=cache-warmer untrusted CA $$"
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -keyout server.key -out server.csr -subj "/CN=localhost"
        printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1" "basicConstraints=CA:FALSE" \
            "keyUsage=digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" >server.ext
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
            -extfile server.ext -out server.pem
    } >openssl.log 2>&1 || { cat openssl.log >&2; die "certificate generation failed"; }
    chmod 600 ./*.key
    chmod 644 ca.pem other-ca.pem server.pem
    if [[ $EUID -eq 0 ]]; then chown "$RUN_USER:" "$dir" server.key server.pem; fi
    chmod 755 "$dir"

    as_user "$PG_BIN/initdb" -D "$dir/data" -U cw_admin --auth-local=trust --auth-host=scram-sha-256 \
        --encoding=UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    as_user tee "$dir/data/pg_hba.conf" >/dev/null <<EOF
local     all          all                        trust
hostssl   all          all          127.0.0.1/32  scram-sha-256
hostssl   replication  all          127.0.0.1/32  scram-sha-256
hostnossl all          all          0.0.0.0/0     reject
hostnossl replication  all          0.0.0.0/0     reject
EOF

    local low high attempt
    read -r low _ </proc/sys/net/ipv4/ip_local_port_range
    high=$(( low > 21100 && low <= 25000 ? low - 1 : 24999 ))
    for attempt in 1 2 3 4 5; do
        local port="" candidate
        for candidate in $(shuf -i "21000-$high" -n 50); do
            if ! port_in_use "$candidate"; then port="$candidate"; break; fi
        done
        [[ -n "$port" ]] || die "no free port found in 21000-$high"
        if launch "$port"; then
            echo "$port" >"$dir/port"
            admin "CREATE ROLE cachewarmer LOGIN REPLICATION PASSWORD 'cachewarmer'" >/dev/null
            admin "CREATE DATABASE cachewarmer OWNER cachewarmer" >/dev/null
            echo "postgres://cachewarmer:cachewarmer@127.0.0.1:$port/cachewarmer?sslmode=verify-full&sslrootcert=$dir/ca.pem" >"$dir/url"
            echo "host=$dir port=$port user=cw_admin dbname=cachewarmer" >"$dir/admin-url"
            echo "pg-tls: started on TLS port $port in $dir" >&2
            return 0
        fi
        grep -q "could not bind" "$dir/postgres.log" 2>/dev/null || break
        echo "pg-tls: port $port was taken (attempt $attempt), trying another" >&2
    done
    tail -n 20 "$dir/postgres.log" >&2 || true
    die "postgres did not start"
}

# Writes the settings for port $1 and starts the server (pg_ctl waits until it accepts connections).
launch() {
    local port="$1"
    as_user tee "$dir/data/postgresql.auto.conf" >/dev/null <<EOF
# ALTER SYSTEM may add settings below (tests do).
EOF
    as_user tee "$dir/data/test.conf" >/dev/null <<EOF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
ssl = on
ssl_cert_file = '$dir/server.pem'
ssl_key_file = '$dir/server.key'
wal_level = logical
max_replication_slots = 16
max_wal_senders = 16
wal_keep_size = 0
fsync = off
timezone = 'UTC'
log_timezone = 'UTC'
log_line_prefix = '%m [%p] %q%u@%d '
EOF
    grep -qxF "include 'test.conf'" "$dir/data/postgresql.conf" \
        || printf "\ninclude 'test.conf'\n" | as_user tee -a "$dir/data/postgresql.conf" >/dev/null
    as_user "$PG_BIN/pg_ctl" start -D "$dir/data" -l "$dir/postgres.log" -w -t 30 -s >/dev/null 2>&1
}

admin() {
    as_user "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$(cat "$dir/port")" -U cw_admin -d postgres -tAc "$1"
}

stop() {
    [[ -f "$dir/data/postmaster.pid" ]] || return 0
    as_user "$PG_BIN/pg_ctl" stop -D "$dir/data" -m immediate -w -t 30 -s >/dev/null 2>&1 || true
    echo "pg-tls: stopped the server in $dir" >&2
}

restart() {
    as_user "$PG_BIN/pg_ctl" restart -D "$dir/data" -l "$dir/postgres.log" -m fast -w -t 30 -s >/dev/null 2>&1 \
        || { tail -n 20 "$dir/postgres.log" >&2; die "restart failed"; }
}

case "$cmd" in
    start) start ;;
    stop) stop ;;
    restart) restart ;;
    *) die "usage: $0 start|stop|restart DIR" ;;
esac
