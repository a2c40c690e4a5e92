#!/bin/sh
# compact.sh - es-compact throughput (SPEC section 4: at least 200 MB/s of
# segment data; issue 7, item 6), each figure next to `cat` of the same
# segment files in the same run:
#   retention       cleanup delete, retention_bytes: a quarter of each
#                   partition's closed segments deleted
#   compaction      cleanup compact: the newest record of each post_id kept
#   retention +     cleanup compact,delete: both, in one run
#     compaction
#   compression     compression zlib: every closed segment rewritten
#                   compressed; and the ratio, bytes before / after
# and the peak RSS of each (/usr/bin/time -f %M), with the default --memory
# and with --memory 16KiB (more passes, less memory).
#
#   sh tests/bench/compact.sh         (from the repository, after make)
#
# MB/s is the bytes of the closed segments (.log files, the data the run
# works on, 10^6 bytes to the MB) divided by the median wall time of
# BENCH_RUNS runs (default 3), each on a fresh copy of the topic (copied
# untimed, then read once so that the page cache is warm for es-compact
# as for cat). `cat` reads the same files to /dev/null, warm.
#
# Environment: ES_BENCH_BIN (the commands; default bin/), ES_BENCH_WORKLOAD
# (the 1M-line SPEC workload; default: generated with ES_BENCH_GEN or
# tests/bench/gen-likes.c, 1,000,000 events, seed 42), ES_BENCH_TMP or
# TMPDIR (scratch space: about 4 copies of a 130 MB topic), BENCH_RUNS,
# SEGMENT (segment_bytes, default 4MiB). tests/bench/run.sh sets the
# ES_BENCH_* variables.
set -eu
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
BIN=${ES_BENCH_BIN:-$ROOT/bin}
for b in es-topic es-produce es-consume es-compact; do
	[ -x "$BIN/$b" ] || { echo "compact.sh: missing $BIN/$b: run make" >&2; exit 1; }
done
PATH=$BIN:$PATH
export PATH
unset ES_DIR
RUNS=${BENCH_RUNS:-3}
SEGMENT=${SEGMENT:-4MiB}

if [ -n "${ES_BENCH_TMP:-}" ]; then
	S=$(mktemp -d "$ES_BENCH_TMP/compact.XXXXXX")
else
	S=$(mktemp -d "${TMPDIR:-/tmp}/es-compact-bench.XXXXXX")
fi
trap 'rm -rf "$S"' EXIT
trap 'exit 130' INT TERM

W=${ES_BENCH_WORKLOAD:-}
if [ -z "$W" ]; then
	GEN=${ES_BENCH_GEN:-}
	if [ -z "$GEN" ]; then
		GEN=$S/gen-likes
		gcc -O2 -o "$GEN" tests/bench/gen-likes.c -lm
	fi
	W=$S/likes.jsonl
	"$GEN" 1000000 42 >"$W"
fi

TIME=
[ -x /usr/bin/time ] && TIME=/usr/bin/time

