#!/bin/bash
# crash-every-call.sh - crash a small es-produce run at its Nth call, for
# every N of the run; after each crash check the invariants, then let the
# next producer recover and append, and check again. Run by crash.bats (a
# plain script: bats' per-command tracing would triple the run time).
#
# Usage: crash-every-call.sh HOW BASE WORK MUST...
#   HOW    shim         LD_PRELOAD killat.so: the Nth I/O call of the
#                       run, all threads counted in one sequence
#          strace:NAME  strace -e inject=NAME:signal=KILL:when=N (counted
#                       per thread, as strace does)
#   BASE   the topic to start from, copied afresh for each N; "none":
#          no topic, and every run is es-produce --create
#   WORK   a scratch directory
#   MUST   verify's MUST arguments: what must be in the topic
# Environment: PATH with the es binaries; GEN, VERIFY, KILLAT (built tools).
# Prints "crashed at each of N calls" and exits 0, or says what broke, 1.
set -u
how=$1 base=$2 d=$3
shift 3
t=$d/topic
fail() {
	echo "$how N=$n: $*"
	exit 1
}

# es-topic check: exit 0 and no corruption (a torn tail is fine).
check() {
	local out st=0
	out=$(es-topic check "$t" 2>&1) || st=$?
	[ "$st" -eq 0 ] && [[ ${out##*$'\n'} == *" partitions checked: 0 corrupt, "* ]] ||
		fail "$1: es-topic check exit $st: $out"
}

# A fresh copy of the starting state.
fresh() {
	rm -rf "$t"
	[ "$base" = none ] || cp -R "$base" "$t"
}
create=
[ "$base" != none ] || create=--create

mkdir -p "$d"
"$GEN" w 1 20 20 0 > "$d/in"
"$GEN" n 1 5 5 0 > "$d/in2"

# How many calls does an undisturbed run make?
n=0
fresh
case $how in
shim)
	rm -f "$d/count"
	KILLAT_LOG="$d/count" LD_PRELOAD="$KILLAT" es-produce $create --ack "$t" < "$d/in" > /dev/null ||
		fail "undisturbed run failed"
	total=$(awk '$1 == "total" { print $2 }' "$d/count")
	;;
strace:*)
	strace -f -qq -c -o "$d/count" -e trace="${how#strace:}" \
		es-produce $create --ack "$t" < "$d/in" > /dev/null || fail "undisturbed run failed"
	total=$(awk -v s="${how#strace:}" '$NF == s { print $4 }' "$d/count")
	;;
*)
	echo "crash-every-call.sh: bad HOW '$how'" >&2
	exit 2
	;;
esac
if [ -z "$total" ]; then
	echo "$how: the run makes no such call"
	exit 0
fi

killed=0
for n in $(seq 1 $((total + 1))); do
	fresh
	st=0
	case $how in
	shim)
		# (braces: no "Killed" notice from the shell)
		{ KILLAT_N=$n LD_PRELOAD="$KILLAT" \
			es-produce $create --ack "$t" < "$d/in" > "$d/acks" 2> "$d/err" || st=$?; } 2> /dev/null
		;;
	strace:*)
		{ strace -f -qq -o /dev/null -e inject="${how#strace:}":signal=KILL:when=$n \
			es-produce $create --ack "$t" < "$d/in" > "$d/acks" 2> "$d/err" || st=$?; } 2> /dev/null
		;;
	esac
	# Killed, or (past the last call) done; never an error.
	[ "$st" -eq 137 ] || [ "$st" -eq 0 ] || fail "exit $st: $(cat "$d/err")"
	[ "$st" -ne 137 ] || killed=$((killed + 1))
	if [ "$base" = none ] && [ ! -e "$t/topic.yaml" ]; then
		# Killed while creating: no topic yet, and nothing promised.
		[ ! -s "$d/acks" ] || fail "acks, and no topic"
		: > "$d/prev"
	else
		check "after the crash"
		es-consume -F '%p %o %s\n' "$t" > "$d/prev" || fail "es-consume after the crash: exit $?"
		"$VERIFY" "$d/prev" "$@" "acks=$d/acks,w,1" || fail "after the crash"
	fi
	# The next producer recovers and appends; nothing is lost.
	es-produce $create --ack "$t" < "$d/in2" > "$d/acks2" 2> "$d/err" ||
		fail "next produce: exit $?: $(cat "$d/err")"
	[ "$(wc -l < "$d/acks2")" -eq 5 ] || fail "next produce: $(wc -l < "$d/acks2") acks, not 5"
	es-consume -F '%p %o %s\n' "$t" > "$d/dump" || fail "es-consume after the next produce: exit $?"
	"$VERIFY" "$d/dump" "$@" "acks=$d/acks,w,1" "acks=$d/acks2,n,1" "$d/prev" ||
		fail "after the next produce"
	check "after the next produce"
done
# The shim counts every thread's calls in one sequence: each N kills.
if [ "$how" = shim ] && [ "$killed" -ne "$total" ]; then
	echo "shim: $killed kills for $total calls"
	exit 1
fi
echo "$how: crashed at each of $total calls"
