#!/usr/bin/env bash
# Benchmark harness (not a test): pull and push of a ~100 MB multi-layer
# image against local registries (Debian's docker-registry), berthd beside
# `skopeo copy` and beside a reference dockerd (tests/bench/dockerd.sh) in
# the same run.
#
#   pull: registry -> berthd / dockerd (docker pull; the image removed
#         before each run) and registry -> dir: (skopeo copy: it writes
#         and verifies the blobs only; the daemons also extract the layers)
#   push: berthd / dockerd (docker push) and skopeo copy -> a second
#         registry whose storage is wiped before each run, so every blob is
#         uploaded. skopeo pushes twice: from a docker-archive: that berthd
#         saved (uncompressed layer tars: skopeo compresses each, as dockerd
#         does), and from the dir: its pull wrote (the gzip blobs as the
#         source registry served them, sent as they are). berthd sends the
#         gzip blobs its pull kept, so "skopeo push dir" is its like-for-like
#         peer; the target ratio is printed against both.
#
# Prints medians, throughput (compressed image bytes / s), the ratios
# berthd/skopeo and berthd/dockerd (targets: >= 1.0x and >= 2x), and
# berthd's RSS growth during one pull (VmRSS sampled from /proc every
# 20 ms against the value before it; target < 50 MiB), with VmHWM.
#
# Usage: sudo tests/bench/registry.sh [RUNS]
#   BERTH_BIN_DIR  directory with berthd, berth, berth-shim (default:
#                  target/release if built, else target/debug)
#   LAYER_MB       size of each of the 4 data layers (default 25: the image
#                  is ~100 MB of tars, ~51 MiB of gzip blobs)
set -euo pipefail

runs=${1:-3}
layer_mb=${LAYER_MB:-25}
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/brb.XXXXXX)
export DOCKER_CONFIG=$work/docker-config
mkdir -p "$DOCKER_CONFIG"
# shellcheck source=tests/bench/berthd.sh
source "$repo/tests/bench/berthd.sh"
# shellcheck source=tests/bench/dockerd.sh
source "$repo/tests/bench/dockerd.sh"
berthd_bin hyperfine docker skopeo busybox python3 timeout /usr/bin/docker-registry
echo "berthd from $bin"

registry_pids=()
cleanup() {
    set +e
    berthd_cleanup
    dockerd_cleanup
    for pid in "${registry_pids[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
    [[ -n ${sampler:-} ]] && kill "$sampler" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_registry() { # NAME -> sets reg_NAME=127.0.0.1:PORT, storage in $work/NAME
    local name=$1 port dir
    port=$(free_port)
    dir=$work/$name
    mkdir -p "$dir/storage"
    printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:%s\n' \
        "$dir/storage" "$port" >"$dir/config.yml"
    /usr/bin/docker-registry serve "$dir/config.yml" >>"$dir/log" 2>&1 &
    registry_pids+=($!)
    for _ in $(seq 100); do
        curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break
        sleep 0.1
    done
    printf -v "reg_$name" '127.0.0.1:%s' "$port"
}

# The busybox rootfs of the tests (tests/src/busybox.rs), for the daemons'
# own busybox image.
rootfs=$work/rootfs
mkdir -p "$rootfs"/{bin,etc,dev,proc,sys,tmp,root}
cp /bin/busybox "$rootfs/bin/busybox"
for applet in $(busybox --list); do
    [[ $applet == busybox ]] || ln -s busybox "$rootfs/bin/$applet"
done
echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"
tar -C "$rootfs" -cf "$work/busybox.tar" .

# The image: busybox, then 4 layers of LAYER_MB each (half random, half
# text, so gzip has work to do), as an OCI layout seeded into the source
# registry with skopeo.
python3 - "$work" "$layer_mb" <<'EOF'
import gzip, hashlib, io, json, os, sys, tarfile
work, mb = sys.argv[1], int(sys.argv[2])
layout = f"{work}/layout"
os.makedirs(f"{layout}/blobs/sha256")
def blob(data):
    d = hashlib.sha256(data).hexdigest()
    open(f"{layout}/blobs/sha256/{d}", "wb").write(data)
    return "sha256:" + d, len(data)
def layer_tar(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as t:
        for name, data in files:
            info = tarfile.TarInfo(name); info.size = len(data); info.mode = 0o644
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()
tars = [open(f"{work}/busybox.tar", "rb").read()]
for n in range(4):
    half = mb * 512 * 1024
    text = (f"layer {n} line " * 8 + "\n").encode() * (half // 120 + 1)
    tars.append(layer_tar([(f"data{n}.bin", os.urandom(half)), (f"data{n}.txt", text[:half])]))
layers, diff_ids = [], []
for t in tars:
    diff_ids.append("sha256:" + hashlib.sha256(t).hexdigest())
    d, n = blob(gzip.compress(t, compresslevel=6, mtime=0))
    layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": n})
config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
                     "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
cd, cn = blob(config)
manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cn},
    "layers": layers}).encode()
