#!/usr/bin/env bats
# follow.bats - an idle `es-consume -f` waits without busy polling: no CPU
# time and (nearly) no system calls while nothing is published, and it
# still wakes for the next record (SPEC.md section 2, es-consume -f:
# "inotify, no busy polling").

bats_require_minimum_version 1.5.0
load helper

# Fields of /proc/PID/stat after the command name: $1 state, $12 utime,
# $13 stime (clock ticks).
stat_of() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	STAT=(${stat##*) })
}

sleeping() {
	stat_of "$1" && [ "${STAT[0]}" = S ]
}

has_line() {
	grep -qx "$2" "$1"
}

@test "an idle es-consume -f uses no CPU and makes (nearly) no system calls, and still wakes for a record" {
	local d=$BATS_TEST_TMPDIR t=$BATS_TEST_TMPDIR/t pid before after st
	command -v strace > /dev/null || skip "needs strace"
	es-topic create "$t" -p 4
	seq 1 100 | es-produce "$t"
	bg_start es-consume -f "$t" > "$d/out" 2> "$d/err"
	pid=$bg_pid
	# Caught up, and asleep.
	wait_for 10 lines_at_least 100 "$d/out"
	wait_for 10 sleeping "$pid"

	# About a second of idling: CPU time grows by at most one tick.
	stat_of "$pid"
	before=$((STAT[12] + STAT[13]))
	sleep 1 # the experiment: nothing is published meanwhile
	stat_of "$pid"
	after=$((STAT[12] + STAT[13]))
	[ "${STAT[0]}" = S ]
	[ $((after - before)) -le 1 ] ||
		{ echo "$((after - before)) ticks of CPU in a second of idling"; false; }

	# About a second under strace: no system call but the wait itself
	# (restarted when strace attaches).
	st=0
	timeout -s INT 1 strace -f -qq -p "$pid" -o "$d/trace" || st=$?
	[ "$st" -eq 124 ] # stopped by timeout: it really watched a second
	local calls
	calls=$(grep -cv -e '^[0-9]* *restart_syscall(' -e 'resumed>' -e '^[0-9]* *+++' -e '^[0-9]* *---' "$d/trace" || true)
	[ "$calls" -le 1 ] || { echo "$calls system calls while idle:"; head -n 20 "$d/trace"; false; }

	# Still following: a new record comes out.
	echo wake-up | es-produce "$t"
	wait_for 10 has_line "$d/out" wake-up
	bg_stop "$pid"
	[ "$bg_status" -eq 143 ]
	[ ! -s "$d/err" ]
}
