#!/bin/bash
# exec-crash.sh - kill es-consume -g --exec at every system call it makes
# from its first open of the group's commits file to its exit (strace -e
# inject=NAME:signal=KILL:when=N, for each NAME and N of a traced run), and
# check after each: the commits file reads without a complaint; no
# partition's commit is ahead of what its command was handed and took
# (exit 0); and a rerun hands on every record not yet committed, ending
# with everything committed and no temporary file left. Run by
# es-consume-group.bats (a plain script: bats' tracing of every command
# would triple its time).
#
# Usage: exec-crash.sh WORKDIR    (PATH with the es binaries)
# Prints "killed at each of N system calls: ..." and exits 0, or says what
# broke and exits 1.
set -u
d=$1
tools=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$d" && cd "$d" || exit 1
rm -rf t

es-topic create t -p 2 >/dev/null || exit 1
for p in 0 1; do
	for i in 1 2 3 4 5 6; do echo "$p-$i"; done | es-produce --sync none -p $p t || exit 1
done
# The command appends the batch to got; what it appended was handed on and
# taken (it exits 0 once the append is done).
cmd=(es-consume -g g --batch 2 --exec 'cat >>got' t)
restore() { rm -rf t/groups got; : >got; }

# "P OFFSET" per partition, and no complaint from es-consume's reading.
check_commits() { # WHERE
	local p off
	while read -r p off; do
		[[ $off == - ]] && continue
		# Every record below the commit was handed on and taken.
		for ((i = 1; i <= off; i++)); do
			grep -qx "$p-$i" got || { echo "$1: partition $p committed $off, but $p-$i was never taken"; return 1; }
		done
	done < <("$tools/grp-commit.sh" t g)
}

# The system calls of a whole run from its first open of the commits file.
restore
strace -o trace "${cmd[@]}" >/dev/null 2>&1 || { echo "traced run failed"; exit 1; }
[[ $("$tools/grp-commit.sh" t g | tr '\n' ' ') == "0 6 1 6 " ]] ||
	{ echo "traced run: $("$tools/grp-commit.sh" t g)"; exit 1; }
awk '
	/^\+\+\+|^---/ { next }
	{ name = $1; sub(/\(.*/, "", name); n[name]++ }
	/"commits"/ { on = 1 }
	on { print name, n[name] }
' trace >points
total=$(wc -l <points)
((total > 30)) || { echo "only $total system calls from the commits file on"; exit 1; }
exec 2>/dev/null # the shell's "Killed" notes

killed=0 survived=0 redelivered=0
while read -r name n; do
	restore
	strace -o /dev/null -e "inject=$name:signal=KILL:when=$n" "${cmd[@]}" >/dev/null
	st=$?
	if [[ $st != 137 ]]; then
		# The run took another path (the count differs): it finished.
		[[ $st == 0 ]] || { echo "$name #$n: exit $st without a kill"; exit 1; }
		survived=$((survived + 1))
	else
		killed=$((killed + 1))
	fi
	# A handler of the killed run may still be appending: wait for it
	# (it holds the partition's lock, as it inherited it).
	for ((w = 0; w < 50; w++)); do
		flock -n t/groups/g/0.lock true 2>/dev/null &&
			flock -n t/groups/g/1.lock true 2>/dev/null && break
		[[ -e t/groups/g/0.lock ]] || break
		sleep 0.1
	done
	check_commits "$name #$n" || exit 1
	out=$("${cmd[@]}" 2>&1 >/dev/null)
	st=$?
	[[ $st == 0 && -z $out ]] || { echo "$name #$n: the rerun exited $st: $out"; exit 1; }
	[[ $("$tools/grp-commit.sh" t g | tr '\n' ' ') == "0 6 1 6 " ]] ||
		{ echo "$name #$n: the rerun ended at $("$tools/grp-commit.sh" t g | tr '\n' ' ')"; exit 1; }
	for p in 0 1; do
		for i in 1 2 3 4 5 6; do
			grep -qx "$p-$i" got || { echo "$name #$n: $p-$i never handed on"; exit 1; }
		done
	done
	# A temporary commits file the kill left is gone after the rerun.
	! compgen -G 't/groups/g/commits.tmp.*' >/dev/null ||
		{ echo "$name #$n: left $(ls t/groups/g/commits.tmp.*)"; exit 1; }
	# Records handed on twice: at most a batch in flight per partition.
	dups=$(($(wc -l <got) - 12))
	((dups <= 4)) || { echo "$name #$n: $dups records twice"; exit 1; }
	((dups > 0)) && redelivered=$((redelivered + 1))
done <points
echo "killed at each of $total system calls from the commits file on: $killed killed, $survived not reached; $redelivered reruns handed a batch again; the commits file always read clean, never ahead"
