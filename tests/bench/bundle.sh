# Sourced by the benchmark harnesses (not run on its own): the busybox image
# and runc bundle every harness measures.
#
#   busybox_bundle CMD...   builds $work/bundle/rootfs (static busybox with its
#                           applets, root in passwd and group, as the tests
#                           build it), $work/busybox.tar from it for import,
#                           and $work/bundle/config.json: runc's default spec
#                           running CMD without a terminal.
busybox_bundle() {
    local rootfs=$work/bundle/rootfs applet
    mkdir -p "$rootfs"/{bin,etc,dev,proc,sys,tmp,root}
    cp "$(command -v busybox)" "$rootfs/bin/busybox"
    for applet in $(busybox --list); do
        [[ $applet == busybox ]] || ln -sf busybox "$rootfs/bin/$applet"
    done
    echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"
    echo 'root:x:0:' >"$rootfs/etc/group"
    tar -C "$rootfs" -cf "$work/busybox.tar" .
    (cd "$work/bundle" && runc spec)
    python3 - "$work/bundle/config.json" "$@" <<'PY'
import json, sys
path = sys.argv[1]
spec = json.load(open(path))
spec["process"]["args"] = sys.argv[2:]
spec["process"]["terminal"] = False
json.dump(spec, open(path, "w"))
PY
}
