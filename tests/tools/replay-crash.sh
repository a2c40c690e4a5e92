#!/bin/bash
# replay-crash.sh - kill es-replay --execute at every system call it makes
# from the moment it starts writing its plan file (before that it only
# reads) to its exit (strace -e inject=NAME:signal=KILL:when=N, for each
# NAME and each N of a traced run), and check after each:
# the offsets are the old ones, the planned ones, or a plan is on disk; and
# the same command run again (when the work was not already done) ends at
# the planned offsets, --shift not applied twice. Run by es-replay.bats (a
# plain script: bats' tracing of every command would triple its time).
#
# Usage: replay-crash.sh WORKDIR    (PATH with the es binaries)
# Prints "killed at each of N system calls: ..." and exits 0, or says what
# broke and exits 1.
set -u
d=$1
mkdir -p "$d" && cd "$d" || exit 1
rm -rf t saved

es-topic create t -p 2 >/dev/null || exit 1
for p in 0 1; do seq 1 10 | es-produce --sync none -p $p t || exit 1; done
es-consume -g g t >/dev/null || exit 1
cp -a t/groups/g saved
cmd=(es-replay -g g --shift -3 --execute t)

committed() { # the offsets, as a plan reads them
	es-replay -g g -J t 2>/dev/null | jq -r '[.partitions[].committed_now] | join(" ")'
}
restore() { rm -rf t/groups/g && cp -a saved t/groups/g; }
old=$(committed)
want="7 7"

# The system calls of a whole run, and which of them come once it starts
# writing the plan: "NAME N" for the Nth call of NAME.
restore
strace -o trace "${cmd[@]}" >/dev/null 2>&1 || { echo "traced run failed"; exit 1; }
[[ $(committed) == "$want" ]] || { echo "traced run: $(committed)"; exit 1; }
awk '
	/^\+\+\+|^---/ { next }
	{ name = $1; sub(/\(.*/, "", name); n[name]++ }
	/replay\.plan\.tmp/ { locked = 1 }
	locked { print name, n[name] }
' trace >points
total=$(wc -l <points)
((total > 30)) || { echo "only $total system calls after the plan"; exit 1; }
exec 2>/dev/null # the shell's "Killed" notes

mid=0 before=0 after=0 survived=0
while read -r name n; do
	restore
	strace -o /dev/null -e "inject=$name:signal=KILL:when=$n" "${cmd[@]}" \
		>/dev/null 2>&1
	st=$?
	now=$(committed)
	if [[ $st != 137 ]]; then
		# The run took another path (the count differs): it finished.
		[[ $st == 0 && $now == "$want" ]] ||
			{ echo "$name #$n: exit $st without a kill, offsets $now"; exit 1; }
		survived=$((survived + 1))
		continue
	fi
	if [[ -e t/groups/g/replay.plan ]]; then
		mid=$((mid + 1))
	elif [[ $now == "$want" ]]; then
		after=$((after + 1)) # done: nothing to run again
		continue
	elif [[ $now == "$old" ]]; then
		before=$((before + 1))
	else
		echo "$name #$n: offsets half moved ($now) and no plan on disk"
		exit 1
	fi
	out=$("${cmd[@]}" 2>&1 >/dev/null)
	st=$?
	[[ $st == 0 ]] || { echo "$name #$n: the rerun exited $st: $out"; exit 1; }
	[[ $(committed) == "$want" ]] ||
		{ echo "$name #$n: the rerun ended at $(committed), not $want"; exit 1; }
	[[ ! -e t/groups/g/replay.plan ]] ||
		{ echo "$name #$n: the rerun left replay.plan"; exit 1; }
done <points
echo "killed at each of $total system calls from the plan file on: $before before the plan was on disk, $mid with the plan half applied, $after after it was removed, $survived not reached"
