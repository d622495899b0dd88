# Shell helpers shared by deploy/local/stack.sh and deploy/local/redis-tls.sh (sourced, not run).

# Alive = exists and is not a zombie (our PID 1 may be slow to reap orphans).
pid_alive() {
    [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null || return 1
    local stat
    stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
    stat="${stat##*) }"
    [[ "${stat%% *}" != Z ]]
}

# True when something listens on TCP port $1 (ss, else a connect attempt on loopback).
port_in_use() {
    local port="$1"
    if command -v ss >/dev/null 2>&1; then
        [[ -n "$(ss -Hltn "sport = :$port" 2>/dev/null)" ]]
    else
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
    fi
}
