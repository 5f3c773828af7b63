#!/usr/bin/env bash
# Benchmark harness (not a test): `docker cp` of 100 MB both ways.
#
# One hyperfine session, the same file each time (BENCH_MIB MiB of random
# bytes, default 100):
#   1. docker cp FILE c:/tmp/      into a running container, through berthd
#   2. the same against dockerd (Debian's docker.io, private to the bench)
#   3. docker cp c:/tmp/blob OUT   out of it, through berthd
#   4. the same against dockerd
#   5. berth cp, both ways, through berthd
# and prints medians with the ratio berthd/dockerd (below 1: berthd is
# faster). The containers run `sleep`, so the copy goes into and out of
# their writable layers (overlay upper dirs) on both daemons.
#
# dockerd runs private to the bench (tests/bench/dockerd.sh): own data root,
# exec root, pid file, socket and cgroup parent, no bridge, no iptables, its
# managed containerd; it is stopped and its directories removed at the end.
#
# Usage: sudo tests/bench/cp.sh [RUNS]     (default 10 runs each)
#   BERTH_BIN_DIR  directory with berthd, berth, berth-shim
#                  (default: target/release if built, else target/debug)
#   BENCH_MIB      MiB to copy (default 100)
set -euo pipefail

runs=${1:-10}
mib=${BENCH_MIB:-100}
repo=$(cd "$(dirname "$0")/../.." && pwd)
bin=${BERTH_BIN_DIR:-}
if [[ -z $bin ]]; then
    if [[ -x $repo/target/release/berthd ]]; then bin=$repo/target/release; else bin=$repo/target/debug; fi
fi
for tool in hyperfine runc docker dockerd containerd containerd-shim-runc-v2 busybox python3; do
    command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 1; }
done
for b in berthd berth berth-shim; do
    [[ -x $bin/$b ]] || { echo "missing $bin/$b: cargo build --release -p berth-server -p berth-client -p berth-shim" >&2; exit 1; }
done
[[ $(id -u) == 0 ]] || { echo "run as root" >&2; exit 1; }

# Short path: containerd's socket lives below it (108-byte sun_path limit).
work=$(mktemp -d /tmp/bc-XXXXXX)
sock=$work/berth.sock
berthd_pid=
stop() { # PID: TERM, wait up to 30 s, then KILL
    kill "$1" 2>/dev/null || return 0
    for _ in $(seq 300); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
    kill -9 "$1" 2>/dev/null
}
# shellcheck source=tests/bench/dockerd.sh
source "$(dirname "$0")/dockerd.sh"
# shellcheck source=tests/bench/bundle.sh
source "$(dirname "$0")/bundle.sh"
cleanup() {
    set +e
    if [[ -n $berthd_pid ]]; then
        for c in $("$bin/berth" -H "unix://$sock" ps -aq 2>/dev/null); do
            timeout 20 "$bin/berth" -H "unix://$sock" rm -f "$c" >/dev/null 2>&1
        done
        stop "$berthd_pid"
    fi
    dockerd_cleanup
    grep " $work" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l
    for hierarchy in /sys/fs/cgroup/*/; do
        for dir in "$hierarchy"berth-bench-$$/* "$hierarchy"berth-bench-$$; do
            [[ -d $dir ]] && rmdir "$dir" 2>/dev/null
        done
    done
    rm -rf "$work"
}
trap cleanup EXIT

echo "binaries: $bin; copying $mib MiB, $runs runs each"
busybox_bundle true

wait_for() { # SOCKET CLIENT... : until `CLIENT version` answers, at most 60 s
    local socket=$1; shift
    for _ in $(seq 600); do
        [[ -S $socket ]] && "$@" version >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "daemon on $socket did not come up" >&2
    return 1
}

mkdir -p "$work/plugins" "$work/docker-config" "$work/out"
"$bin/berthd" -H "unix://$sock" --data-root "$work/data" --exec-root "$work/exec" \
    --pidfile "$work/berthd.pid" --shim "$bin/berth-shim" \
    --plugin-dir "$work/plugins" --plugin-grants "$work/plugin-grants.toml" \
    --cgroup-parent "/berth-bench-$$" \
    >>"$work/berthd.log" 2>&1 &
berthd_pid=$!
wait_for "$sock" "$bin/berth" -H "unix://$sock" || { cat "$work/berthd.log" >&2; exit 1; }
"$bin/berth" -H "unix://$sock" import "$work/busybox.tar" busybox >/dev/null

export DOCKER_CONFIG=$work/docker-config DOCKER_CLI_HINTS=false
dockerd_start

head -c "$((mib << 20))" /dev/urandom >"$work/blob"
B="docker -H unix://$sock"
D="docker -H unix://$dsock"
$B run -d --name cpb busybox sleep 100000 >/dev/null
$D run -d --name cpb --network none busybox sleep 100000 >/dev/null
# The file exists in both before the first copy out is timed.
$B cp "$work/blob" cpb:/tmp/blob
$D cp "$work/blob" cpb:/tmp/blob

hyperfine --warmup 1 --runs "$runs" --style basic --export-json "$work/results.json" \
    -n "docker cp in (berthd)" "$B cp -q $work/blob cpb:/tmp/blob" \
    -n "docker cp in (dockerd)" "$D cp -q $work/blob cpb:/tmp/blob" \
    -n "docker cp out (berthd)" "$B cp -q cpb:/tmp/blob $work/out/blob" \
    -n "docker cp out (dockerd)" "$D cp -q cpb:/tmp/blob $work/out/blob" \
    -n "berth cp in" "$bin/berth -H unix://$sock cp $work/blob cpb:/tmp/blob" \
    -n "berth cp out" "$bin/berth -H unix://$sock cp cpb:/tmp/blob $work/out/blob"

cmp "$work/blob" "$work/out/blob" || { echo "the copied-out file differs" >&2; exit 1; }

python3 - "$work/results.json" "$mib" <<'PY'
import json, sys
results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
mib = int(sys.argv[2])
print()
print(f"{'command':<26}{'median':>9}{'MiB/s':>8}{'vs dockerd':>12}")
for name, r in results.items():
    way = "in" if " in" in name else "out"
    peer = results[f"docker cp {way} (dockerd)"]["median"]
    print(f"{name:<26}{r['median']:>8.3f}s{mib / r['median']:>8.0f}{r['median'] / peer:>11.2f}x")
PY
