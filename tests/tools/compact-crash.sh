#!/bin/bash
# compact-crash.sh - kill es-compact at every system call that creates,
# writes, syncs, renames, removes or closes a file, once it holds the
# compaction lock (strace -e inject=NAME:signal=KILL:when=N, for each NAME
# and N of a traced run), on two small topics: ct (cleanup compact, zlib,
# an expired tombstone; closed segments that compact to nothing and
# others that are rewritten) and dt (cleanup delete, retention_bytes,
# zlib). After each kill: es-topic check finds no corruption; every record
# read is one of the records before, at its offset; every record the
# policy keeps is there; then the next es-compact exits 0, leaves no
# *.cleaned file, and the topics read exactly as after an uninterrupted
# run. Run by compact-crash.bats (a plain script: bats' tracing would
# triple its time).
#
# Usage: compact-crash.sh WORKDIR    (PATH with the es binaries)
# Prints "killed at each of N system calls: ..." and exits 0, or says what
# broke and exits 1.
set -u
d=$1
mkdir -p "$d" && cd "$d" || exit 1
rm -rf base run ref
mkdir base && cd base || exit 1
old=$(($(date +%s%N) / 1000000 - 2 * 86400000))
es-topic create ct --cleanup compact --compression zlib --segment-bytes 1KiB >/dev/null || exit 1
{
	awk 'BEGIN { for (i = 0; i < 60; i++) printf "{\"key\":\"k%d\",\"value\":\"v%d-padpadpadpad\"}\n", i % 13, i }'
	echo "{\"key\":\"gone\",\"value\":\"1\",\"timestamp\":$old}"
	echo "{\"key\":\"gone\",\"value\":null,\"timestamp\":$old}"
	awk 'BEGIN { for (i = 60; i < 75; i++) printf "{\"key\":\"k%d\",\"value\":\"v%d-padpadpadpad\"}\n", i % 13, i }'
} | es-produce -J ct || exit 1
es-topic create dt --retention-bytes 1500B --compression zlib --segment-bytes 512B >/dev/null || exit 1
seq 1 60 | sed 's/$/-padpadpadpad/' | es-produce dt || exit 1
cd .. || exit 1
cmd=(es-compact ct dt)

dump() { # TOPIC: "OFFSET KEY SIZE VALUE" lines, or fail
	es-consume -F '%o %k %S %s\n' "$1"
}
for t in ct dt; do dump "base/$t" >"$t.before" || exit 1; done
cp -a base ref
(cd ref && "${cmd[@]}" >/dev/null) || { echo "the uninterrupted run failed"; exit 1; }
for t in ct dt; do dump "ref/$t" >"$t.after" || exit 1; done
[[ $(wc -l <ct.after) -lt $(wc -l <ct.before) && $(wc -l <dt.after) -lt $(wc -l <dt.before) ]] ||
	{ echo "nothing to compact"; exit 1; }
grep -q ' gone ' ct.after && { echo "the expired tombstone stayed"; exit 1; }

# The system calls of a run, from the lock on: "NAME N" for the Nth NAME.
rm -rf run && cp -a base run
(cd run && strace -o ../trace "${cmd[@]}" >/dev/null 2>&1) || { echo "traced run failed"; exit 1; }
awk '
	/^\+\+\+|^---/ { next }
	{ name = $1; sub(/\(.*/, "", name); n[name]++ }
	/^flock\(/ { locked = 1 }
	locked && /O_CREAT/ { print name, n[name]; next }
	locked && name ~ /^(write|pwrite64|fsync|fdatasync|rename|renameat|renameat2|unlink|unlinkat|ftruncate|exit_group)$/ {
		print name, n[name]
	}
' trace >points
total=$(wc -l <points)
((total > 40)) || { echo "only $total system calls"; exit 1; }
exec 2>/dev/null # the shell's "Killed" notes

check() { # TOPIC: no corruption reported
	local out
	out=$(es-topic check "run/$1" 2>&1) || { echo "$where: es-topic check $1 exited $?: $out"; return 1; }
	[[ ${out##*$'\n'} == "run/$1: 1 partitions checked: 0 corrupt, "* ]] ||
		{ echo "$where: es-topic check $1: $out"; return 1; }
}

killed=0 cleaned=0
while read -r name n; do
	where="$name #$n"
	rm -rf run && cp -a base run
	(cd run && strace -o /dev/null -e "inject=$name:signal=KILL:when=$n" "${cmd[@]}" \
		>/dev/null 2>&1)
	st=$?
	[[ $st == 137 ]] && killed=$((killed + 1))
	[[ -n $(find run -name '*.cleaned') ]] && cleaned=$((cleaned + 1))
	for t in ct dt; do
		check "$t" || exit 1
		dump "run/$t" >"$t.now" 2>err || { echo "$where: es-consume $t failed: $(cat err)"; exit 1; }
		# Nothing but records from before, each at its offset...
		extra=$(sort "$t.now" | comm -23 - <(sort "$t.before"))
		[[ -z $extra ]] || { echo "$where: $t: records that were not there: $extra"; exit 1; }
		# ...and all that the policy keeps.
		lost=$(sort "$t.after" | comm -23 - <(sort "$t.now"))
		[[ -z $lost ]] || { echo "$where: $t: lost records the policy keeps: $lost"; exit 1; }
	done
	out=$(cd run && "${cmd[@]}" 2>&1 >/dev/null)
	st=$?
	[[ $st == 0 && -z $out ]] || { echo "$where: the next es-compact exited $st: $out"; exit 1; }
	[[ -z $(find run -name '*.cleaned') ]] || { echo "$where: *.cleaned left after the next run"; exit 1; }
	for t in ct dt; do
		check "$t" || exit 1
		dump "run/$t" | cmp -s - "$t.after" ||
			{ echo "$where: $t after the next run differs from an uninterrupted run"; exit 1; }
	done
done <points
echo "killed at each of $total file system calls from the lock on ($killed killed, $cleaned leaving *.cleaned files): each time no corruption, no record lost or changed, and the next run ended as an uninterrupted one"
