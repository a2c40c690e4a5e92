#!/usr/bin/env bats
# soak: consumer-group members under a SIGKILL loop (issue 4, item 6).
# 2 producers and 3 --exec members of one group for SOAK_SECONDS (30); every
# 2-4 s a random member is SIGKILLed and a new one started. Then the
# handlers' records are checked (tests/tools/soak-check.pl): every record
# processed at least once, never by two members at the same time, in order
# per partition, and again only when it was in a batch in flight at a kill.
bats_require_minimum_version 1.5.0
load helper

tools=$BATS_TEST_DIRNAME/tools

# Members die by SIGKILL on purpose (kill9, in helper.bash).
teardown() { es_teardown_quiet; }

# drained TOPIC GROUP: every partition's commit is at its end.
drained() {
	local ends commits
	ends=$(es-topic describe --json "$1" | jq -r '.partitions[] | .next_offset') || return 1
	commits=$("$tools/grp-commit.sh" "$1" "$2" | cut -d' ' -f2) || return 1
	[[ $ends == "$commits" ]]
}

no_handler_runs() { ! compgen -G 'logs/running.*' >/dev/null; }

# pick_victim PID...: the index of a random PID that owns a partition of
# the group (of any PID when none does).
pick_victim() {
	local owning=() i
	"$tools/grp-owners.sh" s soak >owners.now
	for ((i = 1; i <= $#; i++)); do
		grep -q " ${!i}\$" owners.now && owning+=($((i - 1)))
	done
	if ((${#owning[@]})); then
		echo "${owning[RANDOM % ${#owning[@]}]}"
	else
		echo $((RANDOM % $#))
	fi
}

start_member() {
	# SOAK_MEMBER names the member to its handlers (see soak-handler.sh).
	bg_start sh -c 'export SOAK_MEMBER=$$; exec es-consume -g soak -f -j 2 --batch 100 \
		-F "%p %o %k %s\n" --exec "exec $1 $2" s' sh "$tools/soak-handler.sh" \
		"$PWD/logs" >>members.out 2>>members.err
	members+=("$bg_pid")
	echo "START $bg_pid ${EPOCHREALTIME/./}" >>events
}

@test "soak: 2 producers, 3 --exec members, a SIGKILL every few seconds" {
	local secs=${SOAK_SECONDS:-30}
	make_topic s -p 8
	mkdir logs
	: >kills
	local members=() producers=() i
	for i in 1 2 3; do
		start_member
	done
	for i in 1 2; do
		bg_start sh -c "'$tools/soak-producer.sh' $i $secs 400 | tee in.$i |
			es-produce -K = --ack s >acks.$i 2>err.$i"
		producers+=("$bg_pid")
	done
	# The kill loop: its pace is the test's, not a condition to wait for.
	local end=$((${EPOCHREALTIME/./} + secs * 1000000)) victim k pause
	while :; do
		pause=$((2000000 + RANDOM % 2000 * 1000)) # 2-4 s, in us
		((${EPOCHREALTIME/./} + pause < end)) || break
		sleep "$((pause / 1000000)).$(printf %06d $((pause % 1000000)))"
		# A random member among those that own partitions (a member
		# with none has nothing in flight to lose).
		k=$(pick_victim "${members[@]}")
		victim=${members[k]}
		kill9 "$victim"
		echo "KILL $victim ${EPOCHREALTIME/./}" | tee -a events >>kills
		members=("${members[@]:0:k}" "${members[@]:k+1}")
		start_member
	done
	# The producers stop by themselves; then the members catch up, with
	# no more slow batches.
	for i in "${producers[@]}"; do
		wait_for 20 stopped "$i"
		bg_stop "$i" 0
		[[ $bg_status == 0 ]]
	done
	touch logs/fast
	[[ ! -s err.1 && ! -s err.2 ]]
	[[ $(wc -l <acks.1) == $(wc -l <in.1) && $(wc -l <acks.2) == $(wc -l <in.2) ]]
	wait_for 20 drained s soak
	for i in "${members[@]}"; do
		bg_stop "$i" TERM
		[[ $bg_status == 143 ]]
	done
	wait_for 10 no_handler_runs
	# (bash's "Killed" notices land there too: only es-consume's count)
	run_both grep '^es-consume' members.err
	expect 1 "" ""
	es-consume -F '%p %o %k %s\n' s >dump
	run_both "$tools/soak-check.pl" dump kills logs acks.1 acks.2
	echo "# $output" >&3
	local dups
	dups=$(sed -n 's/.* duplicates \([0-9]*\) .*/\1/p' <<<"$output")
	echo "# duplicates: $dups" >&3
	echo "# kills: $(wc -l <kills)" >&3
	expect 0 "$output" ""
	(($(wc -l <kills) >= secs / 5))
}
