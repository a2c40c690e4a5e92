#!/usr/bin/env bats
# concurrency.bats - many producers on one topic at once: every record
# exactly once, offsets dense, each producer's order kept inside a
# partition, a key always in one partition, a follower sees exactly what is
# in the topic, `es-topic check` clean. And producers racing to --create
# the same topic (SPEC.md section 2, es-produce: "Any number of producers
# may write one topic at once").

bats_require_minimum_version 1.5.0
load helper

setup_file() {
	build_gen_verify
}

# Is pid $1 asleep (blocked in a system call)?
sleeping() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	set -- ${stat##*) }
	[ "$1" = S ]
}

check_clean() {
	local out st=0
	out=$(es-topic check "$1" 2>&1) || st=$?
	[ "$st" -eq 0 ] && [[ $out == *": 4 partitions checked: 0 corrupt, 0 torn tail, 0 index" ]] ||
		{ echo "es-topic check $1: exit $st"; printf '%s\n' "$out"; return 1; }
}

# Four producers at once, 5,000 records each; $1 is gen's KEYS (0: none).
four_producers() {
	local keys=$1 d=$BATS_TEST_TMPDIR t=$BATS_TEST_TMPDIR/t
	local i pids=() cpid st kopt=
	[ "$keys" -eq 0 ] || kopt="-K :"
	es-topic create "$t" -p 4 --segment-bytes 16KiB

	bg_start es-consume -f -F '%p %o %s\n' "$t" > "$d/follow" 2> "$d/follow.err"
	cpid=$bg_pid
	wait_for 10 sleeping "$cpid"

	for i in 1 2 3 4; do
		# Bursts of 50 with pauses: many small commits that interleave.
		"$GEN" "p$i" 1 5000 50 1000 "$keys" 3>&- |
			es-produce --ack $kopt "$t" > "$d/acks.$i" 2> "$d/err.$i" 3>&- &
		pids+=($!)
	done
	for i in 1 2 3 4; do
		st=0
		wait "${pids[i - 1]}" || st=$?
		[ "$st" -eq 0 ] || { echo "producer $i: exit $st"; cat "$d/err.$i"; false; }
		[ ! -s "$d/err.$i" ]
		[ "$(wc -l < "$d/acks.$i")" -eq 5000 ]
	done

	# Every record exactly once where its ack says; offsets dense.
	es-consume -F '%p %o %s\n' "$t" > "$d/dump"
	[ "$(wc -l < "$d/dump")" -eq 20000 ]
	"$VERIFY" "$d/dump" "acks=$d/acks.1,p1,1" "acks=$d/acks.2,p2,1" \
		"acks=$d/acks.3,p3,1" "acks=$d/acks.4,p4,1"

	# Inside each partition, each producer's records in its input order;
	# each key in one partition only.
	es-consume -F '%p\t%o\t%k\t%s\n' "$t" | awk -F '\t' '
		{
			split($4, v, "-")
			if (($1, v[1]) in last && v[2] + 0 <= last[$1, v[1]]) {
				print "partition " $1 ": " $4 " at offset " $2 " after " v[1] "-" last[$1, v[1]]
				bad++
			}
			last[$1, v[1]] = v[2] + 0
			if ($3 != "") {
				if (($3 in part) && part[$3] != $1) {
					print "key " $3 " in partitions " part[$3] " and " $1
					bad++
				}
				part[$3] = $1
				keyed++
			}
		}
		END { print NR " records, " keyed + 0 " keyed"; exit bad > 0 }' > "$d/order" ||
		{ head -n 20 "$d/order"; false; }
	if [ "$keys" -eq 0 ]; then
		grep -qx '20000 records, 0 keyed' "$d/order"
	else
		grep -qx '20000 records, 20000 keyed' "$d/order"
	fi
	# Keyless records spread evenly: no partition is empty.
	[ "$(cut -d ' ' -f 1 "$d/dump" | sort -u | wc -l)" -eq 4 ]

	# The follower saw all of it, and nothing else.
	wait_for 20 lines_at_least 20000 "$d/follow"
	bg_stop "$cpid"
	[ "$bg_status" -eq 143 ]
	[ ! -s "$d/follow.err" ]
	"$VERIFY" "$d/follow" "$d/dump"
	[ "$(wc -l < "$d/follow")" -eq 20000 ]

	check_clean "$t"
}

@test "four producers at once, keyless: every record once, dense offsets, per-producer order, check clean" {
	four_producers 0
}

@test "four producers at once, keyed: the same, and each key in one partition" {
	four_producers 37
}

@test "two producers racing to --create the same new topic: both succeed, 20 times" {
	local d=$BATS_TEST_TMPDIR i st1 st2 p1 p2
	for i in $(seq 1 20); do
		st1=0 st2=0
		echo "a-$i" | es-produce --create --ack "$d/t$i" > "$d/acks.a" 2> "$d/err.a" 3>&- &
		p1=$!
		echo "b-$i" | es-produce --create --ack "$d/t$i" > "$d/acks.b" 2> "$d/err.b" 3>&- &
		p2=$!
		wait "$p1" || st1=$?
		wait "$p2" || st2=$?
		[ "$st1" -eq 0 ] && [ "$st2" -eq 0 ] ||
			{ echo "round $i: exit $st1 and $st2"; cat "$d/err.a" "$d/err.b"; false; }
		[ ! -s "$d/err.a" ] && [ ! -s "$d/err.b" ]
		es-consume -F '%p %o %s\n' "$d/t$i" > "$d/dump"
		"$VERIFY" "$d/dump"
		[ "$(wc -l < "$d/dump")" -eq 2 ]
		# Each where its ack says.
		grep -qx "$(tr '\t' ' ' < "$d/acks.a") a-$i" "$d/dump"
		grep -qx "$(tr '\t' ' ' < "$d/acks.b") b-$i" "$d/dump"
		run es-topic check "$d/t$i"
		[ "$status" -eq 0 ]
		[[ ${lines[-1]} == *": 1 partitions checked: 0 corrupt, 0 torn tail, 0 index" ]]
	done
}

@test "a producer killed between its write and its sync while another one idles: the other recovers before it writes, the topic stays clean" {
	make_topic t
	mkfifo in
	exec 5<>in # read-write: opening it does not wait for the other end
	# A: a long-lived producer that has published once and now waits.
	bg_start es-produce --ack t <in >acks 5>&-
	echo a1 >&5
	acked() { [[ $(wc -l <acks) -ge 1 ]]; }
	wait_for 10 acked
	# B: takes the lock, finds A's head, writes, and dies before its sync.
	seq -f 'b%03g-with-a-longer-value' 10 >b.in
	run strace -f -o /dev/null -e inject=fdatasync:signal=KILL:when=1 es-produce t <b.in
	[ "$status" -eq 137 ] || { echo "B: exit $status: $output"; false; }
	# A writes again: it must see that someone else held the lock.
	echo a2 >&5
	exec 5>&-
	wait "$bg_pid"
	run_both es-topic check t
	expect 0 "t: 1 partitions checked: 0 corrupt, 0 torn tail, 0 index" ""
	echo a3 | es-produce t
	run es-consume t
	[[ ${lines[0]} == a1 && ${lines[-2]} == a2 && ${lines[-1]} == a3 ]]
	# B's records that were written, never acknowledged, come whole or not at all.
	[[ $(grep -c '^b' <<<"$output") =~ ^(0|10)$ ]]
}
