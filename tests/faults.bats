#!/usr/bin/env bats
# faults.bats - I/O errors: a full disk, exhausted inodes, EIO on a sync,
# ENOSPC on a write, EFBIG, EIO on a read. es-produce exits 74 with a
# message naming the partition and the file, the reason, and the count of
# records made durable before it; exactly those records are in the topic
# (a failed flush is rolled back: nothing half-written, `es-topic check`
# finds nothing to report); and the next producer appends once the cause is
# gone (RELIABILITY.md rule 8; SPEC.md section 2, es-produce "Errors").

bats_require_minimum_version 1.5.0
load helper

setup_file() {
	build_gen_verify
}

FMT='%p %o %s\n'

# The one message a failed es-produce prints (cmd/es-produce.c, flush()).
# Sets P (partition), WHAT (the failed step and its subject), WHY (the
# reason), K (records durable before it).
parse_failure() {
	local re="^es-produce: partition ([0-9]+): (.*): ([^:;]+); ([0-9]+) records durable before it$"
	[ "$(wc -l < "$1")" -eq 1 ] && [[ $(cat "$1") =~ $re ]] ||
		{ echo "not the failure message:"; cat "$1"; return 1; }
	P=${BASH_REMATCH[1]} WHAT=${BASH_REMATCH[2]} WHY=${BASH_REMATCH[3]} K=${BASH_REMATCH[4]}
}

# After a failed run: the count in the message is the number of acks, the
# topic holds exactly the acknowledged records, and check is clean.
#   $1 topic, $2 ack file, $3 value prefix
after_failure() {
	local n
	n=$(wc -l < "$2")
	[ "$K" -eq "$n" ] || { echo "message says $K durable, $n acknowledged"; return 1; }
	es-consume -F "$FMT" "$1" > "$BATS_TEST_TMPDIR/dump"
	"$VERIFY" "$BATS_TEST_TMPDIR/dump" "acks=$2,$3,1"
	n=$(wc -l < "$BATS_TEST_TMPDIR/dump")
	[ "$n" -eq "$K" ] || { echo "$n records in the topic, $K durable: a failed flush left records"; return 1; }
	check_clean "$1"
}

# es-topic check: exit 0, nothing to report.
check_clean() {
	local out st=0
	out=$(es-topic check "$1" 2>&1) || st=$?
	[ "$st" -eq 0 ] && [[ $out == *": "*" partitions checked: 0 corrupt, 0 torn tail, 0 index" ]] ||
		{ echo "es-topic check $1: exit $st"; printf '%s\n' "$out"; return 1; }
}

# The next producer appends, and nothing before is lost.
#   $1 topic, $2 the earlier ack file, $3 its value prefix
next_produce() {
	local d=$BATS_TEST_TMPDIR
	"$GEN" next 1 50 50 0 | es-produce --ack "$1" > "$d/acks.next" ||
		{ echo "next produce: exit $?"; return 1; }
	[ "$(wc -l < "$d/acks.next")" -eq 50 ]
	es-consume -F "$FMT" "$1" > "$d/dump"
	"$VERIFY" "$d/dump" "acks=$2,$3,1" "acks=$d/acks.next,next,1"
	check_clean "$1"
}

need_root() {
	[ "$(id -u)" -eq 0 ] || skip "needs root (unshare -m, mount -t tmpfs)"
}

need_strace() {
	command -v strace > /dev/null || skip "needs strace"
}

# The file that strace's first injected fault hit (from -y output), or "".
injected() {
	grep -m1 INJECTED "$1" | grep -o '<[^>]*>' | head -n 1 | tr -d '<>' || true
}

