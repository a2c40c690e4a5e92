#!/usr/bin/env bats
# es-consume -g: consumer groups, committed offsets, membership, --exec
# (SPEC section 2 es-consume, section 5 details; issue 4)
bats_require_minimum_version 1.5.0
load helper

tools=$BATS_TEST_DIRNAME/tools

# Members die by SIGKILL on purpose (kill9, in helper.bash).
teardown() { es_teardown_quiet; }
try_help="Try 'es-consume --help' for more information."

# The group's committed offsets, "P OFFSET" a line ("P -" for none).
commits() { "$tools/grp-commit.sh" "$1" "${2:-g}"; }

# The owner of each partition, "P PID" a line ("P -" for none).
owners() { "$tools/grp-owners.sh" "$1" "${2:-g}"; }

# balanced TOPIC GROUP PID...: every partition is owned by one of PIDs, each
# of them owns some, and their counts differ by at most one.
balanced() {
	local topic=$1 group=$2
	shift 2
	owners "$topic" "$group" >owners.now || return 1
	awk -v pids="$*" '
		BEGIN { n = split(pids, a, " "); for (i = 1; i <= n; i++) c[a[i]] = 0 }
		!($2 in c) { bad = 1 }
		($2 in c) { c[$2]++ }
		END {
			if (bad) exit 1
			min = 1e9; max = 0
			for (p in c) { if (c[p] < min) min = c[p]; if (c[p] > max) max = c[p] }
			exit !(min > 0 && max - min <= 1)
		}' owners.now
}

# wait_balanced SECS TOPIC GROUP PID...: wait_for balanced; on a timeout,
# show who owns what, the members and their messages.
wait_balanced() {
	local secs=$1
	shift
	wait_for "$secs" balanced "$@" && return 0
	{
		echo "-- owners:"
		cat owners.now
		echo "-- members/:"
		ls "$1/groups/$2/members"
		echo "-- alive: $(for p in "${@:3}"; do running "$p" && printf '%s ' "$p"; done)"
		tail -n 5 err* 2>/dev/null
	} >&2
	return 1
}

