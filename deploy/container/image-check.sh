#!/usr/bin/env bash
# Proves the container image's runtime package list without a Docker engine (`make
# deploy-image-check`, as root): makes a minimal Debian 12 root with debootstrap, installs in it
# exactly the packages the Dockerfile's runtime stage installs (with the same apt-get line),
# copies the release binary in, and from inside it (chroot, as the image's non-root user):
#   - checks that every shared library the binary needs resolves (ldd),
#   - runs `cache-warmer check` against the local stack,
#   - runs `setup`, then the worker on its own slot in a read-only view of the root (the task
#     definition's ReadonlyRootFilesystem), asks the Dockerfile's HEALTHCHECK command,
#     scrapes /metrics and checks the alarmed metric names against it, stops it with SIGTERM
#     (exit 0 expected) and tears the slot down.
# Usage: deploy/container/image-check.sh BINARY   (a --static-swift-stdlib release build)
# Needs the local stack's settings in the environment (eval "$(deploy/local/stack.sh env)").
# The Debian mirror is the one apt uses on this machine.
set -euo pipefail
cd "$(dirname "$0")/../.."

binary="${1:?usage: $0 path/to/release/cache-warmer}"
[[ -x "$binary" ]] || { echo "image-check: $binary is not an executable" >&2; exit 1; }
[[ $EUID -eq 0 ]] || { echo "image-check: needs root (debootstrap, chroot)" >&2; exit 1; }
for name in DB_WRITER_URL DB_READER_URL REDIS_URL; do
    [[ -n "${!name:-}" ]] || { echo "image-check: $name is not set: eval \"\$(deploy/local/stack.sh env)\"" >&2; exit 1; }
done

work=.build-deploy/image-check
root="$work/root"
readonly_root="$work/readonly"
venv=.build-deploy/venv
mkdir -p "$work/debs"

# The runtime stage's package list: the apt-get install line after `FROM ${RUNTIME_IMAGE}`.
packages="$(awk '/^FROM \$\{RUNTIME_IMAGE\}/{runtime=1} runtime && /apt-get install/{sub(/.*--no-install-recommends /, ""); sub(/ *\\$/, ""); print; exit}' deploy/container/Dockerfile)"
[[ -n "$packages" ]] || { echo "image-check: no apt-get install line in the Dockerfile's runtime stage" >&2; exit 1; }
echo "image-check: runtime packages from the Dockerfile: $packages"

# The Debian mirror apt uses here (deb822 URIs: or one-line deb entries), not the security one.
mirror="$(grep -rhoE '(URIs:[[:space:]]*|^deb[[:space:]]+)https?://[^[:space:]]+' /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null \
    | sed -E 's/^(URIs:[[:space:]]*|deb[[:space:]]+)//' | grep -v -- '-security' | grep -m1 debian || true)"
mirror="${mirror:-http://deb.debian.org/debian}"
echo "image-check: Debian mirror $mirror"

command -v debootstrap >/dev/null || { apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; }

mounted=""
readonly_mounted=""
worker_pid=""
set_up=""
cleanup() {
    if [[ -n "$worker_pid" ]]; then
        kill "$worker_pid" 2>/dev/null || true
        wait "$worker_pid" 2>/dev/null || true
    fi
    if [[ -n "$set_up" ]]; then
        image_root="$root"
        in_image cache-warmer teardown --drop-publication >/dev/null 2>&1 || true
    fi
    if [[ -n "$readonly_mounted" ]]; then
        umount "$readonly_root/proc" 2>/dev/null || true
        umount "$readonly_root" 2>/dev/null || true
    fi
    [[ -n "$mounted" ]] && umount "$root/proc" 2>/dev/null || true
}
trap cleanup EXIT

# Mounts an interrupted earlier run left behind (deepest first), then a fresh root.
for mount_point in $(awk -v prefix="$PWD/$work/" 'index($2, prefix) == 1 {print $2}' /proc/mounts | sort -r); do
    umount "$mount_point"
