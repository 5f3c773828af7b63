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
# Short path: containerd's socket lives below it (108-byte sun_path limit).
work=$(mktemp -d /tmp/bc-XXXXXX)
# shellcheck source=tests/bench/berthd.sh
source "$(dirname "$0")/berthd.sh"
# shellcheck source=tests/bench/dockerd.sh
source "$(dirname "$0")/dockerd.sh"
# shellcheck source=tests/bench/bundle.sh
source "$(dirname "$0")/bundle.sh"
cleanup() {
    set +e
    dockerd_cleanup
    berthd_cleanup
    rm -rf "$work"
}
trap cleanup EXIT
berthd_bin hyperfine runc docker dockerd containerd containerd-shim-runc-v2 busybox python3

echo "binaries: $bin; copying $mib MiB, $runs runs each"
busybox_bundle true

mkdir -p "$work/docker-config" "$work/out"
berthd_start

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
