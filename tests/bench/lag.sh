#!/bin/sh
# lag.sh - es-lag over 100 topics x 16 partitions x 5 groups (SPEC section 4:
# under 100 ms), then again with 100 times more data in every partition: the
# time must not change, since es-lag reads metadata only.
#
#   sh tests/bench/lag.sh            (from the repository, after make)
#
# Environment: TOPICS (100), PARTITIONS (16), GROUPS_PER_TOPIC (5),
# ROUNDS (runs timed, 15), BENCH_DIR (where to build the topics: default a
# fresh directory in /dev/shm when it is writable, else in $ES_BENCH_TMP,
# $TMPDIR or /tmp; removed at the end), KEEP=1 to keep it, SMALL_ONLY=1 to
# stop after the first data set, ES_BENCH_BIN (the commands; default bin/,
# as tests/bench/run.sh sets it).
#
# Every group commits every partition, at a different offset per group, and
# lags on every partition (so es-lag reads one record per group and
# partition for the age). The larger data set appends 99 times as many
# records again after the groups' offsets: the worst case for a tool that
# would read records rather than metadata.
set -eu
cd "$(dirname "$0")/../.."
BIN=${ES_BENCH_BIN:-$(pwd)/bin}
for b in es-topic es-produce es-consume es-lag; do
	[ -x "$BIN/$b" ] || { echo "lag.sh: missing $BIN/$b: run make" >&2; exit 1; }
done
PATH=$BIN:$PATH
export PATH
unset ES_DIR NO_COLOR

TOPICS=${TOPICS:-100}
PARTITIONS=${PARTITIONS:-16}
GROUPS_PER_TOPIC=${GROUPS_PER_TOPIC:-5}
ROUNDS=${ROUNDS:-15}
PER_ROUND=10 # records per partition per round
if [ -z "${BENCH_DIR:-}" ]; then
	base=${ES_BENCH_TMP:-${TMPDIR:-/tmp}}
	[ -d /dev/shm ] && [ -w /dev/shm ] && base=/dev/shm
	BENCH_DIR=$(mktemp -d "$base/es-lag-bench.XXXXXX")
	[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$BENCH_DIR"' EXIT INT TERM
fi
cd "$BENCH_DIR"

ms() { echo $(($(date +%s%N) / 1000000)); }

# COUNT records of about 100 bytes, keyless: they go round-robin, so every
# partition gets COUNT / PARTITIONS.
records() {
	awk -v n="$1" -v seed="$2" 'BEGIN {
		pad = sprintf("%60s", ""); gsub(/ /, "x", pad)
		for (i = 0; i < n; i++)
			printf "{\"id\":%d,\"seed\":%d,\"post_id\":%d,\"pad\":\"%s\"}\n", i, seed, i % 997, pad
	}'
}

produce_all() { # records per partition, seed
	records $(($1 * PARTITIONS)) "$2" >batch.jsonl
	t=1
	while [ $t -le "$TOPICS" ]; do
		es-produce --sync none "topic$t" <batch.jsonl
		t=$((t + 1))
	done
}

start=$(ms)
t=1
while [ $t -le "$TOPICS" ]; do
	es-topic create "topic$t" -p "$PARTITIONS" --sync none
	t=$((t + 1))
done
# Group g reads everything after round g: groups end 10, 20, ... records
# behind on every partition.
g=1
while [ $g -le "$GROUPS_PER_TOPIC" ]; do
	produce_all $PER_ROUND "$g"
	t=1
	while [ $t -le "$TOPICS" ]; do
		es-consume -g "group$g" "topic$t" >/dev/null
		t=$((t + 1))
	done
	g=$((g + 1))
done
produce_all $PER_ROUND 0
per_part=$(((GROUPS_PER_TOPIC + 1) * PER_ROUND))
echo "lag: built $TOPICS topics x $PARTITIONS partitions x $GROUPS_PER_TOPIC groups" \
	"($per_part records per partition) in $(($(ms) - start)) ms in $BENCH_DIR"

