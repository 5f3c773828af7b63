#!/usr/bin/env bash
# Benchmark harness (not a test): where the graph's durability switches
# from one fsync a file to one syncfs (host/graph/src/fsutil.rs,
# SYNC_EACH_MAX, 64 entries).
#
# A staged layer of N small files (4 KiB each, in a directory, as an
# extracted layer's tree is) is written, not synced, on the filesystem the
# data root lives on; then it is made durable two ways, with hyperfine:
#   each:    `sync FILE... DIR` (coreutils: one fsync a file, the
#            directory's too), what sync_tree does up to SYNC_EACH_MAX;
#   syncfs:  `sync -f DIR` (one syncfs of the whole filesystem), above it.
# Each run writes the tree anew (hyperfine --prepare), so both flush the
# same dirty pages. It runs twice: on a quiet filesystem, and with another
# writer's BUSY_MB MiB of dirty pages beside the tree (rewritten before
# each run), which a syncfs waits for and an fsync of the tree's files
# does not. Prints, for each N, the medians and each/syncfs.
#
# Usage: tests/bench/sync.sh [RUNS]
#   SYNC_DIR  a directory on the data root's filesystem (default: a temp
#             dir under /var/lib, where berthd's default data root is)
#   COUNTS    the tree sizes to try (default "8 16 32 64 128 256 512")
#   BUSY_MB   the other writer's dirty data (default 64)
set -euo pipefail

runs=${1:-10}
counts=${COUNTS:-8 16 32 64 128 256 512}
busy_mb=${BUSY_MB:-64}
command -v hyperfine >/dev/null || {
	echo "hyperfine is missing: install the Debian package hyperfine" >&2
	exit 1
}
base=${SYNC_DIR:-/var/lib}
work=$(mktemp -d "$base/berth-sync-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "filesystem: $(stat -f -c %T "$work") ($(df --output=source "$work" | tail -1))"

# Writes $work/tree with $1 files of 4 KiB, unsynced; with $2 = busy, also
# rewrites $work/busy (BUSY_MB MiB), unsynced.
cat >"$work/prepare.sh" <<'EOF'
set -e
work=$(dirname "$0")
rm -rf "$work/tree"
mkdir "$work/tree"
head -c 4096 /dev/urandom >"$work/block"
for i in $(seq 1 "$1"); do cp "$work/block" "$work/tree/f$i"; done
if [ "$2" = busy ]; then
	# A new file, never a truncated one: ext4 starts writing back a file
	# rewritten over its old length when it is closed (auto_da_alloc), and
	# the pages would no longer be dirty.
	rm -f "$work/busy"
	head -c "$(($3 << 20))" /dev/zero >"$work/busy"
fi
EOF
# Sync whatever the last run left, so it is not the next one's to flush.
sync -f "$work"

median() { # the median of hyperfine's JSON export $1, command $2, in ms
	python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][int(sys.argv[2])]; print("%.2f" % (r["median"]*1000))' "$1" "$2"
}

for load in quiet busy; do
	echo
	echo "== $load filesystem$([ "$load" = busy ] && echo " ($busy_mb MiB of another writer's dirty pages)")"
	printf '%6s %12s %12s %12s\n' files "each ms" "syncfs ms" each/syncfs
	for n in $counts; do
		files=$(for i in $(seq 1 "$n"); do printf '%s ' "$work/tree/f$i"; done)
		hyperfine --style none --runs "$runs" --warmup 1 \
			--prepare "bash $work/prepare.sh $n $load $busy_mb" \
			--export-json "$work/result.json" \
			-n each "sync $files $work/tree" \
			-n syncfs "sync -f $work/tree" >/dev/null
		each=$(median "$work/result.json" 0)
		fs=$(median "$work/result.json" 1)
		printf '%6s %12s %12s %11sx\n' "$n" "$each" "$fs" \
			"$(python3 -c "print('%.2f' % ($each / $fs))")"
	done
done
sync -f "$work"