# owned_by TOPIC GROUP PID: the partitions PID owns, space-separated.
owned_by() {
	owners "$1" "$2" | awk -v pid="$3" '$2 == pid { printf "%s%s", s, $1; s = " " }'
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# handler NAME: make ./NAME an executable sh script from stdin.
handler() {
	{
		echo '#!/bin/sh'
		cat
	} >"$1"
	chmod +x "$1"
}

# Shell functions for handlers: wait_file FILE SECS waits for FILE, bounded;
# member prints the pid of the es-consume that runs the handler (sh -c may
# or may not fork before it runs the command).
member_fn='member() { p=$PPID; while [ "$p" -gt 1 ] && [ "$(cat /proc/$p/comm)" != es-consume ]; do p=$(cut -d" " -f4 /proc/$p/stat); done; echo "$p"; }'

wait_file_fn='wait_file() { i=0; while [ ! -e "$1" ] && [ $i -lt $(($2 * 20)) ]; do sleep 0.05; i=$((i + 1)); done; [ -e "$1" ]; }'

has_line() { [[ -f $2 ]] && grep -qx -- "$1" "$2"; }

# A starting gate: hold_gate takes an exclusive flock on ./gate (fd 7);
# `gated CMD...` waits for it shared, then runs CMD; waiting_at_gate PID is
# true once PID sleeps in that wait; open_gate releases them all at once.
hold_gate() { exec 7>gate && flock 7; }
gated() { exec flock -s gate "$@"; }
waiting_at_gate() { grep -q lock "/proc/$1/wchan"; }
open_gate() { flock -u 7; exec 7>&-; }

# together N OUT CMD...: N runs of CMD released at one moment by the gate,
# run i writing OUTi and OUTi.err; waits for all (60 s at most), and fails
# unless each exited 0.
together() {
	local n=$1 out=$2 i pid pids=()
	shift 2
	hold_gate
	for ((i = 1; i <= n; i++)); do
		bg_start gated "$@" >"$out$i" 2>"$out$i.err"
		pids+=("$bg_pid")
	done
	for pid in "${pids[@]}"; do
		wait_for 10 waiting_at_gate "$pid"
	done
	open_gate
	for pid in "${pids[@]}"; do
		wait_for 60 stopped "$pid"
		bg_stop "$pid" 0
		[[ $bg_status == 0 ]] || return 1
	done
}

# ---- committed offsets ------------------------------------------------------

@test "-g: two runs of -n 10 give records 0-9, then 10-19" {
	make_topic t
	seq 0 29 | es-produce t
	run_both es-consume -g g -n 10 t
	expect 0 "$(seq 0 9)" ""
	run_both es-consume -g g -n 10 t
	expect 0 "$(seq 10 19)" ""
	run_both commits t
	expect 0 "0 20" ""
}

@test "-g: a run reads to the end and commits it; the next run gets only new records" {
	make_topic t -p 3
	printf 'a\nb\n' | es-produce -p 0 t
	printf 'c\n' | es-produce -p 1 t
	printf 'd\ne\nf\n' | es-produce -p 2 t
	run_both es-consume -g g -F '%p %o %s\n' t
	expect 0 "0 0 a
0 1 b
1 0 c
2 0 d
2 1 e
2 2 f" ""
	run_both commits t
	expect 0 "0 2
1 1
2 3" ""
	run_both es-consume -g g -F '%p %o %s\n' t
	expect 0 "" ""
	printf 'g\n' | es-produce -p 1 t
	run_both es-consume -g g -F '%p %o %s\n' t
	expect 0 "1 1 g" ""
	# Another group has its own offsets.
	run_both es-consume -g other -n 2 t
	expect 0 "a
b" ""
}

# commit_steps TRACE P: what `strace -y` saw happen to the group's commits
# file, in order: its making, and the writes to partition P's region.
commit_steps() {
	perl -ne '
		BEGIN { $p = shift @ARGV }
		my $flags = /openat\(.*"commits(\.tmp\.\d+)?", ([A-Z_|]+)/ ? $2 : "";
		if ($flags =~ /O_CREAT/) {
			print "create ", (/"commits\.tmp\.\d+"/ ? "commits.tmp.PID" : "commits"),
				($flags =~ /O_EXCL/ ? " O_EXCL" : ""), "\n";
		} elsif (/^\d+\s+fsync\(\d+<[^>]*\/groups\/g\/commits(\.tmp\.\d+)?>\)\s*= 0/) {
			print "sync ", ($1 ? "commits.tmp.PID" : "commits"), "\n";
		} elsif (/linkat\(.*"commits\.tmp\.\d+", .*"commits", 0\)\s*= 0/) {
			print "link it as commits\n";
		} elsif (/^\d+\s+fsync\(\d+<[^>]*\/groups\/g>\)\s*= 0/) {
			print "sync the group directory\n";
		} elsif (/^\d+\s+pwrite64\(\d+<[^>]*\/groups\/g\/commits>, .*, (\d+), (\d+)\)\s*= \d+/) {
			my ($len, $at) = ($1, $2);
			if (int($at / 8192) == $p) {
				print "write slot ", ($at % 8192) / 4096, " ($len bytes)\n";
				$mine = 1;
			} else {
				$mine = 0;
			}
		} elsif ($mine && /^\d+\s+fdatasync\(\d+<[^>]*\/groups\/g\/commits>\)\s*= 0/) {
			print "sync\n";
		}
	' "$2" "$1"
}

@test "-g: the commits file is made whole (temporary file, fsync, link, directory fsync), then a partition's two slots are written in turn" {
	make_topic t -p 2
	seq 3 | es-produce -p 1 t
	es-consume -g g t >out
	seq 4 6 | es-produce -p 1 t
	echo 7 | es-produce -p 1 t
	strace -f -y -o trace -e trace=openat,write,pwrite64,fsync,fdatasync,close,rename,renameat,renameat2 \
		es-consume -g g -n 3 t >out
	strace -f -y -o trace2 -e trace=openat,write,pwrite64,fsync,fdatasync,close,rename,renameat,renameat2 \
		es-consume -g g t >out
	# The first run of the group made the file; these commits write the
	# slot of partition 1's region (bytes 8192-16383) not holding the
	# newest commit, then fdatasync: no rename, no new file.
	run_both commit_steps trace 1
	[[ $status == 0 && $stderr == "" ]]
	[[ $output =~ ^write\ slot\ ([01])\ \(4096\ bytes\)$'\n'sync$ ]]
	local first=${BASH_REMATCH[1]}
	run_both commit_steps trace2 1
	[[ $status == 0 && $output == "write slot $((1 - first)) (4096 bytes)"$'\n'sync ]]
	run_both commits t
	expect 0 "0 0
1 7" ""
	[[ $(ls t/groups/g) == $'0.lock\n1.lock\ncommits\nmembers\nreplay.lock' && $(stat -c %s t/groups/g/commits) == 16384 ]]
	# A new group's first commit: the file made durably, then the slot.
	make_topic t2 -p 2
	seq 3 | es-produce -p 1 t2
	strace -f -y -o trace3 -e trace=openat,write,pwrite64,fsync,fdatasync,close,rename,renameat,renameat2,linkat \
		es-consume -g g -n 1 t2 >out
	run_both commit_steps trace3 1
	# (after the making of the group directory, synced too)
	[[ $output == "sync the group directory
create commits.tmp.PID O_EXCL
sync commits.tmp.PID
link it as commits
sync the group directory
write slot 0 (4096 bytes)
sync"* ]]
	! grep -q 'rename.*commits' trace3
}

@test "-g: the commit is never ahead of what stdout took, nor past the end" {
	make_topic t
	seq -w 1 1000000 | es-produce t
	mkfifo f
	# The redirection in the child: opening a fifo blocks until its other
	# end is open.
	bg_start sh -c 'exec es-consume -g g t >f 2>err'
	local pid=$bg_pid
	exec 4<f
	: >out
	# Read in small steps until the group has committed something...
	local end=$(($(now_ms) + 20000))
	while [[ $(commits t) == "0 "[-0] ]]; do
		dd bs=65536 count=1 iflag=fullblock <&4 >>out 2>/dev/null
		(($(now_ms) < end)) || { echo "no commit after 20 s" >&2; return 1; }
		sleep 0.01
	done
	# ... then stop reading: es-consume fills the pipe and blocks there.
	wait_for 10 grep -q pipe_write "/proc/$pid/wchan"
	run_both commits t
	local committed=${output#0 }
	kill9 "$pid"
	cat <&4 >>out
	exec 4<&-
	local got
	got=$(wc -l <out)
	echo "# committed $committed, the reader got $got whole lines" >&3
	((committed > 0 && committed <= got && got < 1000000))
	# What the reader got is the topic's head, in order.
	cmp <(head -n "$got" out) <(seq -f '%07g' 1 "$got")
	# The next member starts at the commit.
	run_both es-consume -g g -n 1 t
	expect 0 "$(printf '%07d' $((committed + 1)))" ""
}

@test "--reset latest: partitions without a commit start at the end, and that is committed at once" {
	make_topic t -p 2
	printf 'a\nb\n' | es-produce -p 0 t
	printf 'c\nd\n' | es-produce -p 1 t
	run_both es-consume -g g -n 1 t
	expect 0 "a" ""
	# The group has a position everywhere now: --reset no longer applies.
	run_both commits t
	expect 0 "0 1
1 0" ""
	run_both es-consume -g g --reset latest -F '%p %o %s\n' t
	expect 0 "0 1 b
1 0 c
1 1 d" ""
	# A new group at the end: what comes after it, even between runs, is
	# delivered.
	run_both es-consume -g new --reset latest -F '%p %o %s\n' t
	expect 0 "" ""
	run_both commits t new
	expect 0 "0 2
1 2" ""
	printf 'e\n' | es-produce -p 1 t
	run_both es-consume -g new --reset latest -F '%p %o %s\n' t
	expect 0 "1 2 e" ""
	# The same with --exec, on a partition that never had a record read.
	run_both es-consume -g x --reset latest --exec cat t
	expect 0 "" ""
	printf 'f\n' | es-produce -p 0 t
	run_both es-consume -g x --reset latest --exec cat t
	expect 0 "f" ""
	# --reset earliest is the default.
	run_both es-consume -g fresh --reset earliest -F '%p %o %s\n' t
	expect 0 "0 0 a
0 1 b
0 2 f
1 0 c
1 1 d
1 2 e" ""
	run_both es-consume -g fresh2 -F '%p %o %s\n' t
	expect 0 "0 0 a
0 1 b
0 2 f
1 0 c
1 1 d
1 2 e" ""
	# A follow member started at the end gets what comes after.
	bg_start es-consume -g late -f --reset latest -F '%p %o %s\n' t >out 2>err
	wait_balanced 10 t late "$bg_pid"
	printf 'g\n' | es-produce -p 1 t
	wait_for 10 lines_at_least 1 out
	bg_stop "$bg_pid"
	[[ $bg_status == 143 && ! -s err ]]
	run_both cat out
	expect 0 "1 3 g" ""
	run_both commits t late
	expect 0 "0 3
1 4" ""
}

@test "-g: a damaged commit is reported and the partition starts from the earliest offset, whatever --reset says" {
	make_topic t
	seq 1 5 | es-produce t
	run_both es-consume -g g -n 2 t
	expect 0 "1
2" ""
	run_both es-consume -g g -n 1 t
	expect 0 "3" ""
	# The newest slot damaged (the one with the higher sequence number, at
	# byte 44): the other one is the commit, and 3 comes again.
	local newest
	newest=$(perl -e 'open(my $f, "<:raw", $ARGV[0]) or die; read($f, my $b, 8192);
		print unpack("V", substr($b, 44, 4)) > unpack("V", substr($b, 4140, 4)) ? 0 : 1' t/groups/g/commits)
	printf 'X' | dd of=t/groups/g/commits bs=1 seek=$((newest * 4096 + 9)) conv=notrunc status=none
	run_both es-consume -g g -n 1 t
	expect 0 "3" ""
	# Both slots damaged.
	printf 'X' | dd of=t/groups/g/commits bs=1 seek=9 conv=notrunc status=none
	printf 'X' | dd of=t/groups/g/commits bs=1 seek=4105 conv=notrunc status=none
	run_both es-consume -g g --reset latest t
	expect 0 "$(seq 1 5)" "es-consume: warning: group 'g', partition 0: damaged commit in groups/g/commits: corrupt data; starting from the earliest offset"
	run_both commits t
	expect 0 "0 5" ""
	# A first commit that never completed (its slot torn, the other slot
	# never written) is no commit, not damage: it was not acknowledged.
	make_topic u
	seq 1 3 | es-produce u
	es-consume -g g -n 1 u >/dev/null
	dd if=/dev/zero of=u/groups/g/commits bs=4096 seek=1 count=1 conv=notrunc status=none
	printf 'X' | dd of=u/groups/g/commits bs=1 seek=20 conv=notrunc status=none
	run_both es-consume -g g u
	expect 0 "$(seq 1 3)" ""
}

@test "-g: usage errors: --reset, -o/--since/-p, --exec without -g, a bad group name" {
	make_topic t -p 2
	run_both es-consume -g g --reset soon t
	expect 64 "" "es-consume: bad --reset 'soon' (earliest or latest)
$try_help"
	run_both es-consume -g g -o 3 t
	expect 64 "" "es-consume: -g takes its position from the group: -o, --since and -p do not apply (see es-replay)
$try_help"
	run_both es-consume -g g -p 1 t
	expect 64 "" "es-consume: -g takes its position from the group: -o, --since and -p do not apply (see es-replay)
$try_help"
	run_both es-consume --exec cat t
	expect 64 "" "es-consume: --exec needs a group (-g), to commit to
$try_help"
	run_both es-consume -g g --dead-letter dlq t
	expect 64 "" "es-consume: --dead-letter and -j go with --exec
$try_help"
	run_both es-consume -g ../x t
	expect 64 "" "es-consume: bad group name '../x' (letters, digits, '.', '_', '-')
$try_help"
	run_both es-consume -g g --exec cat --batch 0 t
	expect 64 "" "es-consume: bad batch size '0'
$try_help"
	run_both es-consume -g g --exec cat -j 0 t
	expect 64 "" "es-consume: bad job count '0'
$try_help"
	run_both es-consume -g g --exec cat --backoff soon t
	expect 64 "" "es-consume: bad duration 'soon'
$try_help"
	run_both es-consume -g g --exec cat -n 3 t
	expect 64 "" "es-consume: -n and --until do not apply to --exec (use --timeout)
$try_help"
	run_both es-consume -g g --exec cat --until -1h t
	expect 64 "" "es-consume: -n and --until do not apply to --exec (use --timeout)
$try_help"
	[[ ! -e t/groups/g ]]
}

# ---- --exec -----------------------------------------------------------------

@test "--exec: batches on CMD's stdin, the ES_* variables, CMD's stdout is ours" {
	make_topic t
	seq 0 6 | sed 's/^/v/' | es-produce t
	handler h <<'EOF'
echo "$ES_TOPIC $ES_GROUP $ES_PARTITION $ES_FIRST_OFFSET $ES_LAST_OFFSET $ES_COUNT $ES_ATTEMPT" >>env
echo "batch $ES_FIRST_OFFSET-$ES_LAST_OFFSET:"
cat
echo "to stderr $ES_COUNT" >&2
EOF
	run_both es-consume -g g --batch 3 -F '%o=%s\n' --exec ./h t
	expect 0 "batch 0-2:
0=v0
1=v1
2=v2
batch 3-5:
3=v3
4=v4
5=v5
batch 6-6:
6=v6" "to stderr 3
to stderr 3
to stderr 1"
	run_both cat env
	expect 0 "t g 0 0 2 3 1
t g 0 3 5 3 1
t g 0 6 6 1 1" ""
	run_both commits t
	expect 0 "0 7" ""
	# All committed: the next run runs nothing.
	run_both es-consume -g g --exec ./h t
	expect 0 "" ""
}

@test "--exec: a batch holds records of one partition; --batch defaults to 1000" {
	make_topic t -p 2
	seq 1 1500 | es-produce -p 0 t
	seq 1 3 | es-produce -p 1 t
	handler h <<'EOF'
printf '%s %s %s %s %s\n' "$ES_PARTITION" "$ES_FIRST_OFFSET" "$ES_LAST_OFFSET" "$ES_COUNT" \
	"$(cut -d' ' -f1 | sort -u | tr '\n' ,)"
EOF
	run_both es-consume -g g -F '%p %o\n' --exec ./h t
	[[ $status == 0 && $stderr == "" ]]
	[[ $(sort <<<"$output") == "0 0 999 1000 0,
0 1000 1499 500 0,
1 0 2 3 1," ]]
}

@test "--exec: -J, -K and -F give the chosen format on stdin" {
	make_topic t
	printf 'k1=v1\nk2=v2\n' | es-produce -K = -H h=1 t
	run_both es-consume -g a -K : --exec cat t
	expect 0 "k1:v1
k2:v2" ""
	run_both es-consume -g b -J --exec 'jq -c "[.offset, .key, .value, .headers]"' t
	expect 0 '[0,"k1","v1",{"h":"1"}]
[1,"k2","v2",{"h":"1"}]' ""
}

@test "--exec: commit only on exit 0; --retries with doubling --backoff; ES_ATTEMPT" {
	make_topic t
	seq 1 3 | es-produce t
	handler h <<'EOF'
echo "$ES_ATTEMPT $(date +%s%N)" >>attempts
[ "$ES_ATTEMPT" -ge 3 ] || exit 1
cat
EOF
	run_both es-consume -g g --retries 3 --backoff 200ms --exec ./h t
	expect 0 "1
2
3" ""
	run_both awk '{ print $1 }' attempts
	expect 0 "1
2
3" ""
	# 200 ms, then 400 ms between the attempts.
	local gaps
	gaps=$(awk 'NR > 1 { printf "%d ", ($2 - prev) / 1000000 } { prev = $2 }' attempts)
	echo "# gaps (ms): $gaps" >&3
	read -r g1 g2 <<<"$gaps"
	((g1 >= 200 && g1 < 2000 && g2 >= 400 && g2 < 4000))
	run_both commits t
	expect 0 "0 3" ""
}

@test "--exec: a batch that keeps failing is not committed before it is settled" {
	make_topic t
	seq 1 4 | es-produce t
	# Fails on the first attempt and kills es-consume before the retry:
	# nothing is committed, so the next run hands the same batch again.
	handler h <<EOF
$member_fn
echo "\$ES_FIRST_OFFSET-\$ES_LAST_OFFSET #\$ES_ATTEMPT" >>log
if [ ! -e once ]; then touch once; kill -KILL \$(member); exit 1; fi
cat
EOF
	run_both es-consume -g g --batch 2 --backoff 10ms --exec ./h t
	[[ $status == 137 && $output == "" ]]
	run_both commits t
	expect 0 "0 0" ""
	run_both es-consume -g g --batch 2 --exec ./h t
	expect 0 "1
2
3
4" ""
	run_both cat log
	expect 0 "0-1 #1
0-1 #1
2-3 #1" ""
}

@test "--exec: a failing batch is narrowed by halves; the failing record alone is dead-lettered" {
	make_topic t -p 3
	printf 'k%s=%s\n' 0 a 1 b 2 c 3 d 4 e 5 poison 6 g 7 h | es-produce -p 1 -K = -H trace=x7 t
	handler h <<'EOF'
echo "$ES_FIRST_OFFSET-$ES_LAST_OFFSET #$ES_ATTEMPT" >>ranges
in=$(cat)
case $in in *poison*) echo run >>poison-runs; exit 3 ;; esac
echo "$in" >>done
EOF
	run_both es-consume -g g --batch 8 --retries 1 --backoff 10ms --dead-letter dlq --exec ./h t
	expect 0 "" "es-consume: warning: partition 1, offset 5: command failed (exit status 3) 6 times; sent to 'dlq'"
	# Two attempts of the batch, then halves: the good ones succeed, the
	# poison record alone is retried, then dead-lettered; order is kept.
	run_both cat ranges
	expect 0 "0-7 #1
0-7 #2
0-3 #1
4-7 #1
4-5 #1
4-4 #1
5-5 #1
5-5 #2
6-7 #1" ""
	run_both cat done
	expect 0 "a
b
c
d
e
g
h" ""
	# es.attempts counts the runs that held the record.
	[[ $(wc -l <poison-runs) == 6 ]]
	# Key, value, timestamp and headers are kept; the origin is in headers;
	# a keyed record goes where its key picks.
	local ts part
	ts=$(es-consume -p 1 -o 5 -n 1 -F '%T' t)
	part=$(kafka_partition k5 3)
	run_both es-consume -J dlq
	expect 0 '{"topic":"dlq","partition":'"$part"',"offset":0,"timestamp":'"$ts"',"key":"k5","value":"poison","headers":{"trace":"x7","es.origin.topic":"t","es.origin.partition":"1","es.origin.offset":"5","es.group":"g","es.attempts":"6","es.exit.status":"3"}}' ""
	# The dead-letter topic was created with the source's partition count.
	grep -qx 'partitions: 3 .*' dlq/topic.yaml
	run_both commits t
	expect 0 "0 0
1 8
2 0" ""
	# Everything is settled: the next run runs nothing.
	run_both es-consume -g g --dead-letter dlq --exec ./h t
	expect 0 "" ""
	[[ $(wc -l <ranges) == 9 ]]
}

@test "--dead-letter: a keyless record keeps its partition (modulo); the names in the headers are as given" {
	make_topic src -p 4
	printf 'ok\nbad\n' | es-produce -p 3 src
	make_topic dl -p 2
	run_both es-consume -g grp --retries 0 --backoff 1ms --dead-letter dl \
		--exec '! grep -q bad' src
	expect 0 "" "es-consume: warning: partition 3, offset 1: command failed (exit status 1) 2 times; sent to 'dl'"
	local ts
	ts=$(es-consume -p 3 -o 1 -F '%T' src)
	run_both es-consume -J dl
	expect 0 '{"topic":"dl","partition":1,"offset":0,"timestamp":'"$ts"',"key":null,"value":"bad","headers":{"es.origin.topic":"src","es.origin.partition":"3","es.origin.offset":"1","es.group":"grp","es.attempts":"2","es.exit.status":"1"}}' ""
	# An existing dead-letter topic keeps its configuration.
	grep -qx 'partitions: 2 .*' dl/topic.yaml
	# A relative topic resolves against ES_DIR, the dead-letter topic too.
	mkdir d
	make_topic d/s2
	printf 'bad\n' | es-produce d/s2
	ES_DIR=$PWD/d run_both es-consume -g grp --retries 0 --backoff 1ms \
		--dead-letter dl2 --exec '! grep -q bad' s2
	expect 0 "" "es-consume: warning: partition 0, offset 0: command failed (exit status 1) 1 times; sent to 'dl2'"
	[[ -d d/dl2 && ! -e dl2 ]]
	run_both es-consume -F '%h' d/dl2
	expect 0 "es.origin.topic=s2,es.origin.partition=0,es.origin.offset=0,es.group=grp,es.attempts=1,es.exit.status=1" ""
}

@test "--exec without --dead-letter: commit up to the failing record, exit 75 naming it; the next run retries it" {
	make_topic t
	printf '%s\n' a b c d e poison g h | es-produce t
	handler h <<'EOF'
echo "$ES_FIRST_OFFSET-$ES_LAST_OFFSET #$ES_ATTEMPT" >>ranges
in=$(cat)
case $in in *poison*) exit 1 ;; esac
echo "$in"
EOF
	run_both es-consume -g g --batch 8 --retries 2 --backoff 10ms --exec ./h t
	expect 75 "a
b
c
d
e" "es-consume: partition 0, offset 5: command failed (exit status 1) after 8 attempts; committed up to it, so the next run retries it"
	run_both cat ranges
	expect 0 "0-7 #1
0-7 #2
0-7 #3
0-3 #1
4-7 #1
4-5 #1
4-4 #1
5-5 #1
5-5 #2
5-5 #3" ""
	run_both commits t
	expect 0 "0 5" ""
	# Still failing: the same record stops the next run at once.
	run_both es-consume -g g --batch 8 --retries 0 --backoff 10ms --exec ./h t
	expect 75 "" "es-consume: partition 0, offset 5: command failed (exit status 1) after 2 attempts; committed up to it, so the next run retries it"
	# Fixed: the next run starts at it.
	run_both es-consume -g g --batch 8 --exec 'echo "$ES_FIRST_OFFSET-$ES_LAST_OFFSET"; cat' t
	expect 0 "5-7
poison
g
h" ""
}

@test "--exec: a command killed by a signal counts as failed (128+N)" {
	make_topic t
	printf 'x\n' | es-produce t
	run_both es-consume -g g --retries 0 --backoff 1ms --exec 'kill -USR1 $$' t
	expect 75 "" "es-consume: partition 0, offset 0: command failed (exit status 138) after 1 attempts; committed up to it, so the next run retries it"
}

@test "--exec -j 2: two partitions' batches run at the same time" {
	make_topic t -p 2
	printf 'x\n' | es-produce -p 0 t
	printf 'y\n' | es-produce -p 1 t
	handler h <<EOF
$wait_file_fn
touch "started.\$ES_PARTITION"
other=\$((1 - ES_PARTITION))
if wait_file "started.\$other" 10; then echo "\$ES_PARTITION saw \$other" >>seen; fi
EOF
	run_both es-consume -g g -j 2 --exec ./h t
	expect 0 "" ""
	run_both sort seen
	expect 0 "0 saw 1
1 saw 0" ""
}

@test "--exec -j 1 runs one batch at a time; -j 3 one batch per partition at a time, in order" {
	make_topic t -p 3
	seq 1 30 | es-produce t
	handler h <<'EOF'
exec 8>>any.lock 9>>"p$ES_PARTITION.lock"
flock -n 8 || echo "two at once: $ES_PARTITION $ES_FIRST_OFFSET" >>any-overlap
flock -n 9 || echo "partition $ES_PARTITION twice at once" >>bad
sleep 0.02
cut -d' ' -f2 >>"order.$ES_PARTITION"
EOF
	run_both es-consume -g a -F '%p %o\n' --batch 2 --exec ./h t
	expect 0 "" ""
	[[ ! -e any-overlap && ! -e bad ]]
	rm order.*
	run_both es-consume -g b -F '%p %o\n' --batch 2 -j 3 --exec ./h t
	expect 0 "" ""
	[[ ! -e bad ]]
	for p in 0 1 2; do
		[[ $(cat "order.$p") == "$(seq 0 9)" ]]
	done
}

@test "--exec: order inside a partition is kept across retries and narrowing" {
	make_topic t -p 2
	seq 0 39 | es-produce -p 0 t
	seq 0 39 | es-produce -p 1 t
	# Each record fails once (its first time in a batch of one or more).
	handler h <<'EOF'
exec 9>>lock
flock 9
in=$(cat)
for r in $in; do
	[ -e "seen.$ES_PARTITION.$r" ] || { touch "seen.$ES_PARTITION.$r"; fail=1; }
done
[ -z "$fail" ] || exit 1
echo "$in" | sed "s/^/$ES_PARTITION /" >>done
EOF
	run_both es-consume -g g --batch 8 --retries 1 --backoff 1ms -j 2 --exec ./h t
	expect 0 "" ""
	for p in 0 1; do
		[[ $(awk -v p=$p '$1 == p { print $2 }' done) == "$(seq 0 39)" ]]
	done
}

# ---- stopping: --timeout, signals -------------------------------------------

@test "--timeout: a follow run stops cleanly after D, exit 0, what it wrote is committed" {
	make_topic t -p 2
	seq 1 3 | es-produce -p 0 t
	seq 4 5 | es-produce -p 1 t
	local t0
	t0=$(now_ms)
	run_both es-consume -g g -f --timeout 300ms t
	[[ $status == 0 && $stderr == "" ]]
	[[ $(sort -n <<<"$output") == "$(seq 1 5)" ]]
	(($(now_ms) - t0 >= 300))
	run_both commits t
	expect 0 "0 3
1 2" ""
	run_both es-consume -g g t
	expect 0 "" ""
}

@test "--timeout with --exec: the batch in hand finishes and is committed, no new one starts" {
	make_topic t
	seq 1 6 | es-produce t
	run_both es-consume -g g --batch 2 --timeout 100ms --exec 'sleep 1; cat' t
	expect 0 "1
2" ""
	run_both commits t
	expect 0 "0 2" ""
	run_both es-consume -g g -f --timeout 200ms --exec cat t
	expect 0 "3
4
5
6" ""
	run_both commits t
	expect 0 "0 6" ""
}

@test "SIGTERM in pipe mode: exactly what was written to stdout is committed, death by SIGTERM" {
	make_topic t -p 2
	seq 1 100 | es-produce t
	bg_start es-consume -g g -f t >out 2>err
	wait_for 10 lines_at_least 100 out
	bg_stop "$bg_pid" TERM
	[[ $bg_status == 143 && ! -s err ]]
	run_both commits t
	expect 0 "0 50
1 50" ""
	seq 101 130 | es-produce t
	run_both es-consume -g g t
	[[ $status == 0 && $stderr == "" ]]
	[[ $( (cat out; echo "$output") | sort -n) == "$(seq 1 130)" ]]
}

@test "SIGINT in pipe mode: the same, death by SIGINT" {
	make_topic t
	seq 1 10 | es-produce t
	bg_start es-consume -g g -f t >out 2>err
	wait_for 10 lines_at_least 10 out
	bg_stop "$bg_pid" INT
	[[ $bg_status == 130 && ! -s err ]]
	run_both commits t
	expect 0 "0 10" ""
}

@test "SIGTERM while a handler runs: it finishes, its batch is committed, nothing new starts" {
	make_topic t
	seq 0 5 | es-produce t
	handler h <<EOF
$wait_file_fn
echo "\$ES_FIRST_OFFSET-\$ES_LAST_OFFSET" >>log
touch running
wait_file go 20 || exit 1
cat
EOF
	bg_start es-consume -g g --batch 2 --exec ./h t >out 2>err
	local pid=$bg_pid
	wait_for 10 test -e running
	kill -TERM "$pid"
	touch go
	bg_stop "$pid" TERM
	[[ $bg_status == 143 && ! -s err ]]
	run_both cat out log
	expect 0 "0
1
0-1" ""
	run_both commits t
	expect 0 "0 2" ""
	run_both es-consume -g g --exec cat t
	expect 0 "2
3
4
5" ""
}

# ---- membership, overlapping runs -------------------------------------------

@test "a member with nothing to own exits 0 without -f" {
	make_topic t -p 2
	seq 1 10 | es-produce t
	bg_start es-consume -g g -f t >out 2>err
	wait_balanced 10 t g "$bg_pid"
	run_both es-consume -g g t
	expect 0 "" ""
	run_both es-consume -g g --exec cat t
	expect 0 "" ""
}

@test "3 follow members own 3, 3 and 2 of 8 partitions and read only those" {
	make_topic t -p 8
	local pids=() i
	for i in 1 2 3; do
		bg_start es-consume -g g -f -F '%p %o %s\n' t >"out$i" 2>"err$i"
		pids+=("$bg_pid")
	done
	wait_balanced 10 t g "${pids[@]}"
	owners t g >owners.before
	for i in $(seq 0 799); do echo "k$i=v$i"; done | es-produce -K = t
	wait_for 10 eval '(($(cat out1 out2 out3 | wc -l) >= 800))'
	# Each member printed only records of the partitions it owns, each
	# record once.
	for i in 1 2 3; do
		local mine
		mine=$(owned_by t g "${pids[i - 1]}")
		[[ $(cut -d' ' -f1 "out$i" | sort -u | tr '\n' ' ') == "$(tr ' ' '\n' <<<"$mine" | sort -u | tr '\n' ' ')" ]]
	done
	[[ $(cat out1 out2 out3 | sort | uniq -d) == "" ]]
	[[ $(cat out1 out2 out3 | wc -l) == 800 ]]
	diff owners.before <(owners t g)
	# The lock files name their owners.
	for i in $(seq 0 7); do
		[[ $(cat "t/groups/g/$i.lock") == "$(awk -v p=$i '$1 == p { print $2 }' owners.before)" ]]
	done
}

@test "SIGKILL: the others own the dead member's partitions within 2 s, balanced" {
	make_topic t -p 8
	local pids=() i
	for i in 1 2 3; do
		bg_start es-consume -g g -f -F '%p %o %s\n' t >"out$i" 2>"err$i"
		pids+=("$bg_pid")
	done
	wait_balanced 10 t g "${pids[@]}"
	local t0 t1
	t0=$(now_ms)
	kill9 "${pids[0]}"
	wait_balanced 5 t g "${pids[1]}" "${pids[2]}"
	t1=$(now_ms)
	echo "# taken over in $((t1 - t0)) ms" >&3
	((t1 - t0 < 2500))
	# The survivors read what arrives in every partition.
	seq 1 400 | es-produce t
	wait_for 10 eval '(($(cat out2 out3 | wc -l) >= 400))'
	[[ $(cat out2 out3 | cut -d' ' -f3 | sort -n) == "$(seq 1 400)" ]]
	# A new member gets its share back.
	bg_start es-consume -g g -f t >out4 2>err4
	wait_balanced 5 t g "${pids[1]}" "${pids[2]}" "$bg_pid"
	# The dead member's file is gone from members/.
	[[ $(ls t/groups/g/members | cut -d- -f1 | sort | tr '\n' ' ') == "$(printf '%s\n' "${pids[1]}" "${pids[2]}" "$bg_pid" | sort | tr '\n' ' ')" ]]
}

@test "--exec members: SIGKILL one, the others own its partitions within 2 s and run its records" {
	make_topic t -p 8
	local pids=() i
	for i in 1 2 3; do
		bg_start es-consume -g g -f -F '%p %o %s\n' --exec cat t >"out$i" 2>"err$i"
		pids+=("$bg_pid")
	done
	wait_balanced 10 t g "${pids[@]}"
	local t0 t1
	t0=$(now_ms)
	kill9 "${pids[0]}"
	wait_balanced 5 t g "${pids[1]}" "${pids[2]}"
	t1=$(now_ms)
	echo "# taken over in $((t1 - t0)) ms" >&3
	((t1 - t0 < 2500))
	for i in $(seq 1 400); do echo "k$i=$i"; done | es-produce -K = t
	wait_for 10 eval '(($(cat out2 out3 | wc -l) >= 400))'
	[[ $(cat out2 out3 | cut -d' ' -f3 | sort -n) == "$(seq 1 400)" ]]
	[[ ! -s err2 && ! -s err3 ]]
}

@test "--exec members under load: a new member gets its share within 2 s" {
	make_topic t -p 8
	seq 1 100000 | es-produce t
	bg_start es-consume -g g -f --batch 10 --exec 'sleep 0.01; cat >/dev/null' t >out1 2>err1
	local a=$bg_pid
	wait_balanced 10 t g "$a"
	bg_start es-consume -g g -f --batch 10 --exec 'sleep 0.01; cat >/dev/null' t >out2 2>err2
	local b=$bg_pid t0 t1
	t0=$(now_ms)
	wait_balanced 5 t g "$a" "$b"
	t1=$(now_ms)
	echo "# balanced in $((t1 - t0)) ms" >&3
	((t1 - t0 < 2500))
}

@test "--exec: a SIGKILLed member's running handler never overlaps the next owner's" {
	make_topic t
	seq 1 3 | es-produce t
	handler h <<EOF
$wait_file_fn
$member_fn
me=\$(member)
echo "start \$me" >>log
wait_file go 20
echo "end \$me" >>log
EOF
	bg_start es-consume -g g -f --exec ./h t >out1 2>err1
	local a=$bg_pid
	wait_for 10 has_line "start $a" log
	bg_start es-consume -g g -f --exec ./h t >out2 2>err2
	local b=$bg_pid
	wait_balanced 5 t g "$a"
	kill9 "$a"
	# The next owner may take the partition, but not run its batch while
	# the dead member's handler still does: give it the time to try.
	wait_for 2 has_line "start $b" log || true
	touch go
	wait_for 10 has_line "end $b" log
	run_both cat log
	expect 0 "start $a
end $a
start $b
end $b" ""
}

@test "overlapping non-follow --exec runs of one group never hand a record twice" {
	make_topic t -p 16
	for i in $(seq 1 3200); do echo "k$i=$i"; done | es-produce -K = t
	es-consume -g g -n 0 t # the group exists, as for every run but the first
	handler h <<EOF
$member_fn
exec 9>>lock
flock 9
sed "s/\$/ \$(member)/" >>seen
EOF
	# Three runs that start at the same moment.
	together 3 out es-consume -g g --batch 7 -F '%p %o\n' --exec ./h t
	[[ ! -s out1.err && ! -s out2.err && ! -s out3.err ]]
	run_both eval "cut -d' ' -f1,2 seen | sort | uniq -d"
	expect 0 "" ""
	[[ $(wc -l <seen) == 3200 ]]
	echo "# records per run: $(cut -d' ' -f3 seen | sort | uniq -c | awk '{ printf "%s ", $1 }')" >&3
	run_both commits t
	[[ $(awk '{ s += $2 } END { print s }' <<<"$output") == 3200 ]]
}

@test "overlapping pipe-mode runs of one group share the records, none twice" {
	make_topic t -p 16
	seq 1 32000 | es-produce t
	es-consume -g g -n 0 t
	together 3 out es-consume -g g t
	echo "# records per run: $(wc -l out1 out2 out3 | awk '$2 != "total" { printf "%s ", $1 }')" >&3
	[[ ! -s out1.err && ! -s out2.err && ! -s out3.err ]]
	[[ $(cat out1 out2 out3 | sort -n) == "$(seq 1 32000)" ]]
}

@test "overlapping first runs of a new group both join it" {
	make_topic t -p 4
	seq 1 400 | es-produce t
	local round
	for round in $(seq 1 10); do
		rm -rf t/groups/g
		together 2 "r$round." es-consume -g g t
		run_both cat "r$round.1.err" "r$round.2.err"
		expect 0 "" ""
		[[ $(cat "r$round.1" "r$round.2" | sort -n) == "$(seq 1 400)" ]]
	done
}

# ---- item 7: a poison record ------------------------------------------------

@test "a poison record lands alone in the dead-letter topic; every other record is processed once" {
	make_topic t -p 4
	for i in $(seq 1 400); do
		if ((i == 257)); then echo poison; else echo "r$i"; fi
	done | es-produce t
	# The handler does a batch all or nothing: a batch with the poison
	# record fails before it records anything.
	handler h <<'EOF'
in=$(cat)
case $in in *poison*) exit 2 ;; esac
exec 9>>lock
flock 9
echo "$in" >>processed
EOF
	local where
	where=$(es-consume -F '%p %o %s\n' t | awk '$3 == "poison" { print $1, $2 }')
	read -r pp po <<<"$where"
	run_both es-consume -g g -F '%p %o %s\n' --batch 16 -j 2 --retries 2 --backoff 5ms \
		--dead-letter dlq --exec ./h t
	[[ $status == 0 && $output == "" ]]
	[[ $stderr =~ ^"es-consume: warning: partition $pp, offset $po: command failed (exit status 2) "([0-9]+)" times; sent to 'dlq'"$ ]]
	local attempts=${BASH_REMATCH[1]}
	run_both es-consume -F '%k|%s|%h' dlq
	expect 0 "|poison|es.origin.topic=t,es.origin.partition=$pp,es.origin.offset=$po,es.group=g,es.attempts=$attempts,es.exit.status=2" ""
	# Every other record exactly once, in offset order per partition.
	run_both eval "sort processed | uniq -d"
	expect 0 "" ""
	[[ $(cut -d' ' -f3 processed | sort) == "$(seq 1 400 | grep -vx 257 | sed 's/^/r/' | sort)" ]]
	for p in 0 1 2 3; do
		[[ $(awk -v p=$p '$1 == p { print $2 }' processed) == "$(es-consume -p $p -F '%o %s\n' t | awk '$2 != "poison" { print $1 }')" ]]
	done
	run_both commits t
	expect 0 "0 100
1 100
2 100
3 100" ""
}

@test "--exec: kill -9 at every system call from the commits file on (strace): the file reads clean, no commit is ahead, a rerun hands on the rest" {
	command -v strace >/dev/null || skip "strace is not installed"
	run "$tools/exec-crash.sh" "$BATS_TEST_TMPDIR/w"
	echo "# $output" >&3
	[[ $status == 0 ]]
}

@test "--exec: the command gets the whole environment, however large, and ES_TOPIC whole, however long the path" {
	local dir
	dir=$(printf 'd%.0s' $(seq 1 150))
	mkdir "$dir"
	make_topic "$dir/t"
	echo x | es-produce "$dir/t"
	for i in $(seq 1 700); do export "V$i=$i"; done
	run_both es-consume -g g --exec 'echo "$ES_TOPIC" $V1 $V350 $V700 $ES_GROUP $ES_COUNT' "$dir/t"
	expect 0 "$dir/t 1 350 700 g 1" ""
}

# nth_openat PATTERN CMD... TOPIC: N such that the Nth openat of CMD is the
# first whose strace line matches PATTERN, for strace's inject=openat:when=N;
# found by a traced run of CMD on a copy of TOPIC, in the same state.
nth_openat() {
	local pat=$1
	shift
	local t=${!#}
	rm -rf nth.topic && cp -a "$t" nth.topic
	strace -o nth.trace -e trace=openat "${@:1:$#-1}" nth.topic >/dev/null 2>&1
	awk -v pat="$pat" '/^openat/ { n++; if ($0 ~ pat) { print n; found = 1; exit } }
		END { exit !found }' nth.trace
}

@test "-g: a commit that cannot be read (EMFILE at its open) is 74 naming the file, and nothing is committed over it" {
	make_topic t
	seq 1 10 | es-produce t
	es-consume -g g -n 5 t >/dev/null
	cp t/groups/g/commits before
	n=$(nth_openat '"groups/g/commits"' es-consume -g g --reset latest t)
	run strace -o /dev/null -e inject=openat:error=EMFILE:when=$n \
		es-consume -g g --reset latest t
	[ "$status" -eq 74 ] || { echo "exit $status: $output"; false; }
	[[ $output == *"group 'g': cannot open its commits: Too many open files"* ]]
	cmp before t/groups/g/commits
	run_both es-consume -g g t
	expect 0 "$(seq 6 10)" ""
}

# earlier_build_group N: topic t of N partitions of records 1-5, group g
# committed at 4 on partition 0 and 2 on partition 1, in the earlier
# layout: partition P's two slots alone in P.commit, no commits file.
earlier_build_group() {
	make_topic t -p "$1"
	for ((p = 0; p < $1; p++)); do seq 1 5 | es-produce -p $p t; done
	es-replay -g g --to 4 -p 0 --execute t >/dev/null
	es-replay -g g --to 2 -p 1 --execute t >/dev/null
	for p in 0 1; do
		dd if=t/groups/g/commits of=t/groups/g/$p.commit bs=8192 skip=$p count=1 status=none
	done
	rm t/groups/g/commits
}

@test "-g: moving an earlier build's P.commit files stops at one it cannot read; none is removed, and the next commit moves them all" {
	earlier_build_group 2
	# The first commit moves the files; the open of 1.commit for that fails.
	n=$(nth_openat '"1[.]commit", O_RDONLY' es-consume -g g -n 1 t)
	run strace -o /dev/null -e inject=openat:error=EMFILE:when=$n es-consume -g g -n 1 t
	[ "$status" -eq 74 ] || { echo "exit $status: $output"; false; }
	[[ $output == *"cannot open its commits: Too many open files"* ]]
	[ -f t/groups/g/0.commit ] && [ -f t/groups/g/1.commit ] && [ ! -e t/groups/g/commits ]
	run_both es-consume -g g t
	expect 0 "5
3
4
5" ""
	run_both commits t
	expect 0 "0 5
1 5" ""
}

@test "-g: a group of an earlier build (a P.commit file per partition) is read as it is, and moved into the commits file by its next commit" {
	earlier_build_group 3
	run_both commits t
	expect 0 "0 -
1 -
2 -" ""
	# Readers take the old files...
	[[ $(es-lag -J t | jq -c '[.topics[0].groups[0].partitions[].current_offset]') == '[4,2,null]' ]]
	[[ $(es-replay -g g -J t | jq -c '[.partitions[].committed_now]') == '[4,2,null]' ]]
	# ...and a member goes on from them, nothing handed on twice.
	run_both es-consume -g g t
	expect 0 "5
3
4
5
1
2
3
4
5" ""
	[[ $(ls t/groups/g) == $'0.lock\n1.lock\n2.lock\ncommits\nmembers\nreplay.lock' ]]
	run_both commits t
	expect 0 "0 5
1 5
2 5" ""
}

@test "300 partitions under a soft limit of 256 open files: keyed produce, consume, -g and --exec raise it as far as they need" {
	(($(ulimit -Hn) >= 4000)) || skip "hard limit on open files below 4000"
	make_topic t -p 300
	seq 3000 | awk '{ print $1 " v" $1 }' >in
	run bash -c 'ulimit -S -n 256 && es-produce -K " " t <in'
	[[ $status == 0 && -z $output ]] || { echo "produce: $status $output"; false; }
	run bash -c 'ulimit -S -n 256 && es-consume t | sort -V | cmp - <(cut -d" " -f2 in)'
	[[ $status == 0 && -z $output ]] || { echo "consume: $status $output"; false; }
	run bash -c 'ulimit -S -n 256 && es-consume -g g t | wc -l'
	[[ $status == 0 && $output == 3000 ]] || { echo "consume -g: $status $output"; false; }
	run bash -c 'ulimit -S -n 256 && es-consume -g x --exec "wc -l >>counts" t'
	[[ $status == 0 && -z $output ]] || { echo "exec: $status $output"; false; }
	[[ $(awk '{ n += $1 } END { print n }' counts) == 3000 ]]
}