@test "disk full (256k tmpfs): exit 74 naming partition, segment, ENOSPC, durable count; room again, next produce appends" {
	local d=$BATS_TEST_TMPDIR
	need_root
	# Inside a mount namespace of its own; results go to $d, outside it.
	run "$TOOLS/in-tmpfs.sh" 256k "$d/mnt" bash -c '
		set -e
		d=$1 t=$1/mnt/t
		es-topic create "$t" -p 2 --segment-bytes 16KiB
		head -c 64K /dev/zero > "$d/mnt/filler"
		st=0
		"$GEN" r 1 20000 200 2000 | es-produce --ack "$t" > "$d/acks" 2> "$d/err" || st=$?
		echo "$st" > "$d/status"
		df -k "$d/mnt" | tail -n 1 > "$d/df"
		es-consume -F "%p %o %s\n" "$t" > "$d/dump"
		es-topic check "$t" > "$d/check" 2>&1 || echo "check exit $?" >> "$d/check"
		# Room again: the next producer appends.
		rm "$d/mnt/filler"
		"$GEN" next 1 50 50 0 | es-produce --ack "$t" > "$d/acks.next" 2> "$d/err.next" ||
			echo "next exit $?" >> "$d/err.next"
		es-consume -F "%p %o %s\n" "$t" > "$d/dump.next"
		es-topic check "$t" > "$d/check.next" 2>&1 || echo "check exit $?" >> "$d/check.next"
	' sh "$d"
	printf '%s\n' "$output"
	[ "$status" -eq 0 ]
	[ "$(cat "$d/status")" -eq 74 ]
	parse_failure "$d/err"
	[[ $WHAT =~ ^cannot\ write\ segment\ \'[0-9]{20}\.log\'$ ]]
	[ "$WHY" = "No space left on device" ]
	[ "$P" -lt 2 ]
	[ "$K" -gt 0 ] # some batches made it before the disk filled
	[ "$K" -eq "$(wc -l < "$d/acks")" ]
	"$VERIFY" "$d/dump" "acks=$d/acks,r,1"
	[ "$(wc -l < "$d/dump")" -eq "$K" ]
	grep -q ' partitions checked: 0 corrupt, 0 torn tail, 0 index$' "$d/check"
	[ ! -s "$d/err.next" ]
	[ "$(wc -l < "$d/acks.next")" -eq 50 ]
	"$VERIFY" "$d/dump.next" "acks=$d/acks,r,1" "acks=$d/acks.next,next,1"
	grep -q ' partitions checked: 0 corrupt, 0 torn tail, 0 index$' "$d/check.next"
	echo "# disk full after $K durable records: $(cat "$d/err")" >&3
}

@test "inodes exhausted at a segment roll: exit 74 naming the segment; more inodes, next produce appends" {
	local d=$BATS_TEST_TMPDIR
	need_root
	run unshare -m --propagation private bash -c '
		set -e
		d=$1 t=$1/mnt/t
		mkdir -p "$d/mnt"
		mount -t tmpfs -o size=4m,nr_inodes=40 es-test "$d/mnt"
		es-topic create "$t" -p 2 --segment-bytes 1KiB
		st=0
		"$GEN" r 1 5000 20 2000 | es-produce --ack "$t" > "$d/acks" 2> "$d/err" || st=$?
		echo "$st" > "$d/status"
		es-consume -F "%p %o %s\n" "$t" > "$d/dump"
		es-topic check "$t" > "$d/check" 2>&1 || echo "check exit $?" >> "$d/check"
		mount -o remount,nr_inodes=4000 "$d/mnt"
		"$GEN" next 1 50 50 0 | es-produce --ack "$t" > "$d/acks.next" 2> "$d/err.next" ||
			echo "next exit $?" >> "$d/err.next"
		es-consume -F "%p %o %s\n" "$t" > "$d/dump.next"
		es-topic check "$t" > "$d/check.next" 2>&1 || echo "check exit $?" >> "$d/check.next"
	' sh "$d"
	printf '%s\n' "$output"
	[ "$status" -eq 0 ]
	[ "$(cat "$d/status")" -eq 74 ]
	parse_failure "$d/err"
	[[ $WHAT =~ ^cannot\ open\ segment\ \'[0-9]{20}\.(log|index)\'$ ]]
	[ "$WHY" = "No space left on device" ]
	[ "$K" -gt 0 ]
	[ "$K" -eq "$(wc -l < "$d/acks")" ]
	"$VERIFY" "$d/dump" "acks=$d/acks,r,1"
	[ "$(wc -l < "$d/dump")" -eq "$K" ]
	grep -q ' partitions checked: 0 corrupt, 0 torn tail, 0 index$' "$d/check"
	[ ! -s "$d/err.next" ]
	"$VERIFY" "$d/dump.next" "acks=$d/acks,r,1" "acks=$d/acks.next,next,1"
	grep -q ' partitions checked: 0 corrupt, 0 torn tail, 0 index$' "$d/check.next"
	echo "# inodes out after $K durable records: $(cat "$d/err")" >&3
}

# Run a paced produce of 300 records (2 partitions, 1 KiB segments: a roll
# every 25 records) under strace, failing the Nth call of $1 with $2.
# Leaves: $d/t, $d/acks, $d/err, $d/trace; sets ST and FILE (what the fault
# hit, "" if the run made fewer calls).
produce_with_fault() {
	local d=$BATS_TEST_TMPDIR sc=$1 errno=$2 n=$3
	need_strace
	rm -rf "$d/t"
	es-topic create "$d/t" -p 2 --segment-bytes 1KiB
	ST=0
	"$GEN" r 1 300 50 3000 |
		strace -f -qq -y -o "$d/trace" -e trace="$sc" -e inject="$sc:error=$errno:when=$n" \
			es-produce --ack "$d/t" > "$d/acks" 2> "$d/err" || ST=$?
	FILE=$(injected "$d/trace")
}

# failed_on_file SEGMENT_WHAT WHY, after produce_with_fault hit FILE (a
# segment or an index) on run N: exit 74; the message names the partition
# and the file ("SEGMENT_WHAT 'NAME'", or "cannot write index 'NAME'") and
# WHY; the run was rolled back, and the next producer appends.
failed_on_file() {
	local d=$BATS_TEST_TMPDIR
	[ "$ST" -eq 74 ] || { echo "N=$n ($FILE): exit $ST"; cat "$d/err"; return 1; }
	parse_failure "$d/err"
	case $FILE in
	*.log) [ "$WHAT" = "$1 '${FILE##*/}'" ] ;;
	*.index) [ "$WHAT" = "cannot write index '${FILE##*/}'" ] ;;
	esac || { echo "N=$n: $WHAT, fault on $FILE"; return 1; }
	[ "$P" = "$(basename "$(dirname "$FILE")")" ] || return 1
	[ "$WHY" = "$2" ] || return 1
	after_failure "$d/t" "$d/acks" r || return 1
	next_produce "$d/t" "$d/acks" r
}

@test "EIO on a segment's or index's fdatasync (strace inject, at every sync of a run): exit 74, rolled back, next appends" {
	local d=$BATS_TEST_TMPDIR n hits=0 idx=0
	for n in $(seq 1 16); do
		produce_with_fault fdatasync EIO "$n"
		case $FILE in
		"")
			[ "$ST" -eq 0 ] # fewer syncs this time: no fault, no failure
			continue ;;
		*.log | *.index) ;; # (a closed segment's index, at a roll)
		*) echo "fault on $FILE?"; false ;;
		esac
		hits=$((hits + 1))
		[ "${FILE%.index}" = "$FILE" ] || idx=$((idx + 1))
		failed_on_file "cannot sync segment" "Input/output error"
	done
	[ "$hits" -ge 4 ] && [ "$idx" -ge 1 ]
	echo "# $hits faults, $idx on an index" >&3
}

