#!/bin/sh
# run.sh - the benchmark of SPEC section 4: es-produce, es-consume, seek,
# follow latency and peak RSS on a generated workload, each figure next to a
# baseline measured in the same run; then the other tests/bench/*.sh.
#
# Usage: sh tests/bench/run.sh      (or `make bench`)
# Environment:
#   TMPDIR           scratch directory is made under it (default /tmp)
#   BENCH_RUNS       runs per figure, median taken (default 5; produce 3;
#                    twice as many for the short consume and cat runs)
#   BENCH_KEEP=1     keep the 1 GB topic in build/bench/topic-1g and reuse it
#                    while bin/es-produce and gen-likes.c are unchanged
#   BENCH_PASSES     workload passes in the big topic (default 8: ~1.1 GB)
#   BENCH_HYPERFINE=0  time with the date +%s%N loop even if hyperfine is there
#   BENCH_OTHERS=0   skip lag.sh, exec.sh, compact.sh
# Output: the figures as they come, then a table, also written to
# build/bench/results.txt. See tests/bench/README.md for what each means.
# The other scripts (lag.sh, exec.sh, compact.sh) are run with ES_BENCH_BIN,
# ES_BENCH_WORKLOAD (the 1M-line file), ES_BENCH_TMP and ES_BENCH_GEN set.
# shellcheck disable=SC2046,SC2015,SC3013
# (SC2046: the unquoted $(...) are split on purpose, into set --; dash has -nt)
set -u
unset ES_DIR

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$ROOT/bin
OUT=$ROOT/build/bench
RUNS=${BENCH_RUNS:-5}
PRUNS=${BENCH_RUNS:-3}
PASSES=${BENCH_PASSES:-8}
N=1000000
cd "$ROOT" || exit 1

die() { echo "bench: $*" >&2; exit 1; }
note() { echo "bench: $*" >&2; }

[ -x "$BIN/es-produce" ] && [ -x "$BIN/es-consume" ] && [ -x "$BIN/es-topic" ] ||
	make -s all || die "cannot build bin/"
mkdir -p "$OUT" || die "cannot create $OUT"
for p in gen-likes latency; do
	src=tests/bench/$p.c
	[ -x "$OUT/$p" ] && [ "$OUT/$p" -nt "$src" ] && continue
	gcc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -o "$OUT/$p" "$src" -lm ||
		die "cannot compile $src"
done

S=$(mktemp -d "${TMPDIR:-/tmp}/es-bench.XXXXXX") && S=$(cd "$S" && pwd) ||
	die "cannot make a scratch dir"
trap 'rm -rf "$S"' EXIT
trap 'exit 130' INT TERM

HF=
if [ "${BENCH_HYPERFINE:-}" != 0 ] &&
	{ command -v hyperfine && command -v jq; } >/dev/null 2>&1; then
	HF=1
fi
CPUL=min	# the second figure of timeit2
[ "$HF" ] && CPUL=cpu
TIME=
[ -x /usr/bin/time ] && TIME=/usr/bin/time
[ "$HF" ] || note "hyperfine or jq missing: timing with a date +%s%N loop (apt-get install hyperfine jq)"
[ "$TIME" ] || note "/usr/bin/time missing: no peak RSS (apt-get install time)"

# ---------------------------------------------------------------- helpers

