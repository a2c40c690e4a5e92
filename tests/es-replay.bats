#!/usr/bin/env bats
# es-replay: targets (--to, --to-time in every TIME form, --shift, -p),
# clamping, the plan (table, estimate, -J), plan-only changing nothing, live
# members (75, --wait, --timeout), the replay lock, the durable replay.plan
# (kill -9 at random moments and at every system call: the rerun ends at the
# same offsets, --shift included), and the story of the seed: a counter
# projection rebuilt by a replay (SPEC sections 2, 3, 5; issue 5)
bats_require_minimum_version 1.5.0
load helper

try_help='Try '\''es-replay --help'\'' for more information.'
H='PARTITION   COMMITTED-NOW COMMITTED-AFTER  REDELIVERED      SKIPPED  ESTIMATE'
PLAN_ONLY=' (plan only: add --execute to apply)'

# t: partition 0 holds a0..a4 (offsets 0..4), partition 1 b0..b2 (0..2).
two_parts() {
	make_topic t -p 2
	printf 'a%s\n' 0 1 2 3 4 | es-produce -p 0 t
	printf 'b%s\n' 0 1 2 | es-produce -p 1 t
}

# set_commit TOPIC GROUP P OFFSET: commit through es-replay itself.
set_commit() {
	es-replay -g "$2" --to "$4" -p "$3" --execute "$1" >/dev/null
}

# committed TOPIC GROUP: "P=OFFSET ..." for the partitions with a commit,
# as a plan reads them (the plan's COMMITTED-NOW is checked against where
# es-consume -g starts, below)
committed() {
	es-replay -g "$2" -J "$1" 2>/dev/null |
		jq -r '[.partitions[] | select(.committed_now != null) | "\(.partition)=\(.committed_now)"] | join(" ")'
}

commits_are() { # TOPIC GROUP "P=OFFSET ...": for wait_for
	[[ $(committed "$1" "$2") == "$3" ]]
}

members_are() { # TOPIC GROUP N: N member files (for wait_for)
	[[ $(ls "$1/groups/$2/members" 2>/dev/null | wc -l) == "$3" ]]
}

# commit_at TIME_MS TOPIC GROUP P OFFSET: commit OFFSET as if at TIME_MS
# (tests/tools/replay-clock.c), so that the commit history, hence the
# estimate, is known in advance.
commit_at() {
	ES_TEST_NOW_MS=$1 LD_PRELOAD="$CLOCK" es-replay -g "$3" --to "$5" -p "$4" \
		--execute "$2" >/dev/null
}

setup_file() {
	export CLOCK="$BATS_FILE_TMPDIR/replay-clock.so"
	gcc -shared -fPIC -O2 -o "$CLOCK" "$BATS_TEST_DIRNAME/tools/replay-clock.c" -ldl
}

# kill_point PATTERN CMD... TOPIC: "NAME N", the first system call of CMD
# after its plan file is written whose strace line matches PATTERN, as
# strace's inject=NAME:when=N counts it (the Nth call of NAME): found by a
# traced run of CMD on a copy of TOPIC, which starts in the same state.
kill_point() {
	local pat=$1
	shift
	local t=${!#}
	rm -rf kp.topic && cp -a "$t" kp.topic
	strace -o kp.trace "${@:1:$#-1}" kp.topic >/dev/null 2>&1
	awk -v pat="$pat" '
		{ name = $1; sub(/\(.*/, "", name); n[name]++ }
		/replay\.plan\.tmp/ { on = 1 }
		on && $0 ~ pat { print name, n[name]; found = 1; exit }
		END { exit !found }' kp.trace
}

# The group's files, byte for byte, and the topic's listing.
state() {
	find "$1" -printf '%P %s\n' | LC_ALL=C sort
	find "$1/groups" -type f -exec sha256sum {} + 2>/dev/null | LC_ALL=C sort
}

# A member that runs until stopped; waits until it owns partitions.
start_member() { # TOPIC GROUP
	bg_start es-consume -g "$2" -f "$1" >/dev/null 2>&1
	wait_for 10 has_owner "$1" "$2"
}

has_owner() { # TOPIC GROUP: some partition's lock is held
	local f
	for f in "$1/groups/$2"/*.lock; do
		[[ $f == */replay.lock || ! -e $f ]] && continue
		flock -n -s "$f" true || return 0
	done
	return 1
}

# ---- options ------------------------------------------------------------------

@test "--help, --version" {
	run_both es-replay --help
	[[ $status == 0 && ${lines[0]} == "Usage: es-replay -g GROUP [--to earliest|latest|N | --to-time TIME |" && -z $stderr ]]
	run_both es-replay --version
	[[ $status == 0 && $output == "es-replay (es) "* && -z $stderr ]]
}

