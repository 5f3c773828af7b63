#!/usr/bin/env bash
# Container start benchmark (a harness, not a test): `berth-runc run` vs
# `runc run` vs `unshare --fork --pid --mount --uts --ipc --net true`, on
# the same busybox bundle, in one hyperfine session; prints medians and
# ratios. Target: berth-runc ≤ 0.8 × runc.
#
# Usage: sudo tests/bench/runtime.sh [RUNS]   (default 50 runs each)
#   BERTH_RUNC   a berth-runc binary to measure instead of building this
#                checkout's (e.g. an earlier build, for a before/after pair)
# Needs: root, cargo, hyperfine, runc, busybox-static, python3.
set -euo pipefail

RUNS="${1:-50}"
REPO="$(cd "$(dirname "$0")/../.." && pwd)"

for tool in hyperfine runc unshare python3; do
    command -v "$tool" >/dev/null || { echo "runtime.sh: $tool is missing" >&2; exit 1; }
done
[ -x /bin/busybox ] || { echo "runtime.sh: /bin/busybox is missing (Debian package busybox-static)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "runtime.sh: must run as root" >&2; exit 1; }

if [ -n "${BERTH_RUNC:-}" ]; then
    BERTH="$BERTH_RUNC"
    [ -x "$BERTH" ] || { echo "runtime.sh: BERTH_RUNC=$BERTH is not an executable" >&2; exit 1; }
else
    echo "== building berth-runc (release)"
    (cd "$REPO" && cargo build --release -p berth-runc --quiet)
    BERTH="$REPO/target/release/berth-runc"
fi

WORK="$(mktemp -d /tmp/berth-bench-XXXXXX)"
cleanup() {
    "$BERTH" --root "$WORK/berth-root" delete --force bench-berth >/dev/null 2>&1 || true
    runc --root "$WORK/runc-root" delete --force bench-runc >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "== preparing the bundle in $WORK"
mkdir -p "$WORK/bundle/rootfs/bin" "$WORK/bundle/rootfs/proc" "$WORK/bundle/rootfs/sys" \
    "$WORK/bundle/rootfs/dev" "$WORK/bundle/rootfs/etc" "$WORK/bundle/rootfs/tmp"
cp /bin/busybox "$WORK/bundle/rootfs/bin/"
for applet in sh true; do ln -s busybox "$WORK/bundle/rootfs/bin/$applet"; done
(cd "$WORK/bundle" && runc spec)
python3 - "$WORK/bundle/config.json" <<'PY'
import json, sys
path = sys.argv[1]
c = json.load(open(path))
c["process"]["terminal"] = False
c["process"]["args"] = ["true"]
json.dump(c, open(path, "w"), indent=1)
PY

echo "== hyperfine: $RUNS runs each"
hyperfine -N --warmup 5 --runs "$RUNS" --export-json "$WORK/result.json" \
    -n berth-runc "$BERTH --root $WORK/berth-root run --bundle $WORK/bundle bench-berth" \
    -n runc "runc --root $WORK/runc-root run --bundle $WORK/bundle bench-runc" \
    -n unshare "unshare --fork --pid --mount --uts --ipc --net true" >/dev/null

python3 - "$WORK/result.json" <<'PY'
import json, sys
results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
median = {name: r["median"] * 1000 for name, r in results.items()}
print(f"{'command':<12} {'median ms':>10} {'mean ms':>9} {'stddev':>8}")
for name, r in results.items():
    print(f"{name:<12} {median[name]:>10.2f} {r['mean']*1000:>9.2f} {r['stddev']*1000:>8.2f}")
ratio = median["berth-runc"] / median["runc"]
print(f"berth-runc / runc    = {ratio:.2f}  (target <= 0.80: {'met' if ratio <= 0.8 else 'NOT met'})")
print(f"berth-runc / unshare = {median['berth-runc'] / median['unshare']:.2f}")
print(f"runc / unshare       = {median['runc'] / median['unshare']:.2f}")
PY
