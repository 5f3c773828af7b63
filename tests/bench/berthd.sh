# Sourced by the benchmark harnesses (not run on its own): berthd as the
# daemon measured, private to the bench, the way tests/bench/dockerd.sh runs
# the reference dockerd. Every bench starts and cleans up berthd through
# these functions, so a fix to either lands in all of them.
#
# berthd gets its own data root, exec root, pid file, socket, plugin
# directory and cgroup parent (/berth-bench-$$) under `berthd_dir` (default:
# the caller's work directory), and its own nftables table
# (berth_bench_$$). The caller sets `repo` (the checkout) and `work` (a
# short path: dockerd's containerd socket lives below it, and sun_path holds
# 108 bytes) and calls berthd_cleanup from its EXIT trap.
#
#   berthd_bin [BIN...]    sets `bin`: BERTH_BIN_DIR, else target/release if
#                          built, else target/debug; checks berthd, berth,
#                          berth-shim and the tools named
#   berthd_start [ARG...]  starts berthd on $sock ($berthd_dir/berth.sock)
#                          with the extra arguments given, waits (60 s at
#                          most) until it answers, imports $work/busybox.tar
#                          as busybox (unless berthd_import is empty)
#   berthd_stop            removes its containers and stops it (30 s, then
#                          KILL); the data root stays for the next start
#   berthd_cleanup         berthd_stop, then unmounts what is left under
#                          $work, removes its cgroups, nft table and, if
#                          berthd_bridge names one, its bridge
#
# Settings (set them before berthd_start):
#   berthd_dir     where its roots, socket, pid file and log go
#   berthd_net     its network arguments; default no bridge network and
#                  ip_forward left alone (--bridge none --ip-forward=false)
#   berthd_bridge  a bridge interface berthd creates (its --bridge), deleted
#                  at cleanup
#   berthd_import  non-empty (default): import busybox after the start

berthd_dir=$work
sock=$berthd_dir/berth.sock
berthd_pid=
berthd_net=(--bridge none --ip-forward=false)
berthd_bridge=
berthd_import=1

berthd_bin() {
    local tool b
    bin=${BERTH_BIN_DIR:-}
    if [[ -z $bin ]]; then
        if [[ -x $repo/target/release/berthd ]]; then bin=$repo/target/release; else bin=$repo/target/debug; fi
    fi
    for tool in "$@"; do
        command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; return 1; }
    done
    for b in berthd berth berth-shim; do
        [[ -x $bin/$b ]] || { echo "missing $bin/$b: cargo build --release -p berth-server -p berth-client -p berth-shim" >&2; return 1; }
    done
    [[ $(id -u) == 0 ]] || { echo "run as root" >&2; return 1; }
}

berthd_start() {
    sock=$berthd_dir/berth.sock
    mkdir -p "$berthd_dir/plugins"
    "$bin/berthd" -H "unix://$sock" --data-root "$berthd_dir/data" --exec-root "$berthd_dir/exec" \
        "${berthd_net[@]}" --nft-table "berth_bench_$$" \
        --pidfile "$berthd_dir/berthd.pid" --shim "$bin/berth-shim" \
        --plugin-dir "$berthd_dir/plugins" --plugin-grants "$berthd_dir/plugin-grants.toml" \
        --cgroup-parent "/berth-bench-$$" "$@" \
        >>"$berthd_dir/berthd.log" 2>&1 &
    berthd_pid=$!
    for _ in $(seq 600); do
        [[ -S $sock ]] && "$bin/berth" -H "unix://$sock" version >/dev/null 2>&1 && break
        sleep 0.1
    done
    "$bin/berth" -H "unix://$sock" version >/dev/null 2>&1 || {
        echo "berthd on $sock did not come up:" >&2
        cat "$berthd_dir/berthd.log" >&2
        return 1
    }
    if [[ -n $berthd_import ]]; then
        "$bin/berth" -H "unix://$sock" import "$work/busybox.tar" busybox >/dev/null
    fi
}

berthd_stop() {
    local c
    [[ -n $berthd_pid ]] || return 0
    for c in $("$bin/berth" -H "unix://$sock" ps -aq 2>/dev/null); do
        timeout 20 "$bin/berth" -H "unix://$sock" rm -f "$c" >/dev/null 2>&1 || true
    done
    # `|| true`: callers stop berthd mid-run under `set -e`.
    kill "$berthd_pid" 2>/dev/null || true
    for _ in $(seq 300); do kill -0 "$berthd_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$berthd_pid" 2>/dev/null || true
    wait "$berthd_pid" 2>/dev/null || true
    berthd_pid=
    return 0
}

berthd_cleanup() {
    local dir hierarchy
    berthd_stop
    nft delete table inet "berth_bench_$$" 2>/dev/null  # berthd's own table (--nft-table)
    [[ -z $berthd_bridge ]] || ip link del "$berthd_bridge" 2>/dev/null
    grep " $work" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l
    for hierarchy in /sys/fs/cgroup/*/; do
        for dir in "$hierarchy"berth-bench-$$/* "$hierarchy"berth-bench-$$; do
            [[ -d $dir ]] && rmdir "$dir" 2>/dev/null
        done
    done
    return 0
}