@test "usage errors are 64 and change nothing" {
	two_parts
	set_commit t g 0 2
	before=$(state t)
	run_both es-replay t
	expect 64 "" "es-replay: missing -g GROUP
$try_help"
	run_both es-replay -g g
	expect 64 "" "es-replay: missing TOPIC
$try_help"
	run_both es-replay -g g t u
	expect 64 "" "es-replay: too many arguments
$try_help"
	run_both es-replay -g g --to 1 --shift -1 --execute t
	expect 64 "" "es-replay: --to, --to-time and --shift are exclusive
$try_help"
	run_both es-replay -g g --to latest --to-time @0 --execute t
	expect 64 "" "es-replay: --to, --to-time and --shift are exclusive
$try_help"
	run_both es-replay -g g --to first --execute t
	expect 64 "" "es-replay: bad --to 'first' (earliest, latest or N)
$try_help"
	run_both es-replay -g g --to -1 --execute t
	expect 64 "" "es-replay: bad --to '-1' (earliest, latest or N)
$try_help"
	run_both es-replay -g g --shift 3 --execute t
	expect 64 "" "es-replay: bad shift '3' (+N or -N)
$try_help"
	run_both es-replay -g g --shift -x --execute t
	expect 64 "" "es-replay: bad shift '-x' (+N or -N)
$try_help"
	run_both es-replay -g g --to-time yesterday --execute t
	expect 64 "" "es-replay: bad time 'yesterday'
$try_help"
	run_both es-replay -g g --to-time 1700000000000 --execute t
	expect 64 "" "es-replay: bad time '1700000000000'
$try_help"
	run_both es-replay -g g --timeout soon --wait --execute t
	expect 64 "" "es-replay: bad duration 'soon'
$try_help"
	run_both es-replay -g g -p 2 --execute t
	expect 64 "" "es-replay: bad partition list '2' (topic has 2 partitions)
$try_help"
	run_both es-replay -g .hidden --execute t
	expect 64 "" "es-replay: bad group name '.hidden'
$try_help"
	run_both es-replay -g g --bogus t
	expect 64 "" "es-replay: unrecognized option '--bogus'
es-replay: bad option
$try_help"
	[[ $(state t) == "$before" ]]
}

@test "a missing topic is 66, a newer format 78" {
	run_both es-replay -g g --execute nothere
	expect 66 "" "es-replay: no topic 'nothere' (create it with es-topic create)"
	two_parts
	fixture_future_format t
	run_both es-replay -g g t
	[[ $status == 78 && -z $output && $stderr == "es-replay: "*format* ]]
}

# ---- targets ------------------------------------------------------------------

@test "a group without commits: earliest by default, - for committed now" {
	two_parts
	run_both es-replay -g new t
	expect 0 "$H
0                       -               0            0            0  0s
1                       -               0            0            0  0s
estimated replay time: 0s$PLAN_ONLY" ""
	[[ ! -e t/groups/new ]]
	run_both es-replay -g new --to latest t
	expect 0 "$H
0                       -               5            0            5  0s
1                       -               3            0            3  0s
estimated replay time: 0s$PLAN_ONLY" ""
	[[ ! -e t/groups/new ]]
}

