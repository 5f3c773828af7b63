#!/usr/bin/env bash
# Benchmark harness (not a test): the `docker exec c true` round trip
# through berthd against a reference dockerd (Debian's docker.io, private
# to the bench: tests/bench/dockerd.sh), measured in one run with
# hyperfine, plus `berth exec` and the API's exec create/start/inspect
# through berthd.
#
# Each round trip is what the docker CLI does: create the exec, start it
# on a hijacked stream, read its output to the end, inspect its exit code.
# Target: docker exec through berthd <= 0.5x through dockerd.
#
# Usage: sudo tests/bench/exec.sh [RUNS]
#   BERTH_BIN_DIR  directory with berthd, berth, berth-shim
#                  (default: target/release if built, else target/debug)
set -euo pipefail

runs=${1:-30}
repo=$(cd "$(dirname "$0")/../.." && pwd)
bin=${BERTH_BIN_DIR:-}
if [[ -z $bin ]]; then
    if [[ -x $repo/target/release/berthd ]]; then bin=$repo/target/release; else bin=$repo/target/debug; fi
fi
for tool in hyperfine docker busybox python3; do
    command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 1; }
done
for b in berthd berth berth-shim; do
    [[ -x $bin/$b ]] || { echo "missing $bin/$b: cargo build -p berth-server -p berth-client -p berth-shim" >&2; exit 1; }
done
[[ $(id -u) == 0 ]] || { echo "run as root" >&2; exit 1; }

# Short path: dockerd's containerd socket lives below it (108-byte sun_path).
work=$(mktemp -d /tmp/be-XXXXXX)
sock=$work/berth.sock
berthd_pid=
# shellcheck source=tests/bench/dockerd.sh
source "$(dirname "$0")/dockerd.sh"
# shellcheck source=tests/bench/bundle.sh
source "$(dirname "$0")/bundle.sh"
cleanup() {
    set +e
    timeout 20 docker -H "unix://$dsock" rm -f bench-exec >/dev/null 2>&1
    dockerd_cleanup
    if [[ -n $berthd_pid ]]; then
        for c in $("$bin/berth" -H "unix://$sock" ps -aq 2>/dev/null); do
            timeout 20 "$bin/berth" -H "unix://$sock" rm -f "$c" >/dev/null 2>&1
        done
        kill "$berthd_pid" 2>/dev/null
        for _ in $(seq 100); do kill -0 "$berthd_pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$berthd_pid" 2>/dev/null
    fi
    grep " $work" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l
    rmdir /sys/fs/cgroup/*/"berth-bench-$$"/* /sys/fs/cgroup/*/"berth-bench-$$" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

echo "binaries: $bin"
# The busybox image tarball ($work/busybox.tar), shared with dockerd.
busybox_bundle true

mkdir -p "$work/docker-config" "$work/plugins"
"$bin/berthd" -H "unix://$sock" --data-root "$work/data" --exec-root "$work/exec" \
    --pidfile "$work/berthd.pid" --shim "$bin/berth-shim" \
    --plugin-dir "$work/plugins" --plugin-grants "$work/plugin-grants.toml" \
    --cgroup-parent "/berth-bench-$$" \
    >>"$work/berthd.log" 2>&1 &
berthd_pid=$!
for _ in $(seq 300); do
    [[ -S $sock ]] && "$bin/berth" -H "unix://$sock" version >/dev/null 2>&1 && break
    sleep 0.1
done
"$bin/berth" -H "unix://$sock" import "$work/busybox.tar" busybox >/dev/null
"$bin/berth" -H "unix://$sock" run -d --name bench-exec busybox sleep 100000 >/dev/null

export DOCKER_CONFIG=$work/docker-config DOCKER_CLI_HINTS=false
dockerd_start
docker -H "unix://$dsock" run -d --name bench-exec --network none busybox sleep 100000 >/dev/null

hyperfine --warmup 3 --runs "$runs" --style basic --export-json "$work/results.json" \
    -n "docker exec (berthd)" "docker -H unix://$sock exec bench-exec true" \
    -n "docker exec (dockerd)" "docker -H unix://$dsock exec bench-exec true" \
    -n "berth exec" "$bin/berth -H unix://$sock exec bench-exec true"

python3 - "$work/results.json" <<'PY'
import json, sys
results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
dockerd = results["docker exec (dockerd)"]["median"]
print()
print(f"{'command':<24}{'median':>12}{'vs dockerd':>12}")
for name, r in results.items():
    print(f"{name:<24}{r['median'] * 1000:>10.1f}ms{r['median'] / dockerd:>11.2f}x")
ratio = results["docker exec (berthd)"]["median"] / dockerd
print(f"docker exec through berthd / through dockerd: {ratio:.2f}x (target <= 0.5x)")
PY
