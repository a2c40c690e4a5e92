#!/bin/sh
# exec.sh - es-consume --exec throughput (issue 4, item 8): records/s of
#   es-consume -g bench --exec 'cat >/dev/null' --batch 1000 TOPIC
# next to plain `es-consume TOPIC > /dev/null` and `cat FILE > /dev/null`,
# measured in the same run, on the SPEC section 4 workload: 1,000,000
# ~100-byte JSON lines keyed by post_id, 8 partitions. Target: at least
# 1,000,000 records/s.
#
#   sh tests/bench/exec.sh            (from the repository, after make)
#
# Environment: ES_BENCH_BIN (the commands; default bin/), ES_BENCH_WORKLOAD
# (the 1M-line file; default: generated), ES_BENCH_GEN (a gen-likes binary
# to generate it with), ES_BENCH_TMP or TMPDIR (scratch space), BENCH_RUNS
# (timed runs per figure, the median is printed; default 5, and 3 for the
# --exec runs), JOBS (also time --exec with -j JOBS; default 2, 0 for no).
# tests/bench/run.sh sets the ES_BENCH_* variables.
#
# The workload comes from ES_BENCH_WORKLOAD, else ES_BENCH_GEN, else
# /work/shared/peers/gen-likes.sh (seed 42, as the peers' figures), else a
# deterministic awk generator of the same shape (post_id skewed over 10,000
# posts). Every --exec run starts with a fresh group; one untimed run checks
# that the command saw every record once and that the group committed them.
set -eu
cd "$(dirname "$0")/../.."
BIN=${ES_BENCH_BIN:-$(pwd)/bin}
for b in es-topic es-produce es-consume; do
	[ -x "$BIN/$b" ] || { echo "exec.sh: missing $BIN/$b: run make" >&2; exit 1; }
done
PATH=$BIN:$PATH
export PATH
unset ES_DIR NO_COLOR
N=1000000
RUNS=${BENCH_RUNS:-5}
XRUNS=${BENCH_RUNS:-3}
JOBS=${JOBS:-2}
S=$(mktemp -d "${ES_BENCH_TMP:-${TMPDIR:-/tmp}}/es-exec-bench.XXXXXX")
trap 'rm -rf "$S"' EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------- workload

W=${ES_BENCH_WORKLOAD:-}
if [ -z "$W" ]; then
	W=$S/likes.jsonl
	if [ -n "${ES_BENCH_GEN:-}" ] && [ -x "$ES_BENCH_GEN" ]; then
		"$ES_BENCH_GEN" $N 42 >"$W"
	elif [ -f /work/shared/peers/gen-likes.sh ]; then
		PEERS_DIR=$S/peers sh /work/shared/peers/gen-likes.sh $N 42 >"$W"
	else
		# LikeCreated events, post_id ~ Zipf(1) over 10,000 posts by
		# inverse CDF, user_id uniform; a fixed LCG makes it repeatable.
		awk -v n=$N 'BEGIN {
			posts = 10000; h = 0
			for (i = 1; i <= posts; i++) { h += 1 / i; cdf[i] = h }
			seed = 42
			for (e = 1; e <= n; e++) {
				seed = (seed * 1103515245 + 12345) % 2147483648
				u = seed / 2147483648 * h
				lo = 1; hi = posts
				while (lo < hi) { m = int((lo + hi) / 2); if (cdf[m] < u) lo = m + 1; else hi = m }
				seed = (seed * 1103515245 + 12345) % 2147483648
				printf "{\"type\":\"LikeCreated\",\"event_id\":%d,\"post_id\":%d,\"user_id\":%d,\"ts\":%d}\n",
					e, lo, seed % 100000 + 1, 1764000000000 + e
			}
		}' >"$W"
	fi
fi
lines=$(wc -l <"$W")
bytes=$(wc -c <"$W")
[ "$lines" -eq $N ] || { echo "exec.sh: $W has $lines lines, not $N" >&2; exit 1; }
T=$S/likes
es-topic create "$T" -p 8 >/dev/null
es-produce --key-field post_id "$T" <"$W"

# --------------------------------------------------------------- timing