ms() { echo $(($(date +%s%N) / 1000000)); }
med() { sort -n | awk '{ a[NR] = $1 } END { print NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
mbs() { awk -v b="$1" -v ms="$2" 'BEGIN { printf "%.0f MB/s", (ms > 0 ? b / 1e6 / (ms / 1000) : 0) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
met() { awk -v v="$1" 'BEGIN { printf "%s (%.0f%%)", (v >= 200 ? "yes" : "NO"), v / 2 }'; }

# The closed segments of a topic: every .log but the newest of each partition.
closed() {
	for p in "$1"/[0-9]*; do
		ls "$p"/*.log 2>/dev/null | sort | sed '$d'
	done
}
closed_bytes() { closed "$1" | xargs cat | wc -c; }
seg_bytes() { # all segment data files of a topic, plain and compressed
	cat "$1"/[0-9]*/*.log "$1"/[0-9]*/*.zlog 2>/dev/null | wc -c
}

echo "== es-compact: $(wc -l <"$W") events ($(wc -c <"$W") bytes), 8 partitions, segment_bytes $SEGMENT"
B=$S/base
es-topic create "$B" -p 8 --segment-bytes "$SEGMENT" >/dev/null
es-produce --key-field post_id --sync none "$B" <"$W"
sync
DATA=$(closed_bytes "$B")
NSEG=$(closed "$B" | wc -l)
PART_BYTES=$(for p in "$B"/[0-9]*; do cat "$p"/*.log "$p"/*.index | wc -c; done | sort -n | tail -n 1)
echo "   $NSEG closed segments, $DATA bytes of segment data in them"

# The cat baseline: the same files, warm.
closed "$B" >"$S/files"
xargs cat <"$S/files" >/dev/null
: >"$S/t"
i=0
while [ $i -lt $((RUNS * 2)) ]; do
	t0=$(ms)
	xargs cat <"$S/files" >/dev/null
	echo $(($(ms) - t0)) >>"$S/t"
	i=$((i + 1))
done
CAT=$(med <"$S/t")
echo "   cat of the closed segments (baseline): ${CAT} ms, $(mbs "$DATA" "$CAT")"

ALL=$(seg_bytes "$B")

# run NAME TARGET KEY=VALUE... -- ES-COMPACT-OPTIONS: time es-compact on
# fresh copies of the base topic with those topic.yaml settings; TARGET 1:
# the 200 MB/s of SPEC section 4 applies.
run() {
	name=$1 target=$2
	shift 2
	sets=
	while [ "$1" != -- ]; do sets="$sets $1"; shift; done
	shift
	: >"$S/t"
	i=0
	while [ $i -lt "$RUNS" ]; do
		rm -rf "$S/c"
		cp -a "$B" "$S/c"
		for kv in $sets; do
			k=${kv%%=*} v=${kv#*=}
			sed -i "s/^$k:\( *\)[^ ]*/$k:\1$v/" "$S/c/topic.yaml"
		done
		cat "$S"/c/[0-9]*/*.log >/dev/null
		t0=$(ms)
		es-compact "$@" "$S/c" >"$S/out"
		echo $(($(ms) - t0)) >>"$S/t"
		i=$((i + 1))
	done
	T=$(med <"$S/t")
	after=$(seg_bytes "$S/c")
	del=$(sed -n 's/.*; \([0-9]*\) segments deleted.*/\1/p' "$S/out" | paste -sd+ | bc)
	cmp=$(sed -n 's/.* \([0-9]*\) records compacted.*/\1/p' "$S/out" | paste -sd+ | bc)
	zip=$(sed -n 's/.* \([0-9]*\) segments compressed.*/\1/p' "$S/out" | paste -sd+ | bc)
	passes=$(sed -n 's/.*(\([0-9]*\) key passes)$/\1/p' "$S/out" | sort -n | tail -n 1)
	rss=n/a
	if [ "$TIME" ]; then
		rm -rf "$S/c"
		cp -a "$B" "$S/c"
		for kv in $sets; do
			k=${kv%%=*} v=${kv#*=}
			sed -i "s/^$k:\( *\)[^ ]*/$k:\1$v/" "$S/c/topic.yaml"
		done
		$TIME -f %M -o "$S/rss" es-compact "$@" "$S/c" >/dev/null
		rss=$(awk '{ printf "%.1f MiB", $1 / 1024 }' "$S/rss")
	fi
	rate=$(awk -v b="$DATA" -v ms="$T" 'BEGIN { printf "%.0f", b / 1e6 / (ms / 1000) }')
	verdict=
	[ "$target" = 1 ] && verdict="; >= 200 MB/s: $(met "$rate")"
	printf '%-32s %6s ms %10s (%sx the time of cat); %s segments deleted, %s records compacted, %s segments compressed%s; segment files %s -> %s bytes; peak RSS %s%s\n' \
		"$name" "$T" "$rate MB/s" "$(ratio "$T" "$CAT")" \
		"$del" "$cmp" "$zip" "${passes:+, $passes key passes}" "$ALL" "$after" "$rss" "$verdict"
	LAST_AFTER=$after
}

KEEP=$((PART_BYTES * 3 / 4))
run "retention (retention_bytes)" 1 cleanup=delete retention_bytes=${KEEP}B --
run "key compaction" 1 cleanup=compact --
run "key compaction, --memory 16KiB" 0 cleanup=compact -- --memory 16KiB
run "retention + key compaction" 1 cleanup=compact,delete retention_bytes=${KEEP}B --
run "compression (zlib)" 0 compression=zlib --
echo "   compression ratio: $(ratio "$ALL" "$LAST_AFTER") (segment files $ALL -> $LAST_AFTER bytes, the active segments left plain)"
run "key compaction + compression" 0 cleanup=compact compression=zlib --
