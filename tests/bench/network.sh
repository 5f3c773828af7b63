#!/usr/bin/env bash
# Benchmark harness (not a test): what berth's networking costs, against a
# private dockerd (Debian's docker.io) measured in the same run.
#
# For each daemon, with hyperfine:
#   1. throughput host -> container: a 256 MiB download (busybox wget from
#      busybox httpd in the container) through a published port at
#      127.0.0.1 (DNAT in the output hook) vs from the container's address
#      directly;
#   2. connect latency: a tiny download, the same two ways;
#   3. container start: `run --rm busybox true` with the default bridge
#      network vs `--network none`;
#   4. each way alone, bridge vs none: `docker start` of a created
#      container (the way in) and `docker stop -t 0` of a running one (the
#      way out).
# Prints medians and ratios. Targets: published-port throughput >= 0.9x
# direct; the network adds < 10 ms to a start.
#
# berthd (tests/bench/berthd.sh) runs with its own nftables table, its
# default bridge network on a bridge of its own (bbench<pid>) and the
# bridge arguments in BERTH_NET_ARGS; dockerd gets its own bridge (created
# here, bdbench0, 10.251.0.1/24) with its iptables rules, and the bench turns
# net.ipv4.ip_forward on for the run and restores the old value after, so
# dockerd leaves the FORWARD policy alone (moby only sets it to DROP when it
# turned forwarding on itself).
#
# Usage: sudo tests/bench/network.sh [RUNS]
#   BERTH_BIN_DIR   directory with berthd, berth, berth-shim
#   BERTH_NET_ARGS  extra berthd arguments for its default bridge network
set -euo pipefail

runs=${1:-10}
repo=$(cd "$(dirname "$0")/../.." && pwd)
# Short path: dockerd's containerd socket lives below it (108-byte sun_path).
work=$(mktemp -d /tmp/bn-XXXXXX)
old_forward=$(cat /proc/sys/net/ipv4/ip_forward)
# shellcheck source=tests/bench/berthd.sh
source "$repo/tests/bench/berthd.sh"
# shellcheck source=tests/bench/dockerd.sh
source "$repo/tests/bench/dockerd.sh"
# shellcheck source=tests/bench/bundle.sh
source "$repo/tests/bench/bundle.sh"
# berthd's default bridge network on a bridge of its own (deleted at
# cleanup); ip_forward is the bench's to set and restore.
berthd_bridge=bbench$$
# shellcheck disable=SC2206
berthd_net=(--bridge "$berthd_bridge" --ip-forward=false ${BERTH_NET_ARGS:-})
# The iptables-nft tables that were there before dockerd made its own: the
# ones it made are deleted at cleanup, those that were there are left.
tables_before=$(nft list tables 2>/dev/null)
cleanup() {
    set +e
    dockerd_cleanup
    ip link del bdbench0 2>/dev/null
    # dockerd leaves its iptables chains behind when it stops: remove the
    # rules that jump to them or name its bridge, then the chains.
    for t in nat filter; do
        iptables -t $t -S 2>/dev/null | grep -E '^-A ' | grep -E 'DOCKER|bdbench0' | sed 's/^-A/-D/' |
            while read -r rule; do eval "iptables -t $t $rule" 2>/dev/null; done
        for c in $(iptables -t $t -S 2>/dev/null | awk '/^-N DOCKER/ {print $2}'); do iptables -t $t -F "$c"; done
        for c in $(iptables -t $t -S 2>/dev/null | awk '/^-N DOCKER/ {print $2}'); do iptables -t $t -X "$c"; done
        # iptables-nft also leaves the base table (`table ip nat`, `table
        # ip filter`) with its empty built-in chains.
        grep -qx "table ip $t" <<<"$tables_before" || nft delete table ip $t 2>/dev/null
    done
    berthd_cleanup
    echo "$old_forward" >/proc/sys/net/ipv4/ip_forward
    rm -rf "$work"
}
trap cleanup EXIT
berthd_bin hyperfine docker dockerd busybox python3 ip nft iptables

busybox_bundle true

# The web server every run measures: 256 MiB and a 3-byte page.
serve='mkdir -p /www && dd if=/dev/zero of=/www/big bs=1M count=256 2>/dev/null && echo hi >/www/index.html && exec httpd -f -p 8080 -h /www'

berthd_start
B=(docker -H "unix://$sock")

echo 1 >/proc/sys/net/ipv4/ip_forward
ip link add bdbench0 type bridge
ip addr add 10.251.0.1/24 dev bdbench0
ip link set bdbench0 up
# dockerd.sh's dockerd_start runs dockerd with no bridge; this run starts it
# the same way (own roots, socket, cgroup parent, cleaned up by
# dockerd_cleanup) but on its own bridge, with its iptables NAT.
echo '{}' >"$work/daemon.json"
dockerd --config-file "$work/daemon.json" --data-root "$work/dockerd-data" \
    --exec-root "$work/dockerd-exec" --pidfile "$work/dockerd.pid" -H "unix://$dsock" \
    --bridge bdbench0 --userland-proxy=false \
    --exec-opt native.cgroupdriver=cgroupfs --cgroup-parent "/dockerd-bench-$$" \
    >>"$work/dockerd.log" 2>&1 &
