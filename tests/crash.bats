#!/usr/bin/env bats
# crash.bats - kill -9 of es-produce, at random times and at every file
# system call of a small run: every acknowledged record survives at its
# partition and offset, offsets stay dense, a follower never sees a record
# that the crash took away, `es-topic check` finds no corruption (a torn
# tail is allowed, and reported), and the next producer appends
# (RELIABILITY.md rules 1, 6, 9; SPEC.md section 5, "After a kill -9").
#
# A kill -9 loses no page cache: these tests prove recovery from torn
# application writes, not from power loss.
#
# Tools (the C ones built into $BATS_FILE_TMPDIR by setup_file):
#   tests/tools/gen.c      paced generator of unique "PREFIX-N" lines
#   tests/tools/killat.c   LD_PRELOAD shim: SIGKILL at the Nth I/O call
#   tests/tools/verify.c   a dump vs. what must be in it; dense offsets
#   tests/tools/crash-every-call.sh  the crash-at-every-call loop
#   tests/tools/in-tmpfs.sh          run a command on a private tmpfs

bats_require_minimum_version 1.5.0
load helper

setup_file() {
	build_gen_verify
	export KILLAT="$BATS_FILE_TMPDIR/killat.so"
	gcc -shared -fPIC -O2 -D_GNU_SOURCE -o "$KILLAT" "$TOOLS/killat.c" -ldl
}

FMT='%p %o %s\n'

# Like the helper's wait_for, polling every 5 ms: the loops below wait a
# hundred times for things that take a few ms.
wait_fast() {
	local secs=$1 deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		if [ "$SECONDS" -gt "$deadline" ]; then
			echo "timed out after $secs s: $*"
			return 1
		fi
		sleep 0.005
	done
}

# SIGTERM to pid $1 and wait (bounded) for it; its status in ST.
term_and_wait() {
	kill -TERM "$1"
	wait_fast 10 gone "$1" || kill -KILL "$1"
	ST=0
	wait "$1" || ST=$?
}

# A producer's process group that the test failed to kill goes too.
teardown() {
	[ -z "${PGROUP:-}" ] || kill -KILL -- "-$PGROUP" 2> /dev/null || true
	es_teardown
}

# Is pid $1 the leader of its own process group?
group_leader() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	set -- "$1" ${stat##*) }
	[ "$4" = "$1" ]
}

