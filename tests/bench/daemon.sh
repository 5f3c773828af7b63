#!/usr/bin/env bash
# Benchmark harness (not a test): how long a container run takes end to end
# through berth, against runc and a bare unshare, plus memory figures.
#
# Measures in one run, with hyperfine:
#   1. berth run --rm busybox true            (berth CLI -> berthd -> shim)
#   2. docker run --rm busybox true           (the real docker CLI -> berthd)
#   3. docker run --rm busybox true against dockerd (Debian's docker.io, the
#      real thing, private to the bench: tests/bench/dockerd.sh)
#   4. runc run of an equivalent bundle       (the OCI runtime alone)
#   5. unshare --fork --pid --mount --uts --ipc --net true
# and prints medians, ratios to runc and to dockerd, berthd's idle RSS
# (first start with an empty plugin cache, and a restart with a warm one),
# dockerd's (with its containerd) and a shim's RSS, each split into
# anonymous and file-backed pages (smaps_rollup).
# Targets: berth run <= 3x runc; shim < 2 MiB; berthd idle < 30 MiB.
#
# Usage: sudo tests/bench/daemon.sh [RUNS]
#   BERTH_BIN_DIR  directory with berthd, berth, berth-shim
#                  (default: target/release if built, else target/debug)
set -euo pipefail

runs=${1:-20}
repo=$(cd "$(dirname "$0")/../.." && pwd)
# Short path: dockerd's containerd socket lives below it (108-byte sun_path).
work=$(mktemp -d /tmp/bd-XXXXXX)
# shellcheck source=tests/bench/berthd.sh
source "$repo/tests/bench/berthd.sh"
# shellcheck source=tests/bench/dockerd.sh
source "$repo/tests/bench/dockerd.sh"
# shellcheck source=tests/bench/bundle.sh
source "$repo/tests/bench/bundle.sh"
cleanup() {
    set +e
    dockerd_cleanup
    berthd_cleanup
    timeout 10 runc --root "$work/runc" delete -f bench-runc >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT
berthd_bin hyperfine runc unshare docker busybox python3

echo "binaries: $bin"
# The busybox image and the runc bundle running the same command.
busybox_bundle true

# berthd with its own roots.
mkdir -p "$work/docker-config"
mkdir -p "$work/plugins"
# berthd's idle RSS is measured before it imports anything.
berthd_import=
start_berthd() {
    berthd_start
    sleep 1
}
# "RSS anon file" of a process in KiB, from smaps_rollup.
rss_of() {
    awk '/^Rss:/ {r=$2} /^Anonymous:/ {a=$2} END {print r, a, r - a}' "/proc/$1/smaps_rollup"
}
# First start: empty plugin compilation cache (berthd compiles the built-in
# plugins, in a child process since the idle-RSS fix).
start_berthd
read -r cold_rss cold_anon cold_file < <(rss_of "$berthd_pid")
# Second start over the same data root: the cache is warm.
berthd_stop
start_berthd
read -r idle_rss idle_anon idle_file < <(rss_of "$berthd_pid")
"$bin/berth" -H "unix://$sock" import "$work/busybox.tar" busybox >/dev/null

# A shim's RSS, from a long-running container.
"$bin/berth" -H "unix://$sock" run -d --name rss busybox sleep 60 >/dev/null
shim_pid=$(pgrep -f "berth-shim.*$work/exec" | head -1)
read -r shim_rss shim_anon shim_file < <(rss_of "$shim_pid")
"$bin/berth" -H "unix://$sock" rm -f rss >/dev/null

export DOCKER_CONFIG=$work/docker-config DOCKER_CLI_HINTS=false
dockerd_start
sleep 1
read -r dockerd_rss_kib dockerd_anon dockerd_file < <(dockerd_rss)
hyperfine --warmup 3 --runs "$runs" --style basic --export-json "$work/results.json" \
    -n "berth run" "$bin/berth -H unix://$sock run --rm busybox true" \
    -n "docker run (berthd)" "docker -H unix://$sock run --rm busybox true" \
    -n "docker run (dockerd)" "docker -H unix://$dsock run --rm --network none busybox true" \
    -n "runc run" "runc --root $work/runc run --bundle $work/bundle bench-runc" \
    -n "unshare" "unshare --fork --pid --mount --uts --ipc --net true"

python3 - "$work/results.json" "$cold_rss $cold_anon $cold_file" "$idle_rss $idle_anon $idle_file" "$shim_rss $shim_anon $shim_file" \
    "$dockerd_rss_kib $dockerd_anon $dockerd_file" <<'PY'
import json, sys
results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
runc = results["runc run"]["median"]
dockerd = results["docker run (dockerd)"]["median"]
print()
print(f"{'command':<22}{'median':>12}{'vs runc':>10}{'vs dockerd':>12}")
for name, r in results.items():
    print(f"{name:<22}{r['median'] * 1000:>10.1f}ms{r['median'] / runc:>9.2f}x{r['median'] / dockerd:>11.2f}x")
def mib(kib):
    return f"{int(kib) / 1024:.1f} MiB"
def line(label, figures, target):
    rss, anon, file = figures.split()
    print(f"{label:<38}{mib(rss):>10} (anon {mib(anon)}, file {mib(file)}) target < {target}")
print()
line("berthd idle RSS, first start:", sys.argv[2], "30 MiB")
line("berthd idle RSS, warm plugin cache:", sys.argv[3], "30 MiB")
line("berth-shim RSS:", sys.argv[4], "2 MiB")
line("dockerd + containerd idle RSS:", sys.argv[5], "-")
berthd_idle, dockerd_idle = int(sys.argv[3].split()[0]), int(sys.argv[5].split()[0])
print(f"berthd idle / dockerd + containerd idle: {berthd_idle / dockerd_idle:.2f}x")
ratio = results["berth run"]["median"] / runc
print(f"berth run / runc run: {ratio:.2f}x (target <= 3x)")
print(f"docker run through berthd / through dockerd: {results['docker run (berthd)']['median'] / dockerd:.2f}x")
PY
