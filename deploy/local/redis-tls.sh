#!/usr/bin/env bash
# A throwaway TLS + ACL Redis for tests: a fresh CA and server certificate (openssl CLI), then
# redis-server daemonized on 127.0.0.1 and 127.0.0.2 with TLS only (port 0, tls-port a free
# port in 21000-24999: below the kernel's ephemeral range and the local stack's default ports),
# user "app" (password "apppass"), default user off.
#
# Usage: deploy/local/redis-tls.sh start DIR   -> writes DIR/port, DIR/ca.pem, DIR/other-ca.pem
#        deploy/local/redis-tls.sh start-cluster DIR
#                                  -> a Redis Cluster of three TLS-only masters (tls-cluster yes,
#                                     the same user, certificate and port range; bus ports 100 higher);
#                                     writes DIR/ports (one per line), DIR/ca.pem, DIR/other-ca.pem
#        deploy/local/redis-tls.sh stop DIR     (either kind)
#
# DIR must exist and be empty (start) or hold a server started here (stop). Output goes to
# DIR/script.log as well as stderr. The certificate names DNS:localhost and IP:127.0.0.1
# (not 127.0.0.2: tests use that address for a host name mismatch).
set -euo pipefail

die() { printf 'redis-tls: %s\n' "$*" >&2; exit 1; }
# shellcheck source=deploy/local/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)/lib.sh"

cmd="${1:-}"
dir="${2:-}"
[[ -n "$cmd" && -n "$dir" ]] || die "usage: $0 start|start-cluster|stop DIR"
[[ -d "$dir" ]] || die "$dir is not a directory"
dir="$(cd "$dir" && pwd -P)"
exec 2> >(tee -a "$dir/script.log" >&2)

make_certs() {
    command -v redis-server >/dev/null || die "redis-server is missing (deploy/local/stack.sh up installs it)"
    command -v openssl >/dev/null || die "the openssl CLI is missing (deploy/local/stack.sh up installs it)"
    cd "$dir"
    local subject_ca="/CN=cache-warmer test CA $$"
    {
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
            -keyout ca.key -out ca.pem -subj "$subject_ca"
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
            -keyout other-ca.key -out other-ca.pem -subj "/CN=cache-warmer untrusted CA $$"
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -keyout server.key -out server.csr -subj "/CN=localhost"
        printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1" "basicConstraints=CA:FALSE" \
            "keyUsage=digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth,clientAuth" >server.ext
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
            -extfile server.ext -out server.pem
    } >openssl.log 2>&1 || { cat openssl.log >&2; die "certificate generation failed"; }
    chmod 600 ./*.key
}

start() {
    make_certs
    # Ports in the ephemeral range may be taken by outgoing connections that ss does not list
    # as listeners, so pick below it, and below the local stack's default ports (25432...);
    # a port taken meanwhile is retried with another.
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
            echo "redis-tls: started pid $(cat "$dir/redis.pid") on TLS port $port in $dir" >&2
            return 0
        fi
        grep -q "Address already in use" "$dir/redis.log" 2>/dev/null || break
        echo "redis-tls: port $port was taken (attempt $attempt), trying another" >&2
    done
    tail -n 20 "$dir/redis.log" >&2 || true
    die "redis-server did not start"
}

# Writes the configuration for TLS port $1, starts redis-server and waits for PING; fails when
# the server exits or does not answer within 10 s.
launch() {
    local port="$1"
    rm -f "$dir/redis.pid"
    : >"$dir/redis.log"
    cat >"$dir/redis.conf" <<CONF
bind 127.0.0.1 127.0.0.2
port 0
tls-port $port
tls-cert-file $dir/server.pem
tls-key-file $dir/server.key
tls-ca-cert-file $dir/ca.pem
tls-auth-clients no
protected-mode no
daemonize yes
pidfile $dir/redis.pid
logfile $dir/redis.log
dir $dir
save ""
appendonly no
user default off
user app on >apppass ~* &* +@all
CONF
    redis-server "$dir/redis.conf" || return 1
    local tries=100 pid
    until [[ "$(redis-cli --tls --cacert "$dir/ca.pem" -h 127.0.0.1 -p "$port" --user app --pass apppass --no-auth-warning ping 2>/dev/null)" == PONG ]]; do
        pid="$(cat "$dir/redis.pid" 2>/dev/null || true)"
        if (( tries-- <= 0 )) || { (( tries < 80 )) && ! pid_alive "$pid"; }; then
            [[ -n "$pid" ]] && kill -KILL "$pid" 2>/dev/null
            return 1
        fi
        sleep 0.1
    done
}

# Three masters on free ports p, p+1, p+2 (bus ports +100), made a cluster with redis-cli. A
# port taken between the check and the bind (another suite starting a server) means new ports.
start_cluster() {
    make_certs
    local low high attempt candidate offset free base
    read -r low _ </proc/sys/net/ipv4/ip_local_port_range
    high=$(( low > 21200 && low <= 25000 ? low - 200 : 24800 ))
    for attempt in 1 2 3; do
        base=""
        for candidate in $(shuf -i "21000-$high" -n 50); do
            free=1
            for offset in 0 1 2 100 101 102; do
                if port_in_use $(( candidate + offset )); then free=0; break; fi
            done
            if (( free )); then base="$candidate"; break; fi
        done
        [[ -n "$base" ]] || die "no three free ports found in 21000-$high"
        if launch_cluster "$base"; then
            printf '%s\n' "$base" $(( base + 1 )) $(( base + 2 )) >"$dir/ports"
            echo "redis-tls: started a TLS cluster on ports $base-$(( base + 2 )) in $dir" >&2
            return 0
        fi
        echo "redis-tls: cluster nodes on ports $base-$(( base + 2 )) did not start (attempt $attempt)" >&2
        tail -n 5 "$dir"/node-*/redis.log >&2 || true
        stop
        rm -rf "$dir"/node-*
    done
    die "the TLS cluster did not start"
}

