#!/usr/bin/env bash
# berth's demo, the README's first command.
#
# Builds berthd and berth (release), starts the daemon on its embedded
# defaults (unix:///run/berth/berth.sock, --data-root /var/lib/berth,
# --exec-root /run/berth, the built-in plugins, no plugin directory needed),
# imports a busybox image built from Debian's busybox-static and runs a demo
# container. The daemon stays in the foreground; Ctrl-C removes the demo
# container and stops the daemon.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
    echo "the demo needs root (namespaces, mounts, cgroups): run it with sudo" >&2
    exit 1
fi

# What the build and the demo image need from Debian.
missing=()
for package in busybox-static libseccomp-dev pkg-config; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'ok installed' || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi

cargo build --release --locked --bin berthd --bin berth --bin berth-shim
bin=$PWD/target/release
berth() { "$bin/berth" "$@"; }

if berth version >/dev/null 2>&1; then
    echo "a daemon already answers on /run/berth/berth.sock; stop it first" >&2
    exit 1
fi

# berthd makes its default bridge network (bridge berth0, nftables table
# berth) and turns IPv4 forwarding on, as dockerd does; the demo puts the
# host back as it found it when it stops.
had_bridge=$(ip link show berth0 >/dev/null 2>&1 && echo yes || echo no)
had_table=$(nft list table inet berth >/dev/null 2>&1 && echo yes || echo no)
ip_forward=$(cat /proc/sys/net/ipv4/ip_forward)

# Its own session: Ctrl-C reaches this script only, which removes the demo
# container before it stops the daemon.
setsid "$bin/berthd" &
daemon=$!
stop() {
    trap - EXIT INT TERM
    echo
    echo "demo: removing the demo container and stopping berthd"
    berth rm -f berth-demo >/dev/null 2>&1 || true
    kill -TERM "$daemon" 2>/dev/null || true
    wait "$daemon" 2>/dev/null || true
    [ "$had_bridge" = yes ] || ip link delete berth0 2>/dev/null || true
    [ "$had_table" = yes ] || nft delete table inet berth 2>/dev/null || true
    echo "$ip_forward" > /proc/sys/net/ipv4/ip_forward
}
trap stop EXIT INT TERM

for _ in $(seq 100); do
    berth version >/dev/null 2>&1 && break
    kill -0 "$daemon" 2>/dev/null || { echo "berthd exited during start-up" >&2; exit 1; }
    sleep 0.1
done

if ! berth inspect busybox:latest >/dev/null 2>&1; then
    # A tiny image: a static busybox, its applet links and a few users.
    rootfs=$(mktemp -d)
    mkdir -p "$rootfs"/{bin,etc,tmp,root,proc,sys,dev}
    cp /bin/busybox "$rootfs/bin/"
    for applet in $(/bin/busybox --list); do
        [ "$applet" = busybox ] || ln -s busybox "$rootfs/bin/$applet"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$rootfs/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' > "$rootfs/etc/group"
    tar -C "$rootfs" -c . | berth import --change 'CMD ["sh"]' - busybox:latest
    rm -rf "$rootfs"
fi

echo "demo: a container that runs and exits"
berth run --rm --hostname demo busybox sh -c 'echo "hello from $(hostname), pid $$, as $(id -un)"'

echo "demo: a long-running container"
berth rm -f berth-demo >/dev/null 2>&1 || true
berth run -d --name berth-demo --memory 64m busybox \
    sh -c 'i=0; while true; do i=$((i+1)); echo "tick $i"; sleep 2; done'
berth ps

cat <<'TOUR'

berthd is serving on unix:///run/berth/berth.sock. In another terminal, try:
  target/release/berth logs -f berth-demo
  target/release/berth run --rm -it busybox sh
  docker -H unix:///run/berth/berth.sock ps
  docker -H unix:///run/berth/berth.sock run --rm busybox cat /proc/self/status
  target/release/berth job ls
  target/release/berth job run disk-usage
  target/release/berth plugin ls
Ctrl-C here removes the demo container and stops the daemon.
TOUR
wait "$daemon"