# med: median of the numbers on stdin
med() {
	sort -g | awk '{ a[NR] = $1 } END {
		if (!NR) { print "nan"; exit }
		print NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# timeit2 RUNS WARMUP MODE PREPARE CMD: print the median wall time of CMD,
# and the CPU time it takes (user + system, mean of the runs; the minimum
# wall time without hyperfine), in seconds. MODE is "shell" (CMD is a shell command line:
# redirections) or "exec" (CMD is run directly, stdout to /dev/null: no
# shell in the time). PREPARE (may be empty) runs before each run, untimed.
timeit2() {
	_runs=$1 _warm=$2 _mode=$3 _prep=$4 _cmd=$5
	if [ "$HF" ]; then
		set -- --style none --runs "$_runs" --warmup "$_warm" \
			--export-json "$S/hf.json"
		[ "$_mode" = exec ] && set -- "$@" -N
		[ "$_prep" ] && set -- "$@" --prepare "$_prep"
		hyperfine "$@" "$_cmd" >"$S/hf.log" 2>&1 || {
			note "failed: $_cmd"; sed 's/^/  /' "$S/hf.log" >&2
			echo nan nan; return 1; }
		jq -r '.results[0] | "\(.median) \(.user + .system)"' "$S/hf.json"
		return
	fi
	_i=0
	: > "$S/times"
	while [ $_i -lt $((_runs + _warm)) ]; do
		[ "$_prep" ] && sh -c "$_prep" >/dev/null
		_t0=$(date +%s%N)
		if [ "$_mode" = exec ]; then
			$_cmd >/dev/null
		else
			sh -c "$_cmd"
		fi || { note "failed: $_cmd"; echo nan nan; return 1; }
		_t1=$(date +%s%N)
		[ $_i -ge "$_warm" ] &&
			awk -v a="$_t0" -v b="$_t1" 'BEGIN { printf "%.6f\n", (b - a) / 1e9 }' >> "$S/times"
		_i=$((_i + 1))
	done
	echo "$(med < "$S/times") $(sort -g "$S/times" | head -n 1)"
}
# timeit: the same, the median only
timeit() { timeit2 "$@" | cut -d' ' -f1; }

# rss CMD: peak RSS in KiB of the shell command line CMD (and its children)
rss() {
	[ "$TIME" ] || { echo nan; return; }
	$TIME -f %M -o "$S/rss" sh -c "$1" >/dev/null || { echo nan; return 1; }
	tail -n 1 "$S/rss"
}

# Formatting: f_rate RECORDS SECS, f_mbs BYTES SECS, f_mib KIB, f_ms SECS,
# f_x A B (A/B), pct MEASURED TARGET (measured as % of target).
f_rate() { awk -v n="$1" -v s="$2" 'BEGIN { r = n / s
	if (r >= 1e6) printf "%.2fM rec/s", r / 1e6; else printf "%.0fk rec/s", r / 1e3 }'; }
f_mbs() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f MB/s", b / s / 1e6 }'; }
f_mib() { awk -v k="$1" 'BEGIN { if (k == "nan") print "n/a"; else printf "%.1f MiB", k / 1024 }'; }
f_ms() { awk -v s="$1" 'BEGIN { printf "%.2f ms", s * 1000 }'; }
f_s() { awk -v s="$1" 'BEGIN { printf "%.3f s", s }'; }
f_x() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }
# verdict VALUE OP LIMIT: "yes (NN%)" or "NO (NN%)", NN = VALUE / LIMIT
verdict() { awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN {
	if (v == "nan" || v == "") { print "n/a"; exit }
	ok = op == ">=" ? v >= l : v <= l
	printf "%s (%.0f%%)", ok ? "yes" : "NO", 100 * v / l }'; }

# Table rows, collected in $S/table and printed at the end.
row() { printf '%-30s %-26s %-30s %-10s %-22s %s\n' "$@" >>"$S/table"; }
row "figure" "es" "baseline (same run)" "ratio" "target" "met (% of target)"

# --------------------------------------------------------------- workload

STARTED="$(date -u +%Y-%m-%dT%H:%M:%SZ), $(uname -srm), $(nproc) CPUs, \
$(git describe --always --dirty 2>/dev/null || echo '?')"
echo "== es benchmark, $STARTED"
echo "   hyperfine: $([ "$HF" ] && echo yes || echo no), runs: $RUNS (produce $PRUNS)"
load() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?'; }
LOAD0=$(load)
echo "   load average at start: $LOAD0"
awk -v l="${LOAD0%% *}" -v n="$(nproc)" 'BEGIN { exit !(l + 0 > n + 0) }' &&
	note "warning: the machine is busy (load $LOAD0 on $(nproc) CPUs): figures will be noisy"
W=$S/likes.jsonl
"$OUT/gen-likes" $N 42 > "$W" || die "cannot generate the workload"
B=$(wc -c < "$W")
# Let the kernel write back what is dirty (here and after each bulk write)
# so that its writeback does not land in the next timings.
sync
echo "workload: $N JSON lines, $B bytes, post_id Zipf(1.0) over 10000 posts, seed 42"

# -------------------------------------------------------------- baselines

echo "== baselines"
cat "$W" > /dev/null
T_CAT=$(timeit $((RUNS * 2)) 2 exec "" "cat $W")
echo "cat FILE > /dev/null            $(f_s "$T_CAT")"
T_CATF=$(timeit "$RUNS" 1 shell "rm -f $S/out" "cat $W > $S/out && sync $S/out")
rm -f "$S/out"
echo "cat FILE > out; sync out        $(f_s "$T_CATF")"

# ---------------------------------------------------------------- produce

echo "== es-produce --key-field post_id --sync batch, 8 partitions"
T=$S/topic
MK="rm -rf $T && $BIN/es-topic create $T -p 8 >/dev/null"
PROD="$BIN/es-produce --key-field post_id --sync batch $T < $W"
T_PROD=$(timeit "$PRUNS" 0 shell "$MK" "$PROD")
sh -c "$MK"
R_PROD=$(rss "$PROD")
got=$("$BIN/es-consume" "$T" | wc -c)
[ "$got" -eq "$B" ] || note "consume gave $got bytes back, not $B: figures suspect"
echo "time $(f_s "$T_PROD"), $(f_rate $N "$T_PROD"), $(f_mbs "$B" "$T_PROD"), \
$(f_x "$T_PROD" "$T_CATF") of cat+fsync, peak RSS $(f_mib "$R_PROD")"
PR=$(awk -v n=$N -v s="$T_PROD" 'BEGIN { print n / s }')
row "produce --key-field, batch" "$(f_rate $N "$T_PROD")  $(f_mbs "$B" "$T_PROD")" \
	"cat+fsync $(f_s "$T_CATF")" "$(f_x "$T_PROD" "$T_CATF")" \
	">= 2M rec/s" "$(verdict "$PR" '>=' 2000000)"
row "" "" "" "" "<= 4x cat+fsync" \
	"$(verdict "$(awk -v a="$T_PROD" -v b="$T_CATF" 'BEGIN { print a / b }')" '<=' 4)"
row "  peak RSS" "$(f_mib "$R_PROD")" "" "" "< 32 MiB" "$(verdict "$R_PROD" '<=' 32768)"

# ---------------------------------------------------------------- consume

consume() { # NAME OPTS TARGET
	set -- "$1" "$2" "$3" $(timeit2 $((RUNS * 2)) 1 exec "" "$BIN/es-consume $2 $T")
	t=$4
	r=$(rss "$BIN/es-consume $2 $T")
	echo "es-consume $2 > /dev/null: $(f_s "$t") ($CPUL $(f_s "$5")), $(f_rate $N "$t"), \
$(f_mbs "$B" "$t"), $(f_x "$t" "$T_CAT") of cat, peak RSS $(f_mib "$r")"
	row "$1" "$(f_rate $N "$t")  $(f_mbs "$B" "$t")" "cat $(f_s "$T_CAT")" \
		"$(f_x "$t" "$T_CAT")" ">= $(($3 / 1000000))M rec/s" \
		"$(verdict "$(awk -v n=$N -v s="$t" 'BEGIN { print n / s }')" '>=' "$3")"
	row "  peak RSS" "$(f_mib "$r")" "" "" "< 32 MiB" "$(verdict "$r" '<=' 32768)"
}
echo "== es-consume, the same topic, to /dev/null"
consume "consume > /dev/null" "" 10000000
consume "consume -J > /dev/null" "-J" 2000000

# ---------------------------------------------------------------- latency

echo "== follow latency: es-produce --sync batch | es-consume -f, 8 partitions, 1000 rec/s"
LT=$S/follow
"$BIN/es-topic" create "$LT" -p 8 >/dev/null || die "cannot create $LT"
kv() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
LB=$("$OUT/latency" -n 3000 -r 1000 -S "$S/fsync.tmp")
echo "baseline, append + fdatasync of one line: $LB"
L=$("$OUT/latency" -n 3000 -r 1000 \
	"exec $BIN/es-produce --key-field post_id --sync batch $LT" \
	"exec $BIN/es-consume -f $LT") || note "latency run had lost records or failed"
echo "es-produce -> es-consume -f: $L"
ms() { awk -v v="$1" 'BEGIN { if (v == "") print "n/a"; else printf "%.2f ms", v }'; }
p99=$(kv "$L" p99_ms)
row "follow latency p50 / p99" "$(ms "$(kv "$L" p50_ms)") / $(ms "$p99")" \
	"fdatasync $(ms "$(kv "$LB" p50_ms)") / $(ms "$(kv "$LB" p99_ms)")" \
	"$(f_x "${p99:-nan}" "$(kv "$LB" p99_ms)")" "p99 < 10 ms" "$(verdict "$p99" '<=' 10)"

# ------------------------------------------------------------------- seek

echo "== seek: es-consume -n 1 -p 0, small and ~1 GB topic"
SMALL=$S/small
"$BIN/es-topic" create "$SMALL" -p 8 >/dev/null &&
	head -n 100000 "$W" | "$BIN/es-produce" --key-field post_id --sync none "$SMALL" ||
	die "cannot build the small topic"

BIG=$S/big
stamp=
if [ "${BENCH_KEEP:-}" = 1 ]; then
	BIG=$OUT/topic-1g
	stamp="$PASSES $(cat "$BIN/es-produce" tests/bench/gen-likes.c | cksum)"
	if [ -f "$BIG.stamp" ] && [ "$(cat "$BIG.stamp")" = "$stamp" ]; then
		echo "reusing $BIG"
	else
		rm -rf "$BIG" "$BIG.stamp"
	fi
fi
R_BIGP=nan
if [ ! -d "$BIG" ]; then
	"$BIN/es-topic" create "$BIG" -p 8 >/dev/null || die "cannot create $BIG"
	i=0 R_BIGP=0
	t0=$(date +%s%N)
	while [ $i -lt "$PASSES" ]; do
		r=$(rss "$BIN/es-produce --key-field post_id --sync none $BIG < $W") ||
			die "cannot build the big topic"
		R_BIGP=$(awk -v a="$R_BIGP" -v b="$r" 'BEGIN { print (b == "nan" || b > a) ? b : a }')
		i=$((i + 1))
	done
	echo "built $BIG: $PASSES passes in $(awk -v a="$t0" -v b="$(date +%s%N)" \
		'BEGIN { printf "%.1f s", (b - a) / 1e9 }'), producer peak RSS $(f_mib "$R_BIGP")"
	[ "$stamp" ] && echo "$stamp" > "$BIG.stamp"
	sync
fi

# part0 TOPIC: "next_offset oldest newest" of partition 0
part0() {
	"$BIN/es-topic" describe --json "$1" | jq -r \
		'.partitions[] | select(.partition == 0) |
		 "\(.next_offset) \(.oldest_timestamp) \(.newest_timestamp)"'
}
# seek TOPIC: sets SO SOC (median wall, CPU: -o MIDDLE), ST STC (--since
# MIDDLE), all in seconds, and SB (bytes on disk)
seek() {
	set -- "$1" $(part0 "$1")
	SB=$(du -sb "$1" | cut -f1)
	set -- $(timeit2 30 3 exec "" "$BIN/es-consume -n 1 -o $(($2 / 2)) -p 0 $1") \
		$(timeit2 30 3 exec "" "$BIN/es-consume -n 1 --since @$((($3 + $4) / 2)) -p 0 $1") \
		"$1" "$2"
	SO=$1 SOC=$2 ST=$3 STC=$4
	echo "$5: $(mb "$SB"), -o $(($6 / 2)): $(f_ms "$SO") ($CPUL $(f_ms "$SOC")), \
--since middle: $(f_ms "$ST") ($CPUL $(f_ms "$STC"))"
}
mb() { awk -v b="$1" 'BEGIN { printf "%.0f MB", b / 1e6 }'; }
command -v jq >/dev/null 2>&1 || die "jq is needed for the seek figures (apt-get install jq)"
T_START=$(timeit 30 3 exec "" "$BIN/es-consume --version")
echo "process start, es-consume --version: $(f_ms "$T_START")"
seek "$SMALL"; sO=$SO sOC=$SOC sT=$ST sTC=$STC sB=$SB
seek "$BIG"
R_SEEK=$(rss "$BIN/es-consume -n 1 -o $(($(part0 "$BIG" | cut -d' ' -f1) / 2)) -p 0 $BIG")
# "No slower than on a 10 MB topic": the medians of the wall time wander by
# milliseconds with the machine's noise, so sizes are compared on the CPU
# time the process takes (what a scan would inflate), within 1.25x.
row "seek -o MIDDLE, $(mb "$SB")" "$(f_ms "$SO") ($CPUL $(f_ms "$SOC"))" \
	"$(mb "$sB"): $(f_ms "$sO") ($CPUL $(f_ms "$sOC"))" \
	"$(f_x "$SOC" "$sOC") $CPUL" "< 10 ms" "$(verdict "$SO" '<=' 0.010)"
row "" "" "" "" "big/small $CPUL <= 1.25" \
	"$(verdict "$(awk -v a="$SOC" -v b="$sOC" 'BEGIN { print a / b }')" '<=' 1.25)"
row "seek --since MIDDLE, $(mb "$SB")" "$(f_ms "$ST") ($CPUL $(f_ms "$STC"))" \
	"$(mb "$sB"): $(f_ms "$sT") ($CPUL $(f_ms "$sTC"))" \
	"$(f_x "$STC" "$sTC") $CPUL" "< 10 ms" "$(verdict "$ST" '<=' 0.010)"
row "" "" "" "" "big/small $CPUL <= 1.25" \
	"$(verdict "$(awk -v a="$STC" -v b="$sTC" 'BEGIN { print a / b }')" '<=' 1.25)"
row "  process start (--version)" "$(f_ms "$T_START")" "" "" "" ""
row "  peak RSS, seek in big topic" "$(f_mib "$R_SEEK")" "" "" "< 32 MiB" "$(verdict "$R_SEEK" '<=' 32768)"

# The whole big topic, to show memory does not grow with it.
NB=$((N * PASSES))
T_BIGCAT=$(timeit 3 1 shell "" "cat $BIG/*/*.log > /dev/null")
T_BIGC=$(timeit 3 0 exec "" "$BIN/es-consume $BIG")
R_BIGC=$(rss "$BIN/es-consume $BIG")
echo "es-consume of the whole big topic: $(f_s "$T_BIGC"), $(f_rate $NB "$T_BIGC"), \
$(f_x "$T_BIGC" "$T_BIGCAT") of cat of its segments ($(f_s "$T_BIGCAT")), peak RSS $(f_mib "$R_BIGC")"
row "consume big topic, $(mb "$SB")" "$(f_rate $NB "$T_BIGC")  $(f_mbs $((B * PASSES)) "$T_BIGC")" \
	"cat *.log $(f_s "$T_BIGCAT")" "$(f_x "$T_BIGC" "$T_BIGCAT")" \
	">= 10M rec/s" "$(verdict "$(awk -v n=$NB -v s="$T_BIGC" 'BEGIN { print n / s }')" '>=' 10000000)"
row "  peak RSS" "$(f_mib "$R_BIGC")" "" "" "< 32 MiB" "$(verdict "$R_BIGC" '<=' 32768)"
[ "$R_BIGP" != nan ] && row "produce big topic, peak RSS" "$(f_mib "$R_BIGP")" "" "" "< 32 MiB" \
	"$(verdict "$R_BIGP" '<=' 32768)"
[ "$stamp" ] || rm -rf "$BIG"

# ---------------------------------------------------------- other scripts

LOAD1=$(load)
echo "load average after the es figures: $LOAD1"
{ echo; cat "$S/table"; } > "$S/report"
export ES_BENCH_BIN="$BIN" ES_BENCH_WORKLOAD="$W" ES_BENCH_TMP="$S" ES_BENCH_GEN="$OUT/gen-likes"
for s in lag exec compact; do
	f=tests/bench/$s.sh
	if [ "${BENCH_OTHERS:-}" = 0 ]; then
		continue
	elif [ ! -f "$f" ]; then
		echo "== $f: not there, skipped" | tee -a "$S/report"
		continue
	fi
	echo "== $f"
	{ echo; echo "== $f"; } >> "$S/report"
	{ sh "$f" 2>&1; rc=$?; [ $rc -eq 0 ] || echo "== $f: exit status $rc"; } |
		tee -a "$S/report"
done

# ------------------------------------------------------------------ table

echo
echo "== results (ratio: es time / baseline time; met: the figure as a % of its target)"
cat "$S/report"
{
	echo "es benchmark, $STARTED"
	echo "load average at start: $LOAD0, after es figures: $LOAD1"
	echo "ratio: es time / baseline time; met: the figure as a % of its target"
	cat "$S/report"
} > "$OUT/results.txt"
echo "(written to build/bench/results.txt)"