now() { date +%s%N; }
med() {
	sort -n | awk '{ a[NR] = $1 } END { print NR % 2 ? a[(NR + 1) / 2] : int((a[NR / 2] + a[NR / 2 + 1]) / 2) }'
}
# timed RUNS CMD: the median wall time of `sh -c CMD` in ns; the group
# bench is removed before each run (untimed).
timed() {
	_n=$1 _cmd=$2 _i=0
	while [ $_i -lt "$_n" ]; do
		rm -rf "$T/groups/bench"
		_t0=$(now)
		sh -c "$_cmd" || { echo "exec.sh: failed: $_cmd" >&2; exit 1; }
		_t1=$(now)
		echo $((_t1 - _t0))
		_i=$((_i + 1))
	done | med
}
rate() { awk -v n=$N -v ns="$1" 'BEGIN { printf "%.0f", n / (ns / 1e9) }'; }
secs() { awk -v ns="$1" 'BEGIN { printf "%.3f s", ns / 1e9 }'; }
grp() { awk -v n="$1" 'BEGIN { s = sprintf("%d", n); o = ""
	while (length(s) > 3) { o = "," substr(s, length(s) - 2) o; s = substr(s, 1, length(s) - 3) }
	print s o }'; }

# ------------------------------------------------------ correctness once

rm -rf "$T/groups/bench"
es-consume -g bench --batch 1000 --exec 'wc -l' "$T" >"$S/counts"
got=$(awk '{ s += $1 } END { print s }' "$S/counts")
committed=$(sh "$(dirname "$0")/../tools/grp-commit.sh" "$T" bench |
	awk '{ s += $2 } END { print s }')
if [ "$got" -ne $N ] || [ "$committed" -ne $N ]; then
	echo "exec.sh: the command saw $got records and the group committed $committed, not $N" >&2
	exit 1
fi

# -------------------------------------------------------------- figures

t_cat=$(timed "$RUNS" "cat '$W' >/dev/null")
t_plain=$(timed "$RUNS" "es-consume '$T' >/dev/null")
t_exec=$(timed "$XRUNS" "es-consume -g bench --exec 'cat >/dev/null' --batch 1000 '$T'")
r_exec=$(rate "$t_exec")
echo "workload: $N lines, $(grp "$bytes") bytes, 8 partitions keyed by post_id; batches: $(wc -l <"$S/counts")"
echo "cat FILE > /dev/null:                   $(secs "$t_cat"), $(grp "$(rate "$t_cat")") records/s"
echo "es-consume > /dev/null:                 $(secs "$t_plain"), $(grp "$(rate "$t_plain")") records/s"
echo "es-consume -g --exec 'cat >/dev/null' --batch 1000:"
echo "                                        $(secs "$t_exec"), $(grp "$r_exec") records/s, \
$(awk -v a="$t_exec" -v b="$t_plain" 'BEGIN { printf "%.1fx", a / b }') the time of plain es-consume"
if [ "$JOBS" -gt 1 ]; then
	t_j=$(timed "$XRUNS" "es-consume -g bench -j $JOBS --exec 'cat >/dev/null' --batch 1000 '$T'")
	echo "  the same with -j $JOBS:                   $(secs "$t_j"), $(grp "$(rate "$t_j")") records/s"
fi
# What a batch costs apart from es-consume: sh -c 'cat >/dev/null' alone,
# as many times as there are batches, on a 100 KB input.
nb=$(wc -l <"$S/counts")
head -c 100000 "$W" >"$S/batch"
t_sh=$(timed 1 "i=0; while [ \$i -lt $nb ]; do sh -c 'cat >/dev/null' <'$S/batch'; i=\$((i + 1)); done")
echo "  of which spawning: $nb x sh -c 'cat >/dev/null' alone take $(secs "$t_sh")"
# The ceiling that starting the commands sets, whatever es-consume does:
# the records/s if a batch cost only its sh and cat, one at a time and
# JOBS at a time (the machine's cores shared as -j JOBS shares them).
echo "  ceiling from spawning alone:          $(grp "$(rate "$t_sh")") records/s one at a time" \
	"(es-consume reaches $(awk -v a="$t_sh" -v b="$t_exec" 'BEGIN { printf "%.0f%%", a / b * 100 }'))"
if [ "$JOBS" -gt 1 ]; then
	per=$(((nb + JOBS - 1) / JOBS))
	t_shj=$(timed 1 "k=0; while [ \$k -lt $JOBS ]; do (i=0; while [ \$i -lt $per ]; do sh -c 'cat >/dev/null' <'$S/batch'; i=\$((i + 1)); done) & k=\$((k + 1)); done; wait")
	echo "                                        $(grp "$(rate "$t_shj")") records/s $JOBS at a time" \
		"(-j $JOBS reaches $(awk -v a="$t_shj" -v b="$t_j" 'BEGIN { printf "%.0f%%", a / b * 100 }'))"
fi
echo "  cores: $(getconf _NPROCESSORS_ONLN)"
verdict=met
[ "$r_exec" -ge 1000000 ] || verdict="NOT met"
echo "target: --exec >= 1,000,000 records/s: $verdict ($(awk -v r="$r_exec" 'BEGIN { printf "%.0f%%", r / 10000 }'))"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