# Starts three nodes on $1..$1+2, waits for PING, creates the cluster, waits for cluster_state:ok.
launch_cluster() {
    local base="$1" port node addresses=()
    local cli=(redis-cli --tls --cacert "$dir/ca.pem" --user app --pass apppass --no-auth-warning)
    for port in "$base" $(( base + 1 )) $(( base + 2 )); do
        node="$dir/node-$port"
        mkdir -p "$node"
        cat >"$node/redis.conf" <<CONF
bind 127.0.0.1
port 0
tls-port $port
tls-cert-file $dir/server.pem
tls-key-file $dir/server.key
tls-ca-cert-file $dir/ca.pem
tls-auth-clients no
tls-cluster yes
tls-replication yes
cluster-enabled yes
cluster-config-file nodes.conf
cluster-port $(( port + 100 ))
cluster-node-timeout 5000
protected-mode no
daemonize yes
pidfile $node/redis.pid
logfile $node/redis.log
dir $node
save ""
appendonly no
user default off
user app on >apppass ~* &* +@all
CONF
        redis-server "$node/redis.conf" || return 1
        addresses+=("127.0.0.1:$port")
    done
    for port in "$base" $(( base + 1 )) $(( base + 2 )); do
        local tries=100
        until [[ "$("${cli[@]}" -h 127.0.0.1 -p "$port" ping 2>/dev/null)" == PONG ]]; do
            (( tries-- > 0 )) || return 1
            sleep 0.1
        done
    done
    timeout 60 "${cli[@]}" --cluster create "${addresses[@]}" --cluster-yes >"$dir/create.log" 2>&1 \
        || { cat "$dir/create.log" >&2; die "redis-cli --cluster create failed"; }
    for port in "$base" $(( base + 1 )) $(( base + 2 )); do
        local tries=200
        until "${cli[@]}" -h 127.0.0.1 -p "$port" CLUSTER INFO 2>/dev/null | grep -q '^cluster_state:ok'; do
            (( tries-- > 0 )) || die "cluster node $port never reported cluster_state:ok"
            sleep 0.1
        done
    done
}

stop() {
    local node
    for node in "$dir"/node-*/; do
        [[ -d "$node" ]] && stop_pid "$node/redis.pid"
    done
    stop_pid "$dir/redis.pid"
}

stop_pid() {
    local pid pidfile="$1"
    pid="$(cat "$pidfile" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 0
    grep -q redis "/proc/$pid/comm" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    local tries=100
    while pid_alive "$pid" && (( tries-- > 0 )); do sleep 0.05; done
    pid_alive "$pid" && kill -KILL "$pid" 2>/dev/null || true
    rm -f "$pidfile"
    echo "redis-tls: stopped pid $pid" >&2
}

case "$cmd" in
    start) start ;;
    start-cluster) start_cluster ;;
    stop) stop ;;
    *) die "usage: $0 start|start-cluster|stop DIR" ;;
esac