@test "ENOSPC on a segment or index pwrite (strace inject, at every write of a run): exit 74, rolled back, next appends" {
	local d=$BATS_TEST_TMPDIR n hits=0 idx=0 idx_ok=0
	for n in $(seq 1 24); do
		produce_with_fault pwrite64 ENOSPC "$n"
		case $FILE in
		"")
			[ "$ST" -eq 0 ]
			continue ;;
		*.index)
			# The active segment's index, at a publish, is derived
			# data that the next writer rebuilds: the run goes on.
			# A closed segment's, at a roll, stops it.
			if [ "$ST" -eq 0 ]; then
				idx_ok=$((idx_ok + 1))
				[ ! -s "$d/err" ] && [ "$(wc -l < "$d/acks")" -eq 300 ]
				next_produce "$d/t" "$d/acks" r
				continue
			fi ;;
		*/head)
			continue ;; # heads: a separate test
		*.log) ;;
		*) echo "fault on $FILE?"; false ;;
		esac
		hits=$((hits + 1))
		[ "${FILE%.index}" = "$FILE" ] || idx=$((idx + 1))
		failed_on_file "cannot write segment" "No space left on device"
	done
	[ "$hits" -ge 4 ]
	echo "# $hits failed runs, $idx on an index at a roll; $idx_ok index faults at a publish went on" >&3
}

@test "EFBIG (ulimit -f 256): exit 74 and a message, not a SIGXFSZ death; next produce appends" {
	local d=$BATS_TEST_TMPDIR st=0
	es-topic create "$d/t" -p 1
	# 20,000 records (800 KB), paced, so that the first batches fit under
	# the limit of 256 KiB.
	(
		ulimit -f 256
		"$GEN" r 1 20000 100 2000 | es-produce --ack "$d/t" > "$d/acks" 2> "$d/err"
	) || st=$?
	[ "$st" -eq 74 ] || { echo "exit $st"; cat "$d/err"; false; }
	parse_failure "$d/err"
	[ "$WHAT" = "cannot write segment '00000000000000000000.log'" ]
	[ "$P" -eq 0 ]
	[ "$WHY" = "File too large" ]
	[ "$K" -gt 0 ]
	after_failure "$d/t" "$d/acks" r
	next_produce "$d/t" "$d/acks" r
}