@test "--to N, --to latest, --to earliest --execute move the commits; es-consume -g follows" {
	two_parts
	run_both es-replay -g g --to 2 --execute t
	expect 0 "$H
0                       -               2            0            2  0s
1                       -               2            0            2  0s
estimated replay time: 0s" ""
	[[ $(committed t g) == "0=2 1=2" ]]
	[[ ! -e t/groups/g/replay.plan ]]
	run es-consume -g g -F '%p:%o:%s\n' t
	[[ $status == 0 && $output == "0:2:a2
0:3:a3
0:4:a4
1:2:b2" ]]
	[[ $(committed t g) == "0=5 1=3" ]]
	run_both es-replay -g g --to earliest --execute t
	expect 0 "$H
0                       5               0            5            0  0s
1                       3               0            3            0  0s
estimated replay time: 0s" ""
	[[ $(committed t g) == "0=0 1=0" ]]
	run_both es-replay -g g --to latest --execute t
	expect 0 "$H
0                       0               5            0            5  0s
1                       0               3            0            3  0s
estimated replay time: 0s" ""
	[[ $(committed t g) == "0=5 1=3" ]]
	echo a5 | es-produce -p 0 t
	run es-consume -g g t
	[[ $status == 0 && $output == a5 ]]
}

@test "--to past the end is clamped to the end with a warning, exit 0" {
	two_parts
	run_both es-replay -g g --to 4 --execute t
	expect 0 "$H
0                       -               4            0            4  0s
1                       -               3            0            3  0s
estimated replay time: 0s" "es-replay: warning: partition 1: target outside the retained range [0, 3], clamped to 3"
	[[ $(committed t g) == "0=4 1=3" ]]
	run_both es-replay -g g --to 100 -J t
	[[ $status == 0 && $stderr == "es-replay: warning: partition 0: target outside the retained range [0, 5], clamped to 5
es-replay: warning: partition 1: target outside the retained range [0, 3], clamped to 3" ]]
	run jq -c '.partitions[] | [.partition, .committed_now, .committed_after, .skipped, .clamped]' <<<"$output"
	[[ $output == "[0,4,5,1,true]
[1,3,3,0,true]" ]]
}

@test "below the first retained offset (after retention): clamped up; earliest is no clamp" {
	make_topic r --segment-bytes 100B
	for i in 0 1 2 3 4 5 6 7; do
		echo "{\"value\":\"r$i\",\"timestamp\":$((1700000000000 + i * 1000))}"
	done | es-produce -J r
	set_commit r g 0 1
	es-compact r >/dev/null 2>&1
	[[ $(es-consume -F '%o ' r) == "6 7 " ]]
	run_both es-replay -g g --to 3 r
	expect 0 "$H
0                       1               6            0            5  0s
estimated replay time: 0s$PLAN_ONLY" "es-replay: warning: partition 0: target outside the retained range [6, 8], clamped to 6"
	run_both es-replay -g g r
	expect 0 "$H
0                       1               6            0            5  0s
estimated replay time: 0s$PLAN_ONLY" ""
	run_both es-replay -g g --to earliest r
	expect 0 "$H
0                       1               6            0            5  0s
estimated replay time: 0s$PLAN_ONLY" ""
	[[ $(es-replay -g g --to earliest -J r | jq -c '.partitions[0].clamped') == false ]]
	run_both es-replay -g g --shift -1 r
	expect 0 "$H
0                       1               6            0            5  0s
estimated replay time: 0s$PLAN_ONLY" "es-replay: warning: partition 0: target outside the retained range [6, 8], clamped to 6"
	# A group without a commit shifts from the first retained offset.
	run_both es-replay -g fresh --shift +1 --execute r
	expect 0 "$H
0                       -               7            0            1  0s
estimated replay time: 0s" ""
	[[ $(committed r fresh) == "0=7" ]]
}

@test "--shift -N replays, +N skips, from the committed offset; clamped both ways" {
	two_parts
	set_commit t g 0 4
	set_commit t g 1 1
	run_both es-replay -g g --shift -2 t
	expect 0 "$H
0                       4               2            2            0  unknown
1                       1               0            1            0  unknown
estimated replay time: unknown$PLAN_ONLY" "es-replay: warning: partition 1: target outside the retained range [0, 3], clamped to 0"
	run_both es-replay -g g --shift +2 t
	expect 0 "$H
0                       4               5            0            1  0s
1                       1               3            0            2  0s
estimated replay time: 0s$PLAN_ONLY" "es-replay: warning: partition 0: target outside the retained range [0, 5], clamped to 5"
	run_both es-replay -g g --shift -1 --execute t
	[[ $status == 0 && -z $stderr ]]
	[[ $(committed t g) == "0=3 1=0" ]]
	run_both es-replay -g g --shift +0 --execute t
	[[ $status == 0 && -z $stderr ]]
	[[ $(committed t g) == "0=3 1=0" ]]
	run es-consume -g g -F '%p:%o:%s\n' t
	[[ $output == "0:3:a3
0:4:a4
1:0:b0
1:1:b1
1:2:b2" ]]
}

@test "-p LIST: only those partitions are planned and moved; the others' files are untouched" {
	make_topic t4 -p 4
	for p in 0 1 2 3; do
		seq 1 6 | es-produce -p $p t4
		set_commit t4 g $p 6
	done
	sums() { # of each partition's region of the commits file
		for p in 0 1 2 3; do
			dd if=t4/groups/g/commits bs=8192 skip=$p count=1 status=none | sha256sum | cut -c1-64
		done | paste -sd' '
	}
	read -r s0 s1 s2 s3 <<<"$(sums)"
	run_both es-replay -g g --to 1 -p 1,3 --execute t4
	expect 0 "$H
1                       6               1            5            0  unknown
3                       6               1            5            0  unknown
estimated replay time: unknown" ""
	[[ $(committed t4 g) == "0=6 1=1 2=6 3=1" ]]
	read -r n0 n1 n2 n3 <<<"$(sums)"
	[[ $n0 == "$s0" && $n2 == "$s2" && $n1 != "$s1" && $n3 != "$s3" ]]
	run_both es-replay -g g --to earliest -p 0-2 --execute t4
	expect 0 "$H
0                       6               0            6            0  unknown
1                       1               0            1            0  unknown
2                       6               0            6            0  unknown
estimated replay time: unknown" ""
	[[ $(committed t4 g) == "0=0 1=0 2=0 3=1" ]]
	run_both es-replay -g g --shift +2 -p 3,0 --execute t4
	[[ $status == 0 && ${#lines[@]} == 4 && ${lines[1]} == "0 "* && ${lines[2]} == "3 "* ]]
	[[ $(committed t4 g) == "0=2 1=0 2=0 3=3" ]]
}

# ---- --to-time ----------------------------------------------------------------

# tt: five records a minute apart from 2023-11-14T22:13:20Z, three a segment.
timed() {
	make_topic tt --segment-bytes 128B
	for i in 0 1 2 3 4; do
		echo "{\"key\":\"k\",\"value\":\"v$i\",\"timestamp\":$((1700000000000 + i * 60000))}"
	done | es-produce -J tt
}

# after TIME...: the committed offset after each plan, one per line
after() {
	local tm
	for tm in "$@"; do
		es-replay -g g -J --to-time "$tm" tt | jq -r '.partitions[0].committed_after'
	done
}

@test "--to-time: RFC 3339, the first record at or after TIME" {
	timed
	run_both es-replay -g g --to-time 2023-11-14T22:14:20Z tt
	expect 0 "$H
0                       -               1            0            1  0s
estimated replay time: 0s$PLAN_ONLY" ""
	run after 2023-11-14T22:14:20.001Z 2023-11-14T22:14:19.999Z \
		2023-11-14T23:15:20+01:00 2023-11-14T17:17:20-05:00 \
		2023-11-14T22:00:00Z 2023-11-14T22:17:21Z
	[[ $output == "2
1
2
4
0
5" ]]
}

@test "--to-time: local YYYY-MM-DD HH:MM[:SS] and YYYY-MM-DD, in TZ" {
	timed
	TZ=UTC0 run after "2023-11-14 22:15" "2023-11-14 22:15:20" "2023-11-14 22:15:21" \
		2023-11-14 2023-11-15
	[[ $output == "2
2
3
0
5" ]]
	# The same wall-clock text in another zone is another instant.
	TZ=JST-9 run after "2023-11-15 07:15" "2023-11-15 07:16:20" "2023-11-14 22:15"
	[[ $output == "2
3
0" ]]
	TZ=Asia/Tokyo run after "2023-11-15 07:14:20"
	[[ $output == 1 ]]
}

@test "--to-time: @EPOCH_MS" {
	timed
	run after @1700000060000 @1700000060001 @0 @1700000240000 @1700000240001
	[[ $output == "1
2
0
4
5" ]]
}

@test "--to-time: -DURATION, relative to now" {
	make_topic rel
	now=$(($(date +%s%N) / 1000000))
	for h in 5 3 2 1 0; do
		echo "{\"value\":\"h$h\",\"timestamp\":$((now - h * 3600000 - 60000))}"
	done | es-produce -J rel
	for d in -6h -4h -150m -2h -1h -30m -30s -7d -1w; do
		es-replay -g g -J --to-time "$d" rel | jq -r '.partitions[0].committed_after'
	done >got
	[[ $(paste -sd' ' got) == "0 1 2 3 4 4 5 0 0" ]]
}

@test "--to-time goes through the time index: the same offset as es-consume --since, out-of-order timestamps too" {
	make_topic ooo --segment-bytes 200B -p 2
	# Timestamps that go back now and then: the first record at or after
	# TIME is found with the largest timestamp so far, as Kafka's index does.
	for i in $(seq 0 39); do
		ts=$((1700000000000 + (i * 37 % 11) * 1000 + i * 500))
		echo "{\"value\":\"v$i\",\"timestamp\":$ts,\"partition\":$((i % 2))}"
	done | es-produce -J ooo
	[[ $(ls ooo/0 | grep -c '\.log$') -gt 3 ]]
	for s in $(seq 0 2 34); do
		tm=@$((1700000000000 + s * 1000))
		want=$(for p in 0 1; do
			o=$(es-consume --since "$tm" -p $p -n 1 -F '%o' ooo)
			echo "${o:-$(topic_next ooo $p)}"
		done | paste -sd' ')
		got=$(es-replay -g g -J --to-time "$tm" ooo | jq -r '[.partitions[].committed_after] | join(" ")')
		[[ $got == "$want" ]] || { echo "$tm: es-replay $got, es-consume --since $want"; false; }
	done
}

@test "--to-time past the newest record: the end, no warning; before the oldest: the first" {
	timed
	set_commit tt g 0 2
	run_both es-replay -g g --to-time @1800000000000 tt
	expect 0 "$H
0                       2               5            0            3  0s
estimated replay time: 0s$PLAN_ONLY" ""
	run_both es-replay -g g --to-time 2000-01-01T00:00:00Z --execute tt
	expect 0 "$H
0                       2               0            2            0  unknown
estimated replay time: unknown" ""
	[[ $(committed tt g) == "0=0" ]]
}

@test "a compressed topic: the same retained range, targets and times as before compression" {
	make_topic logs --compression zlib --segment-bytes 64KiB
	seq 100000 | es-produce logs
	cp -a logs plain
	es-compact logs >/dev/null
	[[ $(ls logs/0 | grep -c '\.zlog$') == 62 ]]
	run_both es-replay -g g --to 50000 --execute logs
	expect 0 "$H
0                       -           50000            0        50000  0s
estimated replay time: 0s" ""
	[[ $(es-consume -g g -n 2 logs) == "50001
50002" ]]
	run_both es-replay -g g --to earliest logs
	[[ $status == 0 && -z $stderr && ${lines[1]} == "0                   50002               0        50002            0  "* ]]
	run_both es-replay -g g --shift -7 logs
	[[ $status == 0 && -z $stderr && ${lines[1]} == "0                   50002           49995            7            0  "* ]]
	for tm in @0 -1h @$(($(date +%s%N) / 1000000 + 60000)); do
		[[ $(es-replay -g h -J --to-time "$tm" logs) == "$(es-replay -g h -J --to-time "$tm" plain | sed 's/"topic":"plain"/"topic":"logs"/')" ]]
	done
}

# ---- the plan -----------------------------------------------------------------

@test "without --execute nothing changes: the group's files byte for byte, the topic's listing" {
	two_parts
	es-consume -g g t >/dev/null
	set_commit t g 1 1
	before=$(state t)
	for args in "" "--to latest" "--to 2" "--to 99" "--to-time @0" "--to-time -1h" \
		"--shift -1" "--shift +7" "-p 1" "-J" "-J --to 0 -p 0"; do
		# shellcheck disable=SC2086
		es-replay -g g $args t >/dev/null 2>&1
		[[ $(state t) == "$before" ]] || { echo "changed by: $args"; false; }
	done
	run es-replay -g other t
	[[ $status == 0 && ! -e t/groups/other ]]
}

@test "the estimate: REDELIVERED at the rate of the commit history; the largest for the whole" {
	make_topic t -p 3
	for p in 0 1 2; do seq 1 1200 | es-produce -p $p t; done
	T=1764180000000
	# 10 records/s, 0.5/s, 0.1/s over the history.
	commit_at $T t g 0 0
	commit_at $((T + 100000)) t g 0 1000
	commit_at $T t g 1 350
	commit_at $((T + 500000)) t g 1 600
	commit_at $T t g 2 1150
	commit_at $((T + 200000)) t g 2 1170
	commit_at $((T + 500000)) t g 2 1200
	run_both es-replay -g g -p 0,1 t
	expect 0 "$H
0                    1000               0         1000            0  1m40s
1                     600               0          600            0  20m00s
estimated replay time: 20m00s$PLAN_ONLY" ""
	run_both es-replay -g g --shift -42 -p 0 t
	expect 0 "$H
0                    1000             958           42            0  4s
estimated replay time: 4s$PLAN_ONLY" ""
	run_both es-replay -g g t
	expect 0 "$H
0                    1000               0         1000            0  1m40s
1                     600               0          600            0  20m00s
2                    1200               0         1200            0  3h20m
estimated replay time: 3h20m$PLAN_ONLY" ""
	run es-replay -g g -J t
	[[ $status == 0 ]]
	run jq -c '[.estimate_seconds, [.partitions[].estimate_seconds]]' <<<"$output"
	[[ $output == "[12000,[100,1200,12000]]" ]]
	# Skipping costs no time.
	run_both es-replay -g g --to latest t
	expect 0 "$H
0                    1000            1200            0          200  0s
1                     600            1200            0          600  0s
2                    1200            1200            0            0  0s
estimated replay time: 0s$PLAN_ONLY" ""
}

@test "the estimate uses the last 10 minutes of the history, since the offset last went back" {
	make_topic t
	seq 1 1000 | es-produce t
	T=1764180000000
	# 100 records in the first 20 minutes, then 60 in one: 1/s lately.
	commit_at $T t g 0 0
	commit_at $((T + 1200000)) t g 0 100
	commit_at $((T + 1260000)) t g 0 160
	run_both es-replay -g g t
	expect 0 "$H
0                     160               0          160            0  2m40s
estimated replay time: 2m40s$PLAN_ONLY" ""
	# A replay back starts the history afresh: 40 records in 10 s since.
	commit_at $((T + 1270000)) t g 0 10
	commit_at $((T + 1280000)) t g 0 50
	run_both es-replay -g g --shift -20 t
	expect 0 "$H
0                      50              30           20            0  5s
estimated replay time: 5s$PLAN_ONLY" ""
}

@test "the estimate is unknown without a history of two points, or when the offset did not grow" {
	two_parts
	T=1764180000000
	commit_at $T t g 0 4
	commit_at $T t g 1 2
	commit_at $((T + 10000)) t g 1 1
	run_both es-replay -g g t
	expect 0 "$H
0                       4               0            4            0  unknown
1                       1               0            1            0  unknown
estimated replay time: unknown$PLAN_ONLY" ""
	run es-replay -g g -J t
	[[ $(jq -c '[.estimate_seconds, [.partitions[].estimate_seconds]]' <<<"$output") == "[null,[null,null]]" ]]
	# Nothing redelivered: 0s, known, whatever the history.
	run_both es-replay -g g --to latest t
	[[ $status == 0 && ${lines[3]} == "estimated replay time: 0s$PLAN_ONLY" ]]
	# A commit that es-replay itself wrote is a single point.
	set_commit t h 0 3
	run_both es-replay -g h -p 0 t
	expect 0 "$H
0                       3               0            3            0  unknown
estimated replay time: unknown$PLAN_ONLY" ""
}

@test "-J: one valid JSON object; the same plan as the table" {
	two_parts
	set_commit t g 0 3
	run_both es-replay -g g -J --shift -2 t
	[[ $status == 0 && ${#lines[@]} == 1 ]]
	[[ $stderr == "es-replay: warning: partition 1: target outside the retained range [0, 3], clamped to 0" ]]
	jq -e . <<<"$output" >/dev/null
	[[ $(jq -c . <<<"$output") == '{"topic":"t","group":"g","execute":false,"partitions":[{"partition":0,"committed_now":3,"committed_after":1,"redelivered":2,"skipped":0,"clamped":false,"estimate_seconds":null},{"partition":1,"committed_now":null,"committed_after":0,"redelivered":0,"skipped":0,"clamped":true,"estimate_seconds":0}],"estimate_seconds":null}' ]]
	table=$(es-replay -g g --shift -2 t 2>/dev/null | sed '1d;$d' | awk '{print $1, $2, $3, $4, $5}')
	json=$(jq -r '.partitions[] | "\(.partition) \(.committed_now // "-") \(.committed_after) \(.redelivered) \(.skipped)"' <<<"$output")
	[[ $table == "$json" ]]
	run_both es-replay -g g -J --to 1 --execute t
	[[ $status == 0 && $(jq -r .execute <<<"$output") == true ]]
	# Names that need escaping stay valid JSON.
	mkdir 'we"ird\dir'
	two_parts_in() { make_topic "$1" && echo x | es-produce "$1"; }
	two_parts_in 'we"ird\dir/t'
	run es-replay -g g -J 'we"ird\dir/t'
	[[ $status == 0 && $(jq -r .topic <<<"$output") == 'we"ird\dir/t' ]]
}

# ---- members --------------------------------------------------------------------

@test "live members: a plan is printed with a warning; --execute refuses with 75, naming them" {
	two_parts
	start_member t g
	pid1=$bg_pid
	wait_for 10 commits_are t g "0=5 1=3"
	run_both es-replay -g g --to latest t
	expect 0 "$H
0                       5               5            0            0  0s
1                       3               3            0            0  0s
estimated replay time: 0s$PLAN_ONLY" "es-replay: warning: group 'g' has 1 live member (pid $pid1): this plan cannot be applied while they run"
	before=$(state t)
	run_both es-replay -g g --execute t
	expect 75 "" "es-replay: group 'g' has 1 live member (pid $pid1); stop them or use --wait"
	bg_start es-consume -g g -f t >/dev/null 2>&1
	pid2=$bg_pid
	wait_for 10 members_are t g 2
	before=$(state t)
	run_both es-replay -g g --to latest --execute t
	[[ $status == 75 && -z $output ]]
	[[ $stderr == "es-replay: group 'g' has 2 live members (pid $pid1, $pid2); stop them or use --wait" ||
		$stderr == "es-replay: group 'g' has 2 live members (pid $pid2, $pid1); stop them or use --wait" ]]
	[[ $(state t) == "$before" && ! -e t/groups/g/replay.plan ]]
	bg_stop "$pid2" && bg_stop "$pid1"
}

@test "--wait: applied once the member goes" {
	two_parts
	start_member t g
	member=$bg_pid
	wait_for 10 commits_are t g "0=5 1=3"
	bg_start es-replay -g g --to 1 --execute --wait --timeout 20s t >out 2>err
	replay=$bg_pid
	# It waits while the member runs...
	wait_for 5 test -e t/groups/g/replay.lock
	running "$replay"
	[[ $(committed t g) == "0=5 1=3" && ! -s out ]]
	# ...and applies as soon as it is gone.
	bg_stop "$member"
	wait_for 10 stopped "$replay"
	wait "$replay"
	[[ $(sed -n '1p;2s/ *[^ ]*$//p;3s/ *[^ ]*$//p' out) == "$H
0                       5               1            4            0
1                       3               1            2            0" ]]
	[[ ! -s err ]]
	[[ $(committed t g) == "0=1 1=1" ]]
}

@test "--wait --timeout: a member that stays makes it 75, after about the timeout" {
	two_parts
	start_member t g
	member=$bg_pid
	start=$(date +%s%N)
	run_both es-replay -g g --execute --wait --timeout 300ms t
	ms=$((($(date +%s%N) - start) / 1000000))
	expect 75 "" "es-replay: group 'g' still has live members (pid $member) after --timeout"
	((ms >= 300 && ms < 5000))
	[[ $(committed t g) == "0=5 1=3" ]]
	running "$member"
	bg_stop "$member"
}

@test "another replay holding the lock: 75 at once, or --wait for it" {
	two_parts
	mkdir -p t/groups/g
	# The lock held by the process that bg_stop stops (flock(1)'s child
	# would keep it after flock itself died).
	bg_start bash -c 'exec 9>t/groups/g/replay.lock && flock 9 && exec sleep 30'
	holder=$bg_pid
	wait_for 5 sh -c '! flock -n t/groups/g/replay.lock true'
	run_both es-replay -g g --execute t
	expect 75 "" "es-replay: group 'g': another replay is running"
	run_both es-replay -g g --execute --wait --timeout 200ms t
	expect 75 "" "es-replay: group 'g': another replay is still running after --timeout"
	# A plan only needs no lock.
	run_both es-replay -g g t
	[[ $status == 0 && -z $stderr ]]
	bg_start es-replay -g g --to 2 --execute --wait --timeout 20s t >out 2>err
	replay=$bg_pid
	running "$replay"
	bg_stop "$holder"
	wait_for 10 stopped "$replay"
	wait "$replay"
	[[ ! -s err && $(committed t g) == "0=2 1=2" ]]
}

@test "SIGTERM while waiting for members: dies by the signal at once, nothing applied" {
	two_parts
	start_member t g
	member=$bg_pid
	bg_start es-replay -g g --to 1 --execute --wait t >out 2>err
	replay=$bg_pid
	wait_for 5 test -e t/groups/g/replay.lock
	bg_stop "$replay" TERM
	[[ $bg_status == 143 ]]
	[[ $(committed t g) == "0=5 1=3" && ! -e t/groups/g/replay.plan ]]
	bg_stop "$member"
}

@test "while a plan applies no member takes a partition; it starts from the new offsets" {
	two_parts
	es-consume -g g t >/dev/null
	# Stop es-replay as it comes to its first commit (the plan file is
	# written, the replay lock held), by strace's signal injection.
	at=$(kill_point 'pwrite64\(.*, 4096, (0|4096)\)' es-replay -g g --to 1 --execute t)
	bg_start strace -o /dev/null -e "inject=${at% *}:signal=STOP:when=${at#* }" \
		es-replay -g g --to 1 --execute t >out 2>err
	tracer=$bg_pid
	wait_for 10 test -e t/groups/g/replay.plan
	replay=$(tr -d ' ' <"/proc/$tracer/task/$tracer/children")
	wait_for 10 grep -q '^State:.*t (tracing stop)' "/proc/$replay/status"
	# A member without -f has nothing to own and exits 0 with nothing.
	run_both es-consume -g g -F '%p:%o\n' t
	expect 0 "" ""
	# A following member waits for partitions...
	bg_start es-consume -g g -f -F '%p:%o:%s\n' t >member.out 2>member.err
	member=$bg_pid
	wait_for 5 members_are t g 1
	run ! has_owner t g
	# ...and, once the replay is done, reads from where it put the group.
	kill -CONT "$replay"
	wait_for 10 stopped "$tracer"
	wait "$tracer"
	[[ ! -s err && $(committed t g) != "0=5 1=3" ]]
	wait_for 10 lines_at_least 6 member.out
	bg_stop "$member"
	[[ $(sort member.out) == "0:1:a1
0:2:a2
0:3:a3
0:4:a4
1:1:b1
1:2:b2" ]]
}

# ---- interrupted ----------------------------------------------------------------

@test "an interrupted replay is finished by the next run, which then stops: --shift is not applied twice" {
	make_topic t -p 3
	for p in 0 1 2; do seq 1 10 | es-produce -p $p t; done
	es-consume -g g t >/dev/null
	# Killed as it comes to the second commit: partition 0 moved, 1 and 2
	# not.
	at=$(kill_point 'pwrite64\(.*, 4096, (8192|12288)\)' es-replay -g g --shift -3 --execute t)
	run strace -o /dev/null -e "inject=${at% *}:signal=KILL:when=${at#* }" \
		es-replay -g g --shift -3 --execute t
	[[ $status == 137 ]]
	[[ $(committed t g) == "0=7 1=10 2=10" && -e t/groups/g/replay.plan ]]
	# Members are refused until it is finished, as for any replay.
	run_both es-replay -g g --shift -3 --execute t
	expect 0 "" "es-replay: warning: finished an interrupted replay (to=earliest to-time=-1 shift=-3 p=all)"
	[[ $(committed t g) == "0=7 1=7 2=7" && ! -e t/groups/g/replay.plan ]]
	# Another command finishes the old plan, then applies its own.
	at=$(kill_point 'pwrite64\(.*, 4096, (16384|20480)\)' es-replay -g g --to 1 --execute t)
	run strace -o /dev/null -e "inject=${at% *}:signal=KILL:when=${at#* }" \
		es-replay -g g --to 1 --execute t
	[[ $status == 137 && $(committed t g) == "0=1 1=1 2=7" ]]
	run_both es-replay -g g --to latest -p 2 --execute t
	expect 0 "$H
2                       1              10            0            9  0s
estimated replay time: 0s" "es-replay: warning: finished an interrupted replay (to=1 to-time=-1 shift=0 p=all)"
	[[ $(committed t g) == "0=1 1=1 2=10" && ! -e t/groups/g/replay.plan ]]
}

@test "an interrupted replay's plan is not applied where members moved the group on since; it is where they did not" {
	make_topic t -p 2
	for p in 0 1; do seq 1 10 | es-produce -p $p t; done
	es-consume -g g t >/dev/null
	# Killed at its last step: the commits written, the plan left.
	at=$(kill_point 'unlink(at)?\(.*replay\.plan"' es-replay -g g --to 2 --execute t)
	run strace -o /dev/null -e "inject=${at% *}:signal=KILL:when=${at#* }" \
		es-replay -g g --to 2 --execute t
	[[ $status == 137 && $(committed t g) == "0=2 1=2" && -e t/groups/g/replay.plan ]]
	# Members go on from there: partition 0 to 15, partition 1 back to 10.
	seq 11 15 | es-produce -p 0 t
	es-consume -g g t >/dev/null
	[[ $(committed t g) == "0=15 1=10" ]]
	# The next replay finishes the old plan only on partition 1, which is
	# where it was planned from, then applies its own.
	run_both es-replay -g g --shift -1 --execute t
	[[ $status == 0 ]]
	[[ $stderr == *"partition 0: the group is at 15, not at 10 as planned: the interrupted replay is not applied there"* ]]
	[[ $stderr == *"finished an interrupted replay (to=2 to-time=-1 shift=0 p=all)"* ]]
	[[ $(committed t g) == "0=14 1=1" && ! -e t/groups/g/replay.plan ]]
}

@test "a torn replay.plan is no plan: removed, and the run plans afresh" {
	two_parts
	set_commit t g 0 5
	printf 'es-replay plan 1\nto=earliest to-time=-1 shift=0 p=all\n0 0\n' >t/groups/g/replay.plan
	run_both es-replay -g g --to 4 -p 0 --execute t
	expect 0 "$H
0                       5               4            1            0  unknown
estimated replay time: unknown" ""
	[[ $(committed t g) == "0=4" && ! -e t/groups/g/replay.plan ]]
}

# The kill loops: the state after a kill is the old offsets, the new ones, or
# a plan on disk; the same command run again ends at the planned offsets.
# (A kill after the plan file is removed comes after the work is done: the
# offsets are already the planned ones, and a rerun of --shift would be a
# second replay, as running a finished command twice is.)
@test "kill -9 at random moments (20 times): the rerun ends at the same offsets, --shift included" {
	make_topic big -p 40
	seq 1 400 | es-produce --sync none big
	es-consume -g g big >/dev/null
	cp -a big/groups/g saved
	old=$(committed big g)
	want=$(echo "$old" | tr ' ' '\n' | awk -F= '{ printf "%s%s=%d", (NR > 1 ? " " : ""), $1, $2 - 4 }')
	# Kill within the time a whole run takes here (and a little after).
	t0=$(date +%s%N)
	es-replay -g g --shift -4 --execute big >/dev/null
	span=$((($(date +%s%N) - t0) / 1000000 + 5))
	[[ $(committed big g) == "$want" ]]
	mid=0 done_before=0 not_started=0
	for i in $(seq 1 20); do
		rm -rf big/groups/g && cp -a saved big/groups/g
		es-replay -g g --shift -4 --execute big >/dev/null 2>&1 &
		pid=$!
		sleep "$(printf '0.%03d' $((RANDOM % span)))"
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		now=$(committed big g)
		if [[ -e big/groups/g/replay.plan ]]; then
			mid=$((mid + 1))
		elif [[ $now == "$want" ]]; then
			done_before=$((done_before + 1))
			continue
		else
			[[ $now == "$old" ]] || { echo "iteration $i: half moved without a plan: $now"; false; }
			not_started=$((not_started + 1))
		fi
		run_both es-replay -g g --shift -4 --execute big
		[[ $status == 0 ]] || { echo "iteration $i: rerun exited $status: $stderr"; false; }
		[[ $(committed big g) == "$want" ]] || { echo "iteration $i: $(committed big g)"; false; }
		[[ ! -e big/groups/g/replay.plan ]]
	done
	echo "# replay kill loop: 20 kills within ${span} ms: $mid with the plan half applied, $not_started before the plan, $done_before after it" >&3
}

@test "kill -9 at every system call of a small replay (strace): the rerun ends at the same offsets" {
	run "$BATS_TEST_DIRNAME/tools/replay-crash.sh" "$BATS_TEST_TMPDIR/w"
	echo "# $output" >&3
	[[ $status == 0 ]]
}

# ---- the story ----------------------------------------------------------------

@test "the counter projection: built by es-consume --exec, wiped, replayed to earliest, rebuilt the same" {
	gcc -O2 -o gen-likes "$BATS_TEST_DIRNAME/bench/gen-likes.c" -lm
	./gen-likes 2000 7 50 1.0 30 >likes.jsonl
	make_topic likes -p 4
	es-produce --key-field post_id likes <likes.jsonl
	# The handler: counts per post_id, one file per partition (a post's
	# events all go to its partition), replaced atomically.
	cat >count.sh <<-'EOF'
		f=counts/$ES_PARTITION
		awk -v f="$f" '
			BEGIN { while ((getline l < f) > 0) { split(l, a, " "); c[a[1]] = a[2] } }
			match($0, /"post_id":[0-9]+/) {
				id = substr($0, RSTART + 10, RLENGTH - 10)
				c[id] += index($0, "\"type\":\"LikeRemoved\"") ? -1 : 1
			}
			END { for (k in c) print k, c[k] > (f ".tmp") }' &&
		mv "$f.tmp" "$f"
	EOF
	mkdir counts
	run_both es-consume -g counter --batch 200 --exec 'sh count.sh' likes
	expect 0 "" ""
	cat counts/* | sort -n >first
	# The counts are right: the same as from the events directly.
	jq -r '"\(.type) \(.post_id)"' likes.jsonl | awk '
		$1 == "LikeCreated" { c[$2]++ } $1 == "LikeRemoved" { c[$2]-- }
		END { for (k in c) print k, c[k] }' | sort -n >want
	diff first want
	[[ $(wc -l <first) == 50 ]]
	# Wiped, replayed to earliest, rebuilt (in other batches, two at once).
	rm -rf counts && mkdir counts
	run_both es-replay -g counter --to earliest --execute likes
	[[ $status == 0 && -z $stderr ]]
	[[ $(committed likes counter) == "0=0 1=0 2=0 3=0" ]]
	run_both es-consume -g counter -j 2 --batch 77 --exec 'sh count.sh' likes
	expect 0 "" ""
	cat counts/* | sort -n >rebuilt
	diff rebuilt first
}
