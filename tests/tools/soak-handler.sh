#!/bin/bash
# soak-handler.sh - the --exec command of tests/soak.bats.
# Usage: es-consume -g G -F '%p %o %k %s\n' --exec 'soak-handler.sh DIR' TOPIC
# Takes some time per batch (0-300 ms, or 1.5-2.9 s for one batch in ten, as
# real work would, until DIR/fast exists), and writes
# DIR/b.<pid>.<time>: a line "B PARTITION FIRST LAST COUNT MEMBER START END"
# (MEMBER is the es-consume that ran it, $SOAK_MEMBER; START and END the
# handler's wall-clock times in microseconds), then the records read. While
# it runs, DIR/running.<pid> exists. A mismatch between the ES_* variables
# and stdin is written as a line "BAD ...".
set -u
dir=$1
start=${EPOCHREALTIME/./}
: >"$dir/running.$$"
# The member that runs us: tests/soak.bats starts each member as
# `sh -c 'SOAK_MEMBER=$$ exec es-consume ...'` (the parent's pid is no
# good: a member killed right after the fork is gone before we look).
p=${SOAK_MEMBER:?}
recs=$(cat)
# Most batches take 0-300 ms; one in ten, 1.5-2.9 s (a slow dependency), until
# DIR/fast exists (the soak is over and the members catch up).
if ((RANDOM % 10)) || [[ -e $dir/fast ]]; then
	sleep "0.$(printf %03d $((RANDOM % 300)))"
else
	sleep "$((1 + RANDOM % 2)).$((5 + RANDOM % 5))"
fi
end=${EPOCHREALTIME/./}
{
	echo "B $ES_PARTITION $ES_FIRST_OFFSET $ES_LAST_OFFSET $ES_COUNT $p $start $end"
	printf '%s\n' "$recs" | awk -v p="$ES_PARTITION" -v f="$ES_FIRST_OFFSET" \
		-v l="$ES_LAST_OFFSET" -v n="$ES_COUNT" '
		{ print "R " $0 }
		$1 != p || $2 != f + NR - 1 { print "BAD record " $0 " in batch " p " " f "-" l }
		END { if (NR != n || f + NR - 1 != l) print "BAD count " NR " for " p " " f "-" l " (" n ")" }'
} >"$dir/b.$$.$start"
rm -f "$dir/running.$$"