md, mn = blob(manifest)
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
    "digest": md, "size": mn, "annotations": {"org.opencontainers.image.ref.name": "v1"}}]},
    open(f"{layout}/index.json", "w"))
open(f"{layout}/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
open(f"{work}/image-bytes", "w").write(str(sum(l["size"] for l in layers) + cn))
EOF
image_bytes=$(cat "$work/image-bytes")
echo "image: 5 layers, $((image_bytes / 1024 / 1024)) MiB compressed"

start_registry src
start_registry dst
# shellcheck disable=SC2154
src=$reg_src/bench/app:v1
skopeo copy -q --dest-tls-verify=false oci:"$work/layout":v1 "docker://$src"

berthd_start
dockerd_start
b="timeout 600 docker -H unix://$sock"
d="timeout 600 docker -H unix://$dsock"

# berthd's RSS during one pull, sampled from /proc.
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$berthd_pid/status"; }
before=$(rss)
( peak=0; while :; do r=$(rss); ((r > peak)) && peak=$r && echo "$peak" >"$work/peak"; sleep 0.02; done ) &
sampler=$!
$b pull -q "$src" >/dev/null
kill "$sampler"; wait "$sampler" 2>/dev/null || true; sampler=
peak=$(cat "$work/peak")
hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$berthd_pid/status")

# A docker-archive for skopeo's push, written by berthd.
$b save -o "$work/app.tar" "$src"
$d pull -q "$src" >/dev/null
# shellcheck disable=SC2154
dst=$reg_dst

hyperfine --runs "$runs" --style basic --export-json "$work/pull.json" \
    -n "berthd pull" --prepare "$b rmi -f $src >/dev/null 2>&1 || true" "$b pull -q $src" \
    -n "dockerd pull" --prepare "$d rmi -f $src >/dev/null 2>&1 || true" "$d pull -q $src" \
    -n "skopeo pull" --prepare "rm -rf $work/skopeo-dir" \
    "skopeo copy -q --src-tls-verify=false docker://$src dir:$work/skopeo-dir"
$b pull -q "$src" >/dev/null
$d pull -q "$src" >/dev/null
$b tag "$src" "$dst/bench/berth:v1"
$d tag "$src" "$dst/bench/dockerd:v1"
wipe="rm -rf $work/dst/storage/docker"
hyperfine --runs "$runs" --style basic --export-json "$work/push.json" \
    -n "berthd push" --prepare "$wipe" "$b push $dst/bench/berth:v1" \
    -n "dockerd push" --prepare "$wipe" "$d push $dst/bench/dockerd:v1" \
    -n "skopeo push" --prepare "$wipe" \
    "skopeo copy -q --dest-tls-verify=false docker-archive:$work/app.tar docker://$dst/bench/skopeo:v1" \
    -n "skopeo push dir" --prepare "$wipe" \
    "skopeo copy -q --dest-tls-verify=false dir:$work/skopeo-dir docker://$dst/bench/skopeo-dir:v1"

python3 - "$work" "$image_bytes" "$before" "$peak" "$hwm" <<'EOF'
import json, statistics, sys
work, size = sys.argv[1], int(sys.argv[2])
before, peak, hwm = (int(x) for x in sys.argv[3:6])
med = {}
for what in ("pull", "push"):
    for r in json.load(open(f"{work}/{what}.json"))["results"]:
        med[r["command"]] = statistics.median(r["times"])
print(f"\n{'benchmark':<14} {'median s':>9} {'MiB/s':>8}")
for name, s in med.items():
    print(f"{name:<14} {s:>9.2f} {size / s / 2**20:>8.1f}")
for what in ("pull", "push"):
    b = med[f"berthd {what}"]
    print(f"{what}: berthd/skopeo {med[f'skopeo {what}'] / b:.2f}x (target >= 1.0x), "
          f"berthd/dockerd {med[f'dockerd {what}'] / b:.2f}x (target >= 2x)")
print(f"push: berthd/skopeo from dir: {med['skopeo push dir'] / med['berthd push']:.2f}x "
      "(skopeo sends the pulled gzip blobs as they are, as berthd does with the blobs it kept)")
print(f"berthd RSS during a pull: {before // 1024} MiB before, peak {peak // 1024} MiB, "
      f"growth {(peak - before) / 1024:.1f} MiB (target < 50 MiB); VmHWM {hwm // 1024} MiB")
EOF