done
if grep -q " $PWD/$work/" /proc/mounts; then echo "image-check: cannot unmount what is mounted under $work" >&2; exit 1; fi
rm -rf "$root"
echo "image-check: debootstrap bookworm (minbase) into $root"
debootstrap --variant=minbase --cache-dir="$PWD/$work/debs" bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
mount -t proc proc "$root/proc"
mounted=1
cp /etc/resolv.conf "$root/etc/resolv.conf"
# The Dockerfile's runtime RUN, verbatim in effect.
chroot "$root" /bin/sh -c "apt-get update -qq && apt-get install -y -qq --no-install-recommends $packages >/dev/null && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 cache-warmer \
    && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin cache-warmer"
install -D -m 0755 "$binary" "$root/usr/local/bin/cache-warmer"

echo "image-check: shared libraries"
if chroot "$root" ldd /usr/local/bin/cache-warmer | grep 'not found'; then
    echo "image-check: FAIL: libraries missing from the runtime packages" >&2
    exit 1
fi

unique="t_image_$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')"
port=$((30000 + RANDOM % 20000))
# The demo configuration on its own slot, publication, namespace and metrics port.
sed -e "s/^slot: .*/slot: $unique/" -e "s/^publication: .*/publication: ${unique}_pub/" \
    -e "s/^namespace: .*/namespace: ${unique//_/-}/" -e "s/^metrics_port: .*/metrics_port: $port/" \
    deploy/cache-warmer.yaml | install -D -m 0644 /dev/stdin "$root/etc/cache-warmer/cache-warmer.yaml"

image_root="$root"
# exec_in_image replaces its (sub)shell, so a background worker's PID is the worker's own
# (chroot and env exec in turn) and SIGTERM reaches it.
in_image() { ( exec_in_image "$@" ); }
exec_in_image() {
    exec chroot --userspec=10001:10001 "$image_root" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin \
        CACHE_WARMER_CONFIG=/etc/cache-warmer/cache-warmer.yaml \
        DB_WRITER_URL="$DB_WRITER_URL" DB_READER_URL="$DB_READER_URL" REDIS_URL="$REDIS_URL" "$@"
}

echo "image-check: cache-warmer check (inside the root)"
in_image cache-warmer check

echo "image-check: setup, worker, health check, /metrics, SIGTERM, teardown"
set_up=1
in_image cache-warmer setup
mkdir -p "$readonly_root"
mount --bind "$root" "$readonly_root"
readonly_mounted=1
mount -o remount,bind,ro "$readonly_root"
mount -t proc proc "$readonly_root/proc"
image_root="$readonly_root"
exec_in_image cache-warmer run --log-format json 2>"$work/worker.log" &
worker_pid=$!
healthcheck="$(sed -n 's/.*CMD \["\/bin\/bash", "-c", "\(.*\)"\]$/\1/p' deploy/container/Dockerfile | sed -e 's/\\\\/\\/g' -e "s/9187/$port/")"
healthy=""
for _ in $(seq 1 50); do
    if in_image /bin/bash -c "$healthcheck" 2>/dev/null; then healthy=1; break; fi
    sleep 0.2
done
[[ -n "$healthy" ]] || { echo "image-check: FAIL: the Dockerfile's HEALTHCHECK did not pass" >&2; cat "$work/worker.log" >&2; exit 1; }
echo "image-check: HEALTHCHECK passed"
in_image /bin/bash -c "exec 3<>/dev/tcp/127.0.0.1/$port && printf 'GET /metrics HTTP/1.0\r\n\r\n' >&3 && cat <&3" >"$work/metrics.txt"
[[ -x "$venv/bin/python" ]] || deploy/check.sh >/dev/null
"$venv/bin/python" deploy/aws/check_template.py --metrics-file "$work/metrics.txt"
kill -TERM "$worker_pid"
status=0
wait "$worker_pid" || status=$?
worker_pid=""
[[ $status -eq 0 ]] || { echo "image-check: FAIL: the worker exited $status on SIGTERM" >&2; tail -20 "$work/worker.log" >&2; exit 1; }
image_root="$root"
in_image cache-warmer teardown --drop-publication
set_up=""
echo "image-check: ok (Debian 12 minbase + $packages runs cache-warmer)"