dockerd_pid=$!
for _ in $(seq 600); do
    [[ -S $dsock ]] && docker -H "unix://$dsock" version >/dev/null 2>&1 && break
    sleep 0.1
done
D=(docker -H "unix://$dsock")
"${D[@]}" import "$work/busybox.tar" busybox >/dev/null

"${B[@]}" run -d --name web -p 127.0.0.1:18080:8080 busybox sh -c "$serve" >/dev/null
"${D[@]}" run -d --name web -p 127.0.0.1:18090:8080 busybox sh -c "$serve" >/dev/null
bip=$("${B[@]}" inspect -f '{{.NetworkSettings.IPAddress}}' web)
dip=$("${D[@]}" inspect -f '{{.NetworkSettings.IPAddress}}' web)
for url in "http://127.0.0.1:18080/" "http://$bip:8080/" "http://127.0.0.1:18090/" "http://$dip:8080/"; do
    for _ in $(seq 100); do busybox wget -q -O /dev/null "$url" 2>/dev/null && break; sleep 0.1; done
    busybox wget -q -O /dev/null "$url" || { echo "$url does not answer" >&2; exit 1; }
done

get() { echo "busybox wget -q -O /dev/null $1"; }
hyperfine --warmup 2 --runs "$runs" --style basic --export-json "$work/results.json" \
    -n "berth published 256M" "$(get http://127.0.0.1:18080/big)" \
    -n "berth direct 256M" "$(get "http://$bip:8080/big")" \
    -n "dockerd published 256M" "$(get http://127.0.0.1:18090/big)" \
    -n "dockerd direct 256M" "$(get "http://$dip:8080/big")" \
    -n "berth published tiny" "$(get http://127.0.0.1:18080/)" \
    -n "berth direct tiny" "$(get "http://$bip:8080/")" \
    -n "dockerd published tiny" "$(get http://127.0.0.1:18090/)" \
    -n "dockerd direct tiny" "$(get "http://$dip:8080/")" \
    -n "berth run bridge" "docker -H unix://$sock run --rm busybox true" \
    -n "berth run none" "docker -H unix://$sock run --rm --network none busybox true" \
    -n "dockerd run bridge" "docker -H unix://$dsock run --rm busybox true" \
    -n "dockerd run none" "docker -H unix://$dsock run --rm --network none busybox true"

# Each way alone, the container made (or started) and the previous one
# removed outside the timing, with a pause for that removal's network
# teardown to end: the way in is `docker start` of a created container
# (the API answers once its process runs), the way out `docker stop -t 0`
# of a running one (busybox's sleep as PID 1 ignores SIGTERM: SIGKILL at
# once; the API answers once the exit is recorded).
prep() { # DOCKER-HOST VERB NETWORK-ARGS
    echo "docker -H $1 rm -f st >/dev/null 2>&1; docker -H $1 $2 --name st $3 busybox sleep 1000 >/dev/null; sleep 0.3"
}
ways=()
for d in berth dockerd; do
    host=unix://$sock
    [[ $d == dockerd ]] && host=unix://$dsock
    for net in bridge none; do
        args=""
        [[ $net == none ]] && args="--network none"
        ways+=(--prepare "$(prep "$host" create "$args")" -n "$d start $net" "docker -H $host start st")
        ways+=(--prepare "$(prep "$host" "run -d" "$args")" -n "$d stop $net" "docker -H $host stop -t 0 st")
    done
done
hyperfine --warmup 2 --runs "$runs" --style basic --export-json "$work/ways.json" "${ways[@]}"
"${B[@]}" rm -f st >/dev/null
"${D[@]}" rm -f st >/dev/null

python3 - "$work/results.json" "$work/ways.json" <<'PY'
import json, sys
r = {x["command"]: x["median"] for f in sys.argv[1:] for x in json.load(open(f))["results"]}
mib = 256
for d in ("berth", "dockerd"):
    pub, direct = r[f"{d} published 256M"], r[f"{d} direct 256M"]
    print(f"{d:8} throughput published {mib / pub:8.0f} MiB/s, direct {mib / direct:8.0f} MiB/s, ratio {direct / pub:.2f}x (target >= 0.9)")
    print(f"{d:8} connect+GET published {r[f'{d} published tiny'] * 1000:6.2f} ms, direct {r[f'{d} direct tiny'] * 1000:6.2f} ms")
    print(f"{d:8} run bridge {r[f'{d} run bridge'] * 1000:6.1f} ms, none {r[f'{d} run none'] * 1000:6.1f} ms, network adds {(r[f'{d} run bridge'] - r[f'{d} run none']) * 1000:6.1f} ms (target < 10)")
    for way in ("start", "stop"):
        print(f"{d:8} {way:5} bridge {r[f'{d} {way} bridge'] * 1000:6.1f} ms, none {r[f'{d} {way} none'] * 1000:6.1f} ms, network adds {(r[f'{d} {way} bridge'] - r[f'{d} {way} none']) * 1000:6.1f} ms")
print(f"berth/dockerd run with bridge: {r['berth run bridge'] / r['dockerd run bridge']:.2f}x")
PY
