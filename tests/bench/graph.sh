#!/usr/bin/env bash
# Benchmark harness (not a test): the graph driver through berthd and the
# real docker CLI, for both storage drivers.
#
# Measures with hyperfine, per storage driver (overlay2, vfs):
#   1. docker import of a busybox rootfs tarball: plain, gzip, zstd
#      (streaming extraction + hashing + syncfs + one metadata commit)
#   2. docker create + docker rm of a container from that image
#      (rootfs create through the layout policy, then removal)
# and prints medians; the vfs/overlay2 ratio of create+rm shows what the
# per-container copy costs.
#
# Usage: sudo tests/bench/graph.sh [RUNS]
#   BERTH_BIN_DIR  directory with berthd, berth, berth-shim (default:
#                  target/release if built, else target/debug)
set -euo pipefail

runs=${1:-15}
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/berth-bench-graph.XXXXXX)
export DOCKER_CONFIG=$work/docker-config
mkdir -p "$DOCKER_CONFIG"
# shellcheck source=tests/bench/berthd.sh
source "$repo/tests/bench/berthd.sh"
berthd_bin hyperfine docker busybox gzip zstd python3 timeout
# Each storage driver gets a berthd of its own (berthd_dir per driver);
# the bench imports its images itself.
berthd_import=
cleanup() {
    set +e
    berthd_cleanup
    rm -rf "$work"
}
trap cleanup EXIT

# The busybox rootfs of the tests (tests/src/busybox.rs), as a tarball.
rootfs=$work/rootfs
mkdir -p "$rootfs"/{bin,etc,dev,proc,sys,tmp,root,home/berth,var,run}
chmod 1777 "$rootfs/tmp"
cp /bin/busybox "$rootfs/bin/busybox"
for applet in $(busybox --list); do
    [[ $applet == busybox ]] || ln -s busybox "$rootfs/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nberth:x:1000:1000::/home/berth:/bin/sh\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\nberth:x:1000:\n' >"$rootfs/etc/group"
echo busybox >"$rootfs/etc/hostname"
tar -C "$rootfs" -cf "$work/busybox.tar" .
gzip -1 -c "$work/busybox.tar" >"$work/busybox.tar.gz"
zstd -q -3 -c "$work/busybox.tar" >"$work/busybox.tar.zst"
entries=$(tar -tf "$work/busybox.tar" | wc -l)
echo "busybox tarball: $(stat -c %s "$work/busybox.tar") bytes, $entries entries"

for driver in overlay2 vfs; do
    root=$work/$driver
    berthd_dir=$root
    mkdir -p "$root"
    berthd_start --storage-driver "$driver" --log-level warn
    d=(timeout 60 docker -H "unix://$sock")
    for _ in $(seq 100); do "${d[@]}" version >/dev/null 2>&1 && break; sleep 0.1; done
    "${d[@]}" import "$work/busybox.tar" bench:plain >/dev/null
    dc="timeout 60 docker -H unix://$sock"
    hyperfine --warmup 2 --runs "$runs" --style basic \
        --export-json "$root/import.json" \
        -n "$driver import plain" "$dc import $work/busybox.tar bench:plain" \
        -n "$driver import gzip" "$dc import $work/busybox.tar.gz bench:gz" \
        -n "$driver import zstd" "$dc import $work/busybox.tar.zst bench:zst" \
        -n "$driver create+rm" "$dc rm \$($dc create bench:plain true)"
    berthd_stop
done

python3 - "$work" <<'EOF'
import json, sys, statistics
work = sys.argv[1]
rows = {}
for driver in ("overlay2", "vfs"):
    for r in json.load(open(f"{work}/{driver}/import.json"))["results"]:
        rows[r["command"]] = statistics.median(r["times"]) * 1000
print()
print(f"{'benchmark':<26} {'median ms':>10}")
for name, ms in rows.items():
    print(f"{name:<26} {ms:>10.1f}")
o, v = rows["overlay2 create+rm"], rows["vfs create+rm"]
print(f"\nvfs / overlay2 create+rm: {v / o:.2f}x")
EOF
