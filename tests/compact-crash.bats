#!/usr/bin/env bats
# compact-crash.bats - es-compact killed (SIGKILL) at random moments while a
# producer appends and a follower reads: after each kill `es-topic check`
# exits 0, every record the policy keeps is readable at its offset, the
# follower never printed anything inconsistent, and the next es-compact
# finishes the job (RELIABILITY.md rule 11; SPEC section 2 es-compact,
# "Safe under crash at any point ... and while producers and consumers
# run"; issue 7 item 5).
#
# Two topics, compacted by one es-compact each time: kt (cleanup compact,
# zlib: the newest record per key is kept) and dt (cleanup delete,
# retention_bytes, zlib: the newest part of each partition is kept). The
# producers and the model are in tests/tools/compact-check.pl.
bats_require_minimum_version 1.5.0
load helper

CHECK="$BATS_TEST_DIRNAME/tools/compact-check.pl"

no_cleaned() { # TOPIC...: no *.cleaned file left
	local f
	for f in "$@"; do
		[[ -z $(find "$f" -name '*.cleaned') ]] || return 1
	done
}

# es-topic check exits 0 and finds no corruption (indexes behind the log of
# the active segment, which the producer is writing, are normal: SPEC 5);
# then the model.
check_all() { # [final]
	local t out
	for t in kt dt; do
		out=$(es-topic check "$t" 2>&1) || { echo "es-topic check $t: $out"; return 1; }
		[[ ${out##*$'\n'} == "$t: 2 partitions checked: 0 corrupt, "* ]] || { echo "es-topic check $t: $out"; return 1; }
		perl "$CHECK" check "$t" ${1:-} || return 1
	done
}

# The producers run in process groups of their own (perl and its
# es-produce): a failed test kills both.
teardown() {
	local g
	for g in ${PGROUPS:-}; do kill -KILL -- "-$g" 2>/dev/null || true; done
	es_teardown
}

@test "kill -9 of es-compact at 30 random moments, a producer and a follower running: nothing lost, nothing inconsistent, the next run finishes" {
	make_topic kt -p 2 --cleanup compact --compression zlib --segment-bytes 8KiB
	make_topic dt -p 2 --cleanup delete --retention-bytes 48KiB --compression zlib --segment-bytes 8KiB
	bg_start setsid perl "$CHECK" produce kt 2>kt.produce.err
	pk=$bg_pid
	bg_start setsid perl "$CHECK" produce dt 2>dt.produce.err
	pd=$bg_pid
	PGROUPS="$pk $pd"
	bg_start es-consume -f -F '%p %o %S %k %s\n' kt >kt.follow 2>kt.follow.err
	fk=$bg_pid
	bg_start es-consume -f -F '%p %o %S %k %s\n' dt >dt.follow 2>dt.follow.err
	fd=$bg_pid
	wait_for 20 lines_at_least 1500 kt.acks
	wait_for 20 lines_at_least 1500 dt.acks
	# How long a whole run takes here: the kills fall within it.
	t0=$(date +%s%N)
	run_both es-compact kt dt
	span=$((($(date +%s%N) - t0) / 1000000))
	[[ $status == 0 && ${#lines[@]} == 4 && -z $stderr ]]
	no_cleaned kt dt
	check_all
	span=$((span < 20 ? 30 : span + 10))
	killed=0 finished=0 left=0
	for i in $(seq 1 30); do
		# Either topic first, so that both are killed in the middle.
		if ((i % 2)); then order="kt dt"; else order="dt kt"; fi
		es-compact $order >out 2>err &
		pid=$!
		r=$((RANDOM % span))
		sleep "$(printf '%d.%03d' $((r / 1000)) $((r % 1000)))"
		kill -KILL "$pid" 2>/dev/null || true
		st=0
		wait "$pid" 2>/dev/null || st=$?
		if ((st == 137)); then
			killed=$((killed + 1))
			[[ -n $(find kt dt -name '*.cleaned') ]] && left=$((left + 1))
		else
			[[ $st == 0 && ! -s err ]] || { echo "run $i: exit $st: $(cat err)"; false; }
			no_cleaned kt dt
			finished=$((finished + 1))
		fi
		check_all || { echo "after run $i (exit $st)"; false; }
		running "$pk" && running "$pd" && running "$fk" && running "$fd"
	done
	# The producers stop; the follower reads to the end.
	bg_stop "$pk"
	[[ $bg_status == 0 ]] || { cat kt.produce.err; false; }
	bg_stop "$pd"
	[[ $bg_status == 0 ]] || { cat dt.produce.err; false; }
	wait_for 20 perl "$CHECK" caughtup kt
	wait_for 20 perl "$CHECK" caughtup dt
	bg_stop "$fk"
	bg_stop "$fd"
	[[ ! -s kt.follow.err && ! -s dt.follow.err ]]
	# The next run finishes the job; one more finds nothing to do.
	run_both es-compact kt dt
	[[ $status == 0 && -z $stderr ]]
	no_cleaned kt dt
	run check_all final
	[[ $status == 0 ]] || { echo "$output"; false; }
	summary=$output
	run_both es-compact kt dt
	[[ $status == 0 && -z $stderr && ${#lines[@]} == 4 ]]
	for l in "${lines[@]}"; do
		[[ $l == *"; 0 segments deleted, 0 records compacted, 0 segments compressed" ]] || { echo "$l"; false; }
	done
	echo "# 30 runs of es-compact within ${span} ms: $killed killed ($left leaving *.cleaned files), $finished finished first" >&3
	echo "# ${summary//$'\n'/; }" >&3
}

@test "kill -9 at every file system call of a small es-compact (strace): no corruption, nothing lost, the next run finishes" {
	run "$BATS_TEST_DIRNAME/tools/compact-crash.sh" "$BATS_TEST_TMPDIR/w"
	echo "# $output" >&3
	[[ $status == 0 ]]
}
