#!/usr/bin/env bash
# Benchmark harness (not a test): how fast container output reaches a client.
#
# Streams 1 GiB (`dd if=/dev/zero bs=1M count=1024`) from a busybox
# container into a pipe (`| cat >/dev/null`), in one hyperfine session:
#   1. berth run --rm                       (berth CLI -> berthd -> shim)
#   2. docker run --rm against berthd       (the real docker CLI)
#   3. docker run --rm against dockerd      (Debian's docker.io, the real thing)
#   4. runc run of an equivalent bundle     (the OCI runtime alone, no daemon)
#   5. berth run --rm --log-driver none     (the attach path without the log)
#   6. docker run --rm --log-driver none against dockerd
# and prints medians in MiB/s with ratios to runc and to dockerd (with the
# same log driver). Both daemons write their json-file log as they stream
# (6 bytes of JSON per zero byte, written back to disk once the page cache
# holds too much), runc writes none: rows 5 and 6 show the attach path
# alone.
# Target (issue 9): berth run >= 0.5x runc.
#
# dockerd runs private to the bench (tests/bench/dockerd.sh): own data root,
# exec root, pid file, socket and cgroup parent, no bridge, no iptables, its
# managed containerd; it is stopped and its directories removed at the end.
#
# Usage: sudo tests/bench/stream.sh [RUNS]     (default 5 runs each)
#   BERTH_BIN_DIR  directory with berthd, berth, berth-shim
#                  (default: target/release if built, else target/debug)
#   BENCH_MIB      MiB to stream (default 1024)
set -euo pipefail

runs=${1:-5}
mib=${BENCH_MIB:-1024}
repo=$(cd "$(dirname "$0")/../.." && pwd)
# Short path: containerd's socket lives below it (108-byte sun_path limit).
work=$(mktemp -d /tmp/bs-XXXXXX)
# shellcheck source=tests/bench/berthd.sh
source "$repo/tests/bench/berthd.sh"
# shellcheck source=tests/bench/dockerd.sh
source "$repo/tests/bench/dockerd.sh"
# shellcheck source=tests/bench/bundle.sh
source "$repo/tests/bench/bundle.sh"
cleanup() {
    set +e
    berthd_cleanup
    dockerd_cleanup
    timeout 10 runc --root "$work/runc" delete -f bench-runc >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT
berthd_bin hyperfine runc docker dockerd containerd containerd-shim-runc-v2 busybox python3

echo "binaries: $bin; streaming $mib MiB, $runs runs each"
dd_args="dd if=/dev/zero bs=1M count=$mib"
# The busybox image and the runc bundle running the same command.
busybox_bundle $dd_args

mkdir -p "$work/docker-config"
berthd_start

export DOCKER_CONFIG=$work/docker-config DOCKER_CLI_HINTS=false
dockerd_start

sink="| cat >/dev/null"
hyperfine --warmup 1 --runs "$runs" --style basic --export-json "$work/results.json" \
    -n "berth run" "$bin/berth -H unix://$sock run --rm busybox $dd_args $sink" \
    -n "docker run (berthd)" "docker -H unix://$sock run --rm busybox $dd_args $sink" \
    -n "docker run (dockerd)" "docker -H unix://$dsock run --rm --network none busybox $dd_args $sink" \
    -n "runc run" "runc --root $work/runc run --bundle $work/bundle bench-runc $sink" \
    -n "berth run, no log" "$bin/berth -H unix://$sock run --rm --log-driver none busybox $dd_args $sink" \
    -n "docker run (dockerd), no log" "docker -H unix://$dsock run --rm --network none --log-driver none busybox $dd_args $sink"

python3 - "$work/results.json" "$mib" <<'PY'
import json, sys
results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
mib = int(sys.argv[2])
rate = {name: mib / r["median"] for name, r in results.items()}
runc = rate["runc run"]
def dockerd(name):  # the dockerd row with the same log driver
    return rate["docker run (dockerd), no log" if name.endswith("no log") else "docker run (dockerd)"]
print()
print(f"{'command':<30}{'median':>9}{'MiB/s':>8}{'vs runc':>9}{'vs dockerd':>12}")
for name, r in results.items():
    print(f"{name:<30}{r['median']:>8.2f}s{rate[name]:>8.0f}{rate[name] / runc:>8.2f}x"
          f"{rate[name] / dockerd(name):>11.2f}x")
ratio = rate["berth run"] / runc
print(f"berth run / runc run: {ratio:.2f}x (target >= 0.5x: {'met' if ratio >= 0.5 else 'NOT met'})")
PY