@test "es-consume: EIO reading the head or a segment (strace inject on pread64): exit 74 naming the partition, records before it written" {
	local d=$BATS_TEST_TMPDIR n st file hits=0
	need_strace
	es-topic create "$d/t" -p 2 --segment-bytes 1KiB
	"$GEN" r 1 200 200 0 | es-produce "$d/t"
	es-consume -F "$FMT" "$d/t" > "$d/full"
	[ "$(wc -l < "$d/full")" -eq 200 ]
	for n in $(seq 1 30); do
		st=0
		strace -f -qq -y -o "$d/trace" -e trace=pread64 -e inject=pread64:error=EIO:when=$n \
			es-consume -F "$FMT" "$d/t" > "$d/out" 2> "$d/err" || st=$?
		file=$(injected "$d/trace")
		case $file in
		"" | *.index)
			# No fault, or on an index (derived data: a read falls back
			# to a scan): the whole topic.
			[ "$st" -eq 0 ] && cmp -s "$d/out" "$d/full" ||
				{ echo "N=$n ($file): exit $st"; cat "$d/err"; false; }
			continue ;;
		/usr/* | /lib*)
			continue ;; # the dynamic loader reading libc
		*/head | *.log) ;;
		*) echo "fault on $file?"; false ;;
		esac
		# A segment read during a seek's index check may fail and fall
		# back to the start of the segment; a read of records may not.
		if [ "$st" -eq 0 ] && cmp -s "$d/out" "$d/full"; then
			continue
		fi
		hits=$((hits + 1))
		[ "$st" -eq 74 ] || { echo "N=$n ($file): exit $st"; cat "$d/err"; false; }
		local p
		p=$(basename "$(dirname "$file")")
		[ "$(wc -l < "$d/err")" -eq 1 ]
		[[ $(cat "$d/err") =~ ^es-consume:\ partition\ $p:\ (cannot\ read\ segment\ \'${file##*/}\'|cannot\ read\ the\ head|bad\ head\ file):\ Input/output\ error$ ]] ||
			{ echo "N=$n ($file):"; cat "$d/err"; false; }
		# What came out before the error is whole records, in order.
		"$VERIFY" "$d/out"
		"$VERIFY" "$d/full" "$d/out"
	done
	[ "$hits" -ge 6 ]
}

@test "EIO on the directory sync at a segment roll: exit 74, the message names the sync, rolled back" {
	local d=$BATS_TEST_TMPDIR n hits=0
	for n in $(seq 1 6); do
		produce_with_fault fsync EIO "$n"
		[ -n "$FILE" ] || { [ "$ST" -eq 0 ]; continue; }
		[ -d "$FILE" ] || { echo "fault on $FILE?"; false; }
		hits=$((hits + 1))
		[ "$ST" -eq 74 ] || { echo "N=$n ($FILE): exit $ST"; cat "$d/err"; false; }
		parse_failure "$d/err"
		[ "$P" = "$(basename "$FILE")" ]
		[ "$WHY" = "Input/output error" ]
		# The step that failed is the sync, not an open.
		[[ $WHAT == "cannot sync "* ]] || { echo "N=$n: fault on fsync of $FILE, message: $(cat "$d/err")"; false; }
		after_failure "$d/t" "$d/acks" r
		next_produce "$d/t" "$d/acks" r
	done
	[ "$hits" -ge 2 ]
}

@test "EMFILE at every open of a run: a message with the reason after ': ', never 'no topic' for a topic that exists" {
	local d=$BATS_TEST_TMPDIR n msg
	for n in $(seq 1 30); do
		produce_with_fault openat EMFILE "$n"
		[ -n "$FILE" ] || { [ "$ST" -eq 0 ]; continue; }
		case $FILE in /usr/* | /lib*) continue ;; esac # the dynamic loader
		[ "$ST" -eq 74 ] || [ "$ST" -eq 1 ] || { echo "N=$n: exit $ST"; cat "$d/err"; false; }
		[ "$(wc -l < "$d/err")" -eq 1 ]
		msg=$(cat "$d/err")
		[[ $msg =~ ^es-produce:\ .+:\ Too\ many\ open\ files(\;\ [0-9]+\ records\ durable\ before\ it)?$ ]] ||
			{ echo "N=$n: $msg"; false; }
		[[ $msg != *"no topic"* ]] || { echo "N=$n: $msg"; false; }
		es-consume -F "$FMT" "$d/t" > "$d/dump"
		"$VERIFY" "$d/dump" "acks=$d/acks,r,1"
		[ "$(wc -l < "$d/dump")" -eq "$(wc -l < "$d/acks")" ]
		check_clean "$d/t"
		next_produce "$d/t" "$d/acks" r
	done
}

# One flush over both partitions of a topic (input from a file: one batch),
# with ENOSPC on the Nth pwrite; FILE is what it hit. $1: segment_bytes.
one_flush_with_fault() {
	local d=$BATS_TEST_TMPDIR
	rm -rf "$d/t"
	es-topic create "$d/t" -p 2 --segment-bytes "$1"
	"$GEN" warm 1 1 1 0 | es-produce --ack "$d/t" > "$d/acks.warm"
	"$GEN" r 1 60 60 0 > "$d/in"
	ST=0
	strace -f -qq -y -o "$d/trace" -e trace=pwrite64 -e inject="pwrite64:error=ENOSPC:when=$2" \
		es-produce --ack "$d/t" < "$d/in" > "$d/acks" 2> "$d/err" || ST=$?
	FILE=$(injected "$d/trace")
}

@test "ENOSPC publishing a partition's head after another partition's: exit 74, nothing seen is withdrawn, acked records stay, next appends" {
	local d=$BATS_TEST_TMPDIR n seg hits=0
	need_strace
	# With a roll in the flush (1 KiB segments) and without (100 KiB).
	for seg in 1KiB 100KiB; do
		for n in $(seq 1 12); do
			one_flush_with_fault "$seg" "$n"
			[ "$FILE" = "$d/t/1/head" ] || continue
			# Only the head written after partition 0's counts (the
			# first two heads are rewritten when the run locks).
			grep -q "$d/t/0/head" <(grep -B100 INJECTED "$d/trace" | tail -n +3) || continue
			hits=$((hits + 1))
			[ "$ST" -eq 74 ] || { echo "$seg N=$n: exit $ST"; cat "$d/err"; false; }
			parse_failure "$d/err"
			[ "$P" -eq 1 ] && [ "$WHAT" = "cannot publish the head" ] &&
				[ "$WHY" = "No space left on device" ]
			# The count is what was acknowledged (all of the flush, or
			# none of it), and what readers see now never goes away.
			[ "$K" -eq "$(wc -l < "$d/acks")" ]
			[ "$K" -eq 0 ] || [ "$K" -eq 60 ]
			es-consume -F "$FMT" "$d/t" > "$d/seen"
			"$VERIFY" "$d/seen" "acks=$d/acks.warm,warm,1"
			check_clean "$d/t" || { echo "$seg N=$n"; false; }
			# Keyless records go round-robin: both partitions.
			"$GEN" again 1 10 10 0 | es-produce --ack "$d/t" > "$d/acks.next" 2> "$d/err.next" ||
				{ echo "$seg N=$n: next produce:"; cat "$d/err.next"; false; }
			es-consume -F "$FMT" "$d/t" > "$d/dump"
			"$VERIFY" "$d/dump" "acks=$d/acks.warm,warm,1" "acks=$d/acks,r,1" \
				"acks=$d/acks.next,again,1" "$d/seen"
			check_clean "$d/t" || { echo "$seg N=$n, after the next produce"; false; }
		done
	done
	[ "$hits" -eq 2 ]
}

@test "EIO syncing the directory at a roll inside a flush: what the flush wrote before the roll goes too, so a retry adds nothing twice" {
	local d=$BATS_TEST_TMPDIR
	make_topic "$d/t" --segment-bytes 200
	seq -f 'old%03g-xxxxxxxxxxxxxxxxxxxxxxxx' 3 | es-produce "$d/t"
	seq -f 'new%03g-xxxxxxxxxxxxxxxxxxxxxxxx' 6 >"$d/in"
	# The producer's syncs run in its worker thread: -f.
	run strace -f -o /dev/null -e inject=fsync:error=EIO:when=1 es-produce "$d/t" <"$d/in"
	[ "$status" -eq 74 ] || { echo "exit $status: $output"; false; }
	[[ $output == *"cannot sync the directory after creating segment"*"0 records durable before it" ]]
	es-produce "$d/t" <"$d/in"
	run_both es-consume "$d/t"
	expect 0 "$(seq -f 'old%03g-xxxxxxxxxxxxxxxxxxxxxxxx' 3; cat "$d/in")" ""
	check_clean "$d/t"
}