# The median wall time of ROUNDS runs of `es-lag` (the table, thrown
# away), and the mean CPU time (user + system), in ms: "WALL CPU".
time_lag() {
	if command -v hyperfine >/dev/null 2>&1; then
		hyperfine -N --warmup 2 --runs "$ROUNDS" --export-json hf.json \
			--output=null "$BIN/es-lag" >/dev/null 2>&1
		jq -r '.results[0] | "\(.median * 1000 * 10 | round / 10) \((.user + .system) * 1000 * 10 | round / 10)"' hf.json
		return
	fi
	es-lag >/dev/null
	i=0
	: >times
	while [ $i -lt "$ROUNDS" ]; do
		a=$(date +%s%N)
		es-lag >/dev/null
		b=$(date +%s%N)
		echo $(((b - a) / 1000)) >>times
		i=$((i + 1))
	done
	sort -n times | awk '{ v[NR] = $1 } END { printf "%.1f -\n", v[int((NR + 1) / 2)] / 1000 }'
}

# What one run asks of the kernel, which the machine's load does not
# change: "SYSCALLS BYTES-READ" (with strace), or "- -".
io_lag() {
	if ! command -v strace >/dev/null 2>&1; then
		echo "- -"
		return
	fi
	strace -f -c -o calls.txt es-lag >/dev/null 2>&1
	strace -f -qq -o trace.txt -e trace=read,pread64 es-lag >/dev/null 2>&1
	calls=$(awk '$NF == "total" { print $4 }' calls.txt)
	awk -v calls="$calls" '/(read|pread64)(\(| resumed>)/ && / = [0-9]+$/ { b += $NF }
		END { printf "%d %d\n", calls, b }' trace.txt
	rm -f trace.txt calls.txt
}

rows=$(es-lag | awk -F '\t' 'NR > 1 && NF == 12' | wc -l)
lagging=$(es-lag -J | jq '[.topics[].groups[].partitions[] | select(.lag > 0 and .age_seconds != null)] | length')
set -- $(time_lag) $(io_lag)
small=$1 small_cpu=$2 small_calls=$3 small_read=$4
bytes_small=$(du -sk . | cut -f1)
echo "lag: es-lag over $rows rows ($lagging with lag and an age): median $small ms" \
	"(CPU $small_cpu ms; $small_calls system calls, $small_read bytes read) (target < 100 ms)"
[ "${SMALL_ONLY:-0}" = 1 ] && exit 0

# 100 times the data: 99 times as many records again in every partition.
start=$(ms)
records $((per_part * 99 * PARTITIONS)) 99 >big.jsonl
t=1
while [ $t -le "$TOPICS" ]; do
	es-produce --sync none "topic$t" <big.jsonl
	t=$((t + 1))
done
rm -f big.jsonl batch.jsonl
bytes_big=$(du -sk . | cut -f1)
echo "lag: grew the data from $((bytes_small / 1024)) MiB to $((bytes_big / 1024)) MiB" \
	"($((per_part * 100)) records per partition) in $(($(ms) - start)) ms"
set -- $(time_lag) $(io_lag)
big=$1 big_cpu=$2 big_calls=$3 big_read=$4
echo "lag: es-lag with 100x the data: median $big ms" \
	"(CPU $big_cpu ms; $big_calls system calls, $big_read bytes read)"
awk -v a="$small" -v b="$big" -v ca="$small_calls" -v cb="$big_calls" \
	-v ra="$small_read" -v rb="$big_read" 'BEGIN {
	printf "lag: 100x data / 1x data: time %.2f", b / a
	if (ca != "-") printf ", system calls %.2f, bytes read %.2f", cb / ca, rb / ra
	printf "; %s\n", (a < 100 && b < 100) ? "within 100 ms" : "OVER 100 ms"
}'
