# Sourced by the benchmark harnesses (not run on its own): berthd as the
# daemon measured, private to the bench, the way tests/bench/dockerd.sh runs
# the reference dockerd.
#
# berthd gets its own data root, exec root, pid file, socket, plugin
# directory and cgroup parent (/berth-bench-$$) under the caller's work
# directory. The caller sets `repo` (the checkout) and `work` (a short path:
# dockerd's containerd socket lives below it, and sun_path holds 108 bytes)
# and calls berthd_cleanup from its EXIT trap.
#
#   berthd_bin [BIN...]    sets `bin`: BERTH_BIN_DIR, else target/release if
#                          built, else target/debug; checks berthd, berth,
#                          berth-shim and the tools named
#   berthd_start           starts berthd on $sock, waits (60 s at most) until
#                          it answers, imports $work/busybox.tar as busybox
#   berthd_cleanup         removes its containers, stops it, unmounts what is
#                          left under $work, removes its cgroups and nft table

sock=$work/berth.sock
berthd_pid=

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
    mkdir -p "$work/plugins"
    "$bin/berthd" -H "unix://$sock" --data-root "$work/data" --exec-root "$work/exec" --bridge none \
        --nft-table "berth_bench_$$" --ip-forward=false \
        --pidfile "$work/berthd.pid" --shim "$bin/berth-shim" \
        --plugin-dir "$work/plugins" --plugin-grants "$work/plugin-grants.toml" \
        --cgroup-parent "/berth-bench-$$" \
        >>"$work/berthd.log" 2>&1 &
    berthd_pid=$!
    for _ in $(seq 600); do
        [[ -S $sock ]] && "$bin/berth" -H "unix://$sock" version >/dev/null 2>&1 && break
        sleep 0.1
    done
    "$bin/berth" -H "unix://$sock" version >/dev/null 2>&1 || {
        echo "berthd on $sock did not come up:" >&2
        cat "$work/berthd.log" >&2
        return 1
    }
    "$bin/berth" -H "unix://$sock" import "$work/busybox.tar" busybox >/dev/null
}

berthd_cleanup() {
    local c dir hierarchy
    if [[ -n $berthd_pid ]]; then
        for c in $("$bin/berth" -H "unix://$sock" ps -aq 2>/dev/null); do
            timeout 20 "$bin/berth" -H "unix://$sock" rm -f "$c" >/dev/null 2>&1
        done
        kill "$berthd_pid" 2>/dev/null
        for _ in $(seq 300); do kill -0 "$berthd_pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$berthd_pid" 2>/dev/null
        berthd_pid=
    fi
    nft delete table inet "berth_bench_$$" 2>/dev/null  # berthd's own table (--nft-table)
    grep " $work" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l
    for hierarchy in /sys/fs/cgroup/*/; do
        for dir in "$hierarchy"berth-bench-$$/* "$hierarchy"berth-bench-$$; do
            [[ -d $dir ]] && rmdir "$dir" 2>/dev/null
        done
    done
    return 0
}
