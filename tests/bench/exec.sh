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
# Short path: dockerd's containerd socket lives below it (108-byte sun_path).
work=$(mktemp -d /tmp/be-XXXXXX)
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
berthd_bin hyperfine docker busybox python3

echo "binaries: $bin"
# The busybox image tarball ($work/busybox.tar), shared with dockerd.
busybox_bundle true

mkdir -p "$work/docker-config"
berthd_start
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