# Has pid $1 exited (a zombie has)?
gone() {
	local stat
	stat=$(cat "/proc/$1/stat" 2> /dev/null) || return 0
	set -- ${stat##*) }
	[ "$1" = Z ]
}

# Is pid $1 asleep (blocked in a system call)?
sleeping() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	set -- ${stat##*) }
	[ "$1" = S ]
}

# es-topic check TOPIC: exit 0, no corruption (torn tails and index
# repairs are normal after a kill -9). Sets TORN to the torn-tail count.
check_topic() {
	local out st=0
	out=$(es-topic check "$1" 2>&1) || st=$?
	if [ "$st" -ne 0 ] || ! [[ ${out##*$'\n'} =~ \ partitions\ checked:\ 0\ corrupt,\ ([0-9]+)\ torn\ tail, ]]; then
		echo "es-topic check $1: exit $st"
		printf '%s\n' "$out"
		return 1
	fi
	TORN=${BASH_REMATCH[1]}
}

# The whole topic as "P O VALUE" lines, into file $2.
dump() {
	es-consume -F "$FMT" "$1" > "$2" || {
		echo "es-consume $1: exit $?"
		return 1
	}
}

@test "kill -9 of es-produce --ack at random times, 50 runs on one topic" {
	local d=$BATS_TEST_TMPDIR t=$BATS_TEST_TMPDIR/t
	local i delay pace sync cpid st torn_runs=0 acks=()
	es-topic create "$t" -p 3 --segment-bytes 4KiB
	: > "$d/prev"
	for i in $(seq 1 50); do
		RANDOM=$i
		delay=$((5 + RANDOM % 496))
		# Vary the load: small steady batches, big batches that cross
		# segment rolls, and a trickle of single records.
		case $((i % 3)) in
		0) pace="20 5000" ;;
		1) pace="100 20000" ;;
		2) pace="1 1000" ;;
		esac
		sync=batch
		[ $((i % 4)) -ne 0 ] || sync=always

		# A follower that has caught up and sleeps in its wait.
		bg_start es-consume -f -F "$FMT" "$t" > "$d/cons" 2> "$d/cons.err"
		cpid=$bg_pid
		wait_fast 20 sleeping "$cpid"

		# The producer and its generator in their own process group.
		bg_start setsid sh -c 'exec "$1" "$2" 1 0 $3 | exec es-produce --ack --sync "$4" "$5"' \
			sh "$GEN" "it$i" "$pace" "$sync" "$t" > "$d/acks.$i" 2> "$d/prod.err"
		PGROUP=$bg_pid
		wait_fast 5 group_leader "$PGROUP"
		sleep "$((delay / 1000)).$(printf '%03d' $((delay % 1000)))"
		kill -KILL -- "-$PGROUP"
		st=0
		{ wait "$PGROUP" || st=$?; } 2> /dev/null # (no "Killed" notice)
		PGROUP=
		[ "$st" -eq 137 ] || { echo "run $i: producer exit $st, not killed"; cat "$d/prod.err"; false; }
		[ ! -s "$d/prod.err" ] || { echo "run $i: producer said:"; cat "$d/prod.err"; false; }

		term_and_wait "$cpid"
		[ "$ST" -eq 143 ] || { echo "run $i: follower exit $ST, not SIGTERM"; cat "$d/cons.err"; false; }
		[ ! -s "$d/cons.err" ] || { echo "run $i: follower said:"; cat "$d/cons.err"; false; }

		check_topic "$t" || { echo "after run $i"; false; }
		[ "$TORN" -eq 0 ] || torn_runs=$((torn_runs + 1))
		dump "$t" "$d/dump"
		# Every record ever acknowledged, everything an earlier dump
		# showed, everything the follower printed: all still there.
		acks+=("acks=$d/acks.$i,it$i,1")
		"$VERIFY" "$d/dump" "${acks[@]}" "$d/prev" "$d/cons" ||
			{ echo "run $i (delay ${delay} ms, pace $pace, sync $sync) failed"; false; }
		mv "$d/dump" "$d/prev"
	done
	local n
	n=$(cat "$d"/acks.* | wc -l)
	[ "$n" -gt 1000 ] # the experiment did write something

	# The next producer recovers whatever the last kill left, and appends.
	"$GEN" final 1 300 300 0 | es-produce --ack "$t" > "$d/acks.final"
	dump "$t" "$d/dump"
	"$VERIFY" "$d/dump" "${acks[@]}" "acks=$d/acks.final,final,1" "$d/prev"
	check_topic "$t"
	[ "$TORN" -eq 0 ]
	echo "# $n records acknowledged across 50 kills; $torn_runs left a torn tail" >&3
}

# A base topic: 2 partitions, segments of 300 bytes (a roll every few
# records), 10 records in it.
make_base() {
	local d=$BATS_TEST_TMPDIR
	es-topic create "$d/base" -p 2 --segment-bytes 300
	"$GEN" base 1 10 10 0 | es-produce --ack "$d/base" > "$d/base.acks"
}

# tools/crash-every-call.sh HOW BASE MUST..., on a private tmpfs: a kill -9
# loses no page cache, so syncs add nothing to these runs but time.
crash_every_call() {
	local how=$1 base=$2 work=$BATS_TEST_TMPDIR/work
	shift 2
	[ "$(id -u)" -eq 0 ] || skip "needs root (unshare -m, mount -t tmpfs)"
	[ "${how%%:*}" != strace ] || command -v strace > /dev/null || skip "needs strace"
	run "$TOOLS/in-tmpfs.sh" 64m "$work" "$TOOLS/crash-every-call.sh" "$how" "$base" "$work/x" "$@"
	printf '%s\n' "$output"
	[ "$status" -eq 0 ]
	echo "# $output" >&3
}

@test "crash at every file-system call of a small es-produce run (LD_PRELOAD shim)" {
	make_base
	crash_every_call shim "$BATS_TEST_TMPDIR/base" "acks=$BATS_TEST_TMPDIR/base.acks,base,1"
}

@test "crash at every write, sync, open, rename, truncate, unlink, lock (strace inject)" {
	make_base
	local s
	for s in pwrite64 fdatasync fsync openat renameat ftruncate unlinkat write flock; do
		crash_every_call "strace:$s" "$BATS_TEST_TMPDIR/base" \
			"acks=$BATS_TEST_TMPDIR/base.acks,base,1"
	done
}

@test "crash during recovery: at every call of a run that starts on a crashed topic" {
	# A topic whose last writer died after writing records it never
	# published, with a torn tail after them.
	local d=$BATS_TEST_TMPDIR n size0 size
	make_base
	"$GEN" x 1 20 20 0 > "$d/in"
	size0=$(cat "$d"/base/*/*.log | wc -c)
	for n in $(seq 1 200); do
		rm -rf "$d/crashed" && cp -R "$d/base" "$d/crashed"
		{ KILLAT_N=$n LD_PRELOAD="$KILLAT" es-produce --ack "$d/crashed" \
			< "$d/in" > "$d/acks" 2> /dev/null || true; } 2> /dev/null
		size=$(cat "$d"/crashed/*/*.log | wc -c)
		dump "$d/crashed" "$d/dump"
		# Bytes on disk that no reader can see yet.
		[ "$size" -gt "$size0" ] && [ "$(wc -l < "$d/dump")" -eq 10 ] && break
	done
	[ "$n" -lt 200 ] || { echo "no crash point left unpublished records"; false; }
	[ ! -s "$d/acks" ]
	# Tear it: a whole record whose bytes are damaged (a copy of the last
	# record with the next offset and a flipped timestamp bit, so that
	# only its checksum tells), then the first 30 bytes of a record.
	damaged_tail "$d/crashed/0"
	check_topic "$d/crashed"
	[ "$TORN" -eq 1 ]
	crash_every_call shim "$d/crashed" "acks=$d/base.acks,base,1"
	# Recovery's own steps: the cut, and the sync before publishing.
	crash_every_call strace:ftruncate "$d/crashed" "acks=$d/base.acks,base,1"
	crash_every_call strace:fdatasync "$d/crashed" "acks=$d/base.acks,base,1"
}

# Append to the active segment of partition directory $1 a damaged copy of
# its last record (offset + 1, timestamp bit 0 flipped: its checksum no
# longer matches), then a record's first 30 bytes. Recovery must cut both.
damaged_tail() {
	perl -e '
		use strict;
		my $dir = shift;
		opendir(my $d, $dir) or die "$dir: $!\n";
		my @segs = sort grep { /^\d{20}\.log$/ } readdir $d;
		my ($last, $rec);
		for my $seg (@segs) {
			open(my $f, "<:raw", "$dir/$seg") or die "$seg: $!\n";
			local $/;
			my $bytes = <$f>;
			my $pos = 0;
			while ($pos + 36 <= length $bytes) {
				my $len = unpack("V", substr($bytes, $pos + 4, 4));
				last if $pos + 8 + $len > length $bytes;
				$rec = substr($bytes, $pos, 8 + $len);
				$pos += 8 + $len;
			}
			$last = $seg;
		}
		defined $rec or die "no record in $dir\n";
		my ($lo, $hi) = unpack("V V", substr($rec, 8, 8));
		my $off = $lo + $hi * 4294967296 + 1;
		substr($rec, 8, 8) = pack("V V", $off % 4294967296, int($off / 4294967296));
		substr($rec, 16, 1) = chr(ord(substr($rec, 16, 1)) ^ 1);
		open(my $f, ">>:raw", "$dir/$last") or die "$last: $!\n";
		print $f $rec, substr($rec, 0, 30);
		close $f or die "$last: $!\n";
	' "$1"
}

@test "crash at every call of es-produce --create of a new topic: the next --create creates it and appends" {
	crash_every_call shim none
	crash_every_call strace:renameat none
	crash_every_call strace:mkdirat none
}
