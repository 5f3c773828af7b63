# Sourced by the benchmark harnesses (not run on its own): Debian's docker.io
# dockerd as the peer measured in the same run as berthd.
#
# dockerd runs private to the bench: its own data root, exec root, pid file,
# socket and cgroup parent under the caller's work directory, no bridge, no
# iptables, its managed containerd. The caller sets `work` (a short path:
# containerd's socket lives below it, and sun_path holds 108 bytes) and calls
# dockerd_cleanup from its EXIT trap, which stops dockerd, kills whatever of
# its containerd and shims is left, and removes its cgroups.
#
#   dockerd_start          start it, import $work/busybox.tar as busybox
#   dockerd_rss            "RSS anon file" (KiB) of dockerd plus its containerd
#   dockerd_cleanup        stop it and remove what it made

dsock=$work/docker.sock
dockerd_pid=

dockerd_stop_pid() { # PID: TERM, wait up to 30 s, then KILL
    kill "$1" 2>/dev/null || return 0
    for _ in $(seq 300); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
    kill -9 "$1" 2>/dev/null
}

dockerd_start() {
    for tool in docker dockerd containerd containerd-shim-runc-v2; do
        command -v "$tool" >/dev/null || { echo "missing tool: $tool (Debian package docker.io)" >&2; return 1; }
    done
    echo '{}' >"$work/daemon.json"
    dockerd --config-file "$work/daemon.json" --data-root "$work/dockerd-data" \
        --exec-root "$work/dockerd-exec" --pidfile "$work/dockerd.pid" -H "unix://$dsock" \
        --bridge none --iptables=false --ip-masq=false --ip-forward=false \
        --exec-opt native.cgroupdriver=cgroupfs --cgroup-parent "/dockerd-bench-$$" \
        --oom-score-adjust 0 \
        >>"$work/dockerd.log" 2>&1 &
    dockerd_pid=$!
    for _ in $(seq 600); do
        [[ -S $dsock ]] && docker -H "unix://$dsock" version >/dev/null 2>&1 && break
        sleep 0.1
    done
    docker -H "unix://$dsock" version >/dev/null 2>&1 || {
        echo "dockerd on $dsock did not come up:" >&2
        cat "$work/dockerd.log" >&2
        return 1
    }
    docker -H "unix://$dsock" import "$work/busybox.tar" busybox >/dev/null
}

dockerd_rss() {
    local total=0 anon=0 pid r a
    for pid in $dockerd_pid $(pgrep -f "containerd.*$work/dockerd-exec" || true); do
        read -r r a < <(awk '/^Rss:/ {r=$2} /^Anonymous:/ {a=$2} END {print r, a}' "/proc/$pid/smaps_rollup")
        total=$((total + r)) anon=$((anon + a))
    done
    echo "$total $anon $((total - anon))"
}

dockerd_cleanup() {
    if [[ -n $dockerd_pid ]]; then
        for c in $(timeout 20 docker -H "unix://$dsock" ps -aq 2>/dev/null); do
            timeout 20 docker -H "unix://$dsock" rm -f "$c" >/dev/null 2>&1
        done
        dockerd_stop_pid "$dockerd_pid"
    fi
    # dockerd's managed containerd and its shims name the work directory.
    for pid in $(pgrep -f "$work/dockerd"); do kill -9 "$pid" 2>/dev/null; done
    grep " $work/dockerd" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l
    for hierarchy in /sys/fs/cgroup/*/; do
        for dir in "$hierarchy"dockerd-bench-$$/* "$hierarchy"dockerd-bench-$$; do
            [[ -d $dir ]] && rmdir "$dir" 2>/dev/null
        done
    done
    return 0
}
