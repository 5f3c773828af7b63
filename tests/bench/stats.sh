#!/usr/bin/env bash
# Benchmark harness (not a test): `docker stats --no-stream` with 50 running
# containers, through berthd and through a reference dockerd (Debian's
# docker.io, private to the bench: tests/bench/dockerd.sh), measured in one
# run with hyperfine; prints the medians and the ratio.
# Target (issue 10): berthd <= 0.25x dockerd.
#
# Both answer the CLI's `stream=false` with a sample whose CPU figures are a
# delta against a first one: dockerd takes it from its collector's previous
# tick (once a second), berthd reads it 200 ms before the answer
# (`NO_STREAM_WINDOW` in host/engine/src/daemon/stats.rs).
#
# Usage: sudo tests/bench/stats.sh [RUNS] [CONTAINERS]
#   BERTH_BIN_DIR  directory with berthd, berth, berth-shim
#                  (default: target/release if built, else target/debug)
set -euo pipefail

runs=${1:-10}
count=${2:-50}
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/bs-XXXXXX)
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
berthd_bin hyperfine runc docker busybox python3

echo "binaries: $bin"
busybox_bundle true
mkdir -p "$work/docker-config"
berthd_start

export DOCKER_CONFIG=$work/docker-config DOCKER_CLI_HINTS=false
dockerd_start

echo "starting $count containers on each daemon"
for i in $(seq "$count"); do
    docker -H "unix://$sock" run -d --name "s$i" busybox sleep 3600 >/dev/null
    docker -H "unix://$dsock" run -d --network none --name "s$i" busybox sleep 3600 >/dev/null
done
# Each must list every container, or the figures compare different work.
for s in "$sock" "$dsock"; do
    rows=$(docker -H "unix://$s" stats --no-stream --format '{{.Name}}' | wc -l)
    [[ $rows == "$count" ]] || { echo "docker stats on $s listed $rows of $count" >&2; exit 1; }
done

hyperfine --warmup 2 --runs "$runs" --style basic --export-json "$work/results.json" \
    -n "docker stats (berthd)" "docker -H unix://$sock stats --no-stream" \
    -n "docker stats (dockerd)" "docker -H unix://$dsock stats --no-stream"

python3 - "$work/results.json" "$count" <<'PY'
import json, sys
results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
berthd = results["docker stats (berthd)"]["median"]
dockerd = results["docker stats (dockerd)"]["median"]
print()
print(f"docker stats --no-stream, {sys.argv[2]} running containers")
for name, r in results.items():
    print(f"  {name:<24}{r['median'] * 1000:>10.1f} ms")
print(f"berthd / dockerd: {berthd / dockerd:.2f}x (target <= 0.25x)")
PY
