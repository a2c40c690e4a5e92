#!/usr/bin/env bats
# es-consume (pipe mode): positions, times, partitions, formats, follow,
# signals, corruption (SPEC sections 2, 3, 5)
bats_require_minimum_version 1.5.0
load helper

try_help='Try '\''es-consume --help'\'' for more information.'

# Two partitions: 0 holds 1..5 (offsets 0..4), 1 holds 11..13 (offsets 0..2).
two_partitions() {
	make_topic t -p 2
	seq 1 5 | es-produce -p 0 t
	seq 11 13 | es-produce -p 1 t
}

# Four records at known times, 1 s apart from 2023-11-14T22:13:20Z.
timed() {
	make_topic ts
	for i in 0 1 2 3; do
		echo "{\"value\":\"v$i\",\"timestamp\":170000000${i}000}"
	done | es-produce -J ts
}

next_at_least() { # TOPIC N
	local n
	n=$(topic_next "$1") && ((n >= $2))
}

# ---- start positions ----------------------------------------------------------

@test "default: every record, in offset order per partition, value and newline" {
	two_partitions
	run_both es-consume t
	expect 0 "1
2
3
4
5
11
12
13" ""
}

@test "-o earliest and latest" {
	two_partitions
	run_both es-consume -o earliest -F '%p:%o:%s\n' t
	expect 0 "0:0:1
0:1:2
0:2:3
0:3:4
0:4:5
1:0:11
1:1:12
1:2:13" ""
	run_both es-consume -o latest t
	expect 0 "" ""
}

@test "-o N applies to each partition, as in kcat" {
	two_partitions
	run_both es-consume -o 1 -F '%p:%o:%s\n' t
	expect 0 "0:1:2
0:2:3
0:3:4
0:4:5
1:1:12
1:2:13" ""
	run_both es-consume -o 4 -F '%p:%o:%s\n' t
	expect 0 "0:4:5" ""
}

@test "-o -N: N before the end of each partition" {
	two_partitions
	run_both es-consume -o -2 -F '%p:%o:%s\n' t
	expect 0 "0:3:4
0:4:5
1:1:12
1:2:13" ""
	run_both es-consume -o -4 -F '%p:%o\n' t
	expect 0 "0:1
0:2
0:3
0:4
1:0
1:1
1:2" ""
}

@test "-o N past the end reads nothing, exit 0" {
	two_partitions
	run_both es-consume -o 100 t
	expect 0 "" ""
	run_both es-consume -o 5 t
	expect 0 "" ""
}

# Ten records in segments of two (a tiny --segment-bytes), the oldest
# segment deleted by hand: the first retained offset is 2.
old_segment_gone() {
	make_topic t --segment-bytes 100
	seq 1 10 | es-produce t
	[[ -f t/0/00000000000000000002.log ]]
	rm t/0/00000000000000000000.log t/0/00000000000000000000.index
}

@test "-o N below the first retained offset starts there, with a warning" {
	old_segment_gone
	run_both es-consume -o 1 -F '%o:%s\n' t
	expect 0 "2:3
3:4
4:5
5:6
6:7
7:8
8:9
9:10" "es-consume: warning: partition 0: offset 1 is below the first retained offset; starting at 2"
	run_both es-consume -o 3 -n 2 -F '%o:%s\n' t
	expect 0 "3:4
4:5" ""
}

@test "earliest (the default) after old segments were deleted: no warning" {
	old_segment_gone
	run_both es-consume -n 2 -F '%o:%s\n' t
	expect 0 "2:3
3:4" ""
	run_both es-consume -o earliest -n 2 -F '%o:%s\n' t
	expect 0 "2:3
3:4" ""
	run_both es-consume -o -100 -n 1 -F '%o:%s\n' t
	expect 0 "2:3" ""
}

@test "-o N into a closed segment, and -N across segments" {
	make_topic t --segment-bytes 100
	seq 1 10 | es-produce t
	run_both es-consume -o 5 -n 3 -F '%o:%s\n' t
	expect 0 "5:6
6:7
7:8" ""
	run_both es-consume -o -3 -F '%o:%s\n' t
	expect 0 "7:8
8:9
9:10" ""
}

# ---- time ---------------------------------------------------------------------------

@test "--since @EPOCH_MS is inclusive, --until exclusive" {
	timed
	run_both es-consume --since @1700000001000 -F '%o %T %I %s\n' ts
	expect 0 "1 1700000001000 2023-11-14T22:13:21.000Z v1
2 1700000002000 2023-11-14T22:13:22.000Z v2
3 1700000003000 2023-11-14T22:13:23.000Z v3" ""
	run_both es-consume --until @1700000002000 ts
	expect 0 "v0
v1" ""
	run_both es-consume --since @1700000000001 --until @1700000002999 ts
	expect 0 "v1
v2" ""
}

@test "--since/--until with RFC 3339 times (Z, offsets, fractions)" {
	timed
	run_both es-consume --since 2023-11-14T22:13:21Z --until 2023-11-14T22:13:23Z ts
	expect 0 "v1
v2" ""
	run_both es-consume --since 2023-11-14T23:13:22+01:00 ts
	expect 0 "v2
v3" ""
	run_both es-consume --since 2023-11-14T22:13:21.500Z ts
	expect 0 "v2
v3" ""
}

@test "--since with local times YYYY-MM-DD[ HH:MM[:SS]] follows TZ" {
	timed
	TZ=UTC run_both es-consume --since '2023-11-14 22:13:22' ts
	expect 0 "v2
v3" ""
	TZ=UTC run_both es-consume --since '2023-11-14 22:13' ts
	expect 0 "v0
v1
v2
v3" ""
	TZ=UTC run_both es-consume --until '2023-11-14' ts
	expect 0 "" ""
	TZ=UTC run_both es-consume --since '2023-11-15' ts
	expect 0 "" ""
	TZ=Asia/Tokyo run_both es-consume --since '2023-11-15 07:13:23' ts
	expect 0 "v3" ""
	TZ=EST5 run_both es-consume --until '2023-11-14 17:13:21' ts
	expect 0 "v0" ""
}

@test "--since/--until with relative times (-1h, -30m)" {
	make_topic t
	now=$(date +%s%3N)
	for back in 7200000 5400000 1800000 60000; do
		echo "{\"value\":\"$((back / 60000))m ago\",\"timestamp\":$((now - back))}"
	done | es-produce -J t
	run_both es-consume --since -1h t
	expect 0 "30m ago
1m ago" ""
	run_both es-consume --until -1h t
	expect 0 "120m ago
90m ago" ""
	run_both es-consume --since -100m --until -10m t
	expect 0 "90m ago
30m ago" ""
	run_both es-consume --since -1d t
	[[ $status == 0 && ${#lines[@]} == 4 ]]
}

@test "--since uses the largest timestamp so far (out-of-order event times)" {
	make_topic t
	es-produce -J t <<'EOF'
{"timestamp":1000,"value":"a"}
{"timestamp":3000,"value":"b"}
{"timestamp":2000,"value":"c"}
{"timestamp":4000,"value":"d"}
EOF
	run_both es-consume --since @2000 t
	expect 0 "b
c
d" ""
	run_both es-consume --until @2500 t
	expect 0 "a" ""
}

@test "--since across segments and partitions" {
	make_topic t -p 2 --segment-bytes 100
	for i in $(seq 0 9); do
		echo "{\"partition\":$((i % 2)),\"value\":\"$i\",\"timestamp\":$((1000 * i))}"
	done | es-produce -J t
	run_both es-consume --since @5000 -F '%p %o %s\n' t
	expect 0 "0 3 6
0 4 8
1 2 5
1 3 7
1 4 9" ""
}

@test "bad times are 64; -o and --since together are 64" {
	timed
	run_both es-consume --since soon ts
	expect 64 "" "es-consume: bad time 'soon'
$try_help"
	run_both es-consume --until 2023-13-01T00:00:00Z ts
	expect 64 "" "es-consume: bad time '2023-13-01T00:00:00Z'
$try_help"
	run_both es-consume --since @ ts
	expect 64 "" "es-consume: bad time '@'
$try_help"
	run_both es-consume -o 1 --since -1h ts
	expect 64 "" "es-consume: -o and --since are exclusive
$try_help"
}

# ---- partitions and counts ----------------------------------------------------------

@test "-p LIST: single, comma list, range" {
	make_topic t -p 4
	for p in 0 1 2 3; do echo "p$p" | es-produce -p $p t; done
	run_both es-consume -p 2 t
	expect 0 "p2" ""
	run_both es-consume -p 0,3 t
	expect 0 "p0
p3" ""
	run_both es-consume -p 1-2 t
	expect 0 "p1
p2" ""
	run_both es-consume -p 3,0-1 t
	expect 0 "p0
p1
p3" ""
}

@test "bad -p lists are 64" {
	two_partitions
	for bad in 2 0,x x 1-0 0, 0,,1 -1 1-; do
		run_both es-consume -p "$bad" t
		expect 64 "" "es-consume: bad partition list '$bad' (topic has 2 partitions)
$try_help"
	done
}

@test "-n N stops after N records" {
	two_partitions
	run_both es-consume -n 2 t
	expect 0 "1
2" ""
	run_both es-consume -n 0 t
	expect 0 "" ""
	run_both es-consume -n 100 t
	[[ $status == 0 && ${#lines[@]} == 8 ]]
	run_both es-consume -n 2 -p 1 -o 1 t
	expect 0 "12
13" ""
}

@test "bad -o and -n are 64" {
	two_partitions
	for bad in bogus -x 1x '' --1 +1; do
		run_both es-consume -o "$bad" t
		expect 64 "" "es-consume: bad position '$bad' (earliest, latest, N or -N)
$try_help"
	done
	run_both es-consume -n x t
	expect 64 "" "es-consume: bad count 'x'
$try_help"
	run_both es-consume -n -1 t
	expect 64 "" "es-consume: bad count '-1'
$try_help"
}

# ---- output formats -----------------------------------------------------------------

fmt_fixture() {
	make_topic fm -p 2
	es-produce -J fm <<'EOF'
{"partition":1,"timestamp":1700000000123,"key":"k","value":"val","headers":{"a":"1","b":"x=y"}}
{"partition":1,"timestamp":1700000001000,"key":null,"value":null}
{"partition":1,"timestamp":1700000002000,"key":"","value":""}
EOF
}

@test "-F: every token" {
	fmt_fixture
	run_both es-consume -F '%t|%p|%o|%k|%s|%T|%K|%S|%I|%h|%%\n' fm
	expect 0 "fm|1|0|k|val|1700000000123|1|3|2023-11-14T22:13:20.123Z|a=1,b=x=y|%
fm|1|1|||1700000001000|-1|-1|2023-11-14T22:13:21.000Z||%
fm|1|2|||1700000002000|0|0|2023-11-14T22:13:22.000Z||%" ""
}

@test "-F: escapes \\n \\t \\0, and nothing added that was not asked for" {
	fmt_fixture
	es-consume -F '%o\t%k\0' fm >out
	cmp out <(printf '0\tk\0001\t\0002\t\000')
	es-consume -F 'x' fm >out
	cmp out <(printf 'xxx')
	es-consume -F '' fm >out
	[[ ! -s out ]]
}

@test "-F: %t is the topic as given" {
	mkdir store
	make_topic store/t
	echo v | es-produce store/t
	run_both es-consume -F '%t\n' store/t
	expect 0 "store/t" ""
	run_both es-consume -F '%t\n' "$PWD/store/t"
	expect 0 "$PWD/store/t" ""
	ES_DIR=store run_both es-consume -F '%t\n' t
	expect 0 "t" ""
}

@test "a null value prints as empty, plainly and with -K" {
	fmt_fixture
	es-consume fm >out
	cmp out <(printf 'val\n\n\n')
	run_both es-consume -K '=' fm
	expect 0 "k=val
=
=" ""
}

@test "-K DELIM: key, DELIM, value" {
	make_topic t
	printf 'k1:v1\nnokey\n' | es-produce -K : t
	run_both es-consume -K ' => ' t
	expect 0 "k1 => v1
 => nokey" ""
}

@test "-0: NUL after each record" {
	make_topic t
	printf 'a\nb c\n' | es-produce t
	es-consume -0 t >out
	cmp out <(printf 'a\0b c\0')
	es-consume -0 -K : t >out
	cmp out <(printf ':a\0:b c\0')
}

@test "-J: one JSON object per record, the fields of SPEC 5" {
	fmt_fixture
	run_both es-consume -J fm
	expect 0 '{"topic":"fm","partition":1,"offset":0,"timestamp":1700000000123,"key":"k","value":"val","headers":{"a":"1","b":"x=y"}}
{"topic":"fm","partition":1,"offset":1,"timestamp":1700000001000,"key":null,"value":null,"headers":{}}
{"topic":"fm","partition":1,"offset":2,"timestamp":1700000002000,"key":"","value":"","headers":{}}' ""
}

@test "-J: always valid JSON, binary and control bytes included" {
	make_topic t
	printf 'plain\0tab\there\0quote"back\\slash\0\001\002\037\0caf\303\251\0\377\376bad\0\303\0' |
		es-produce -0 t
	printf '\377k\tv\n' | es-produce -K $'\t' t
	run_both es-consume -J t
	[[ $status == 0 && $stderr == "" && ${#lines[@]} == 8 ]]
	jq -e . <<<"$output" >/dev/null
	b1=$(printf '\377\376bad' | base64) b2=$(printf '\303' | base64)
	[[ $(jq -c '[.value, .value_b64]' <<<"$output" | tr '\n' ' ') == '["plain",null] ["tab\there",null] ["quote\"back\\slash",null] ["\u0001\u0002\u001f",null] ["café",null] [null,"'$b1'"] [null,"'$b2'"] ["v",null] ' ]]
	[[ $(jq -r 'select(.key_b64) | .key_b64' <<<"$output") == "$(printf '\377k' | base64)" ]]
	# a base64 value has no "value" field at all (null would be a tombstone)
	[[ $(jq -c 'select(.value_b64) | has("value")' <<<"$output" | sort -u) == false ]]
}

@test "-J -0: NUL instead of newline" {
	make_topic t
	printf 'a\nb\n' | es-produce t
	es-consume -J -0 t >out
	[[ $(tr -cd '\0' <out | wc -c) == 2 && $(tr -cd '\n' <out | wc -c) == 0 ]]
	tr '\0' '\n' <out | jq -e . >/dev/null
}

# ---- end of the log: cat, follow ---------------------------------------------------

@test "without -f: stops at the end seen at start while a producer keeps writing" {
	make_topic t
	bg_start bash -c 'trap "exit 0" TERM
		while :; do seq 1 200 | es-produce t || exit 1; done' </dev/null
	wait_for 20 next_at_least t 2000
	run_both timeout 30 es-consume -F '%o\n' t
	end=$(topic_next t)
	bg_stop "$bg_pid"
	[[ $bg_status == 0 ]]
	[[ $status == 0 && $stderr == "" ]]
	n=${#lines[@]}
	last=${lines[-1]}
	((n >= 2000 && last == n - 1 && last < end))
	# dense, in order
	[[ $(printf '%s\n' "${lines[@]}" | awk '$1 != NR - 1' | head -1) == "" ]]
}

@test "-f --idle-timeout: exits 0 after the idle time" {
	make_topic t
	printf 'a\nb\n' | es-produce t
	start=$(date +%s%3N)
	run_both timeout 20 es-consume -f --idle-timeout 300ms t
	elapsed=$(($(date +%s%3N) - start))
	expect 0 "a
b" ""
	((elapsed >= 300 && elapsed < 10000))
}

@test "-f --timeout: stops cleanly after D, exit 0" {
	make_topic t
	echo a | es-produce t
	run_both timeout 20 es-consume -f --timeout 200ms t
	expect 0 "a" ""
}

@test "-f prints a record produced after it started; SIGTERM exits by the signal" {
	make_topic t
	echo first | es-produce t
	bg_start es-consume -f t >out 2>err
	wait_for 10 grep -qx first out
	echo second | es-produce t
	wait_for 10 grep -qx second out
	printf 'third\nfourth\n' | es-produce t
	wait_for 10 lines_at_least 4 out
	bg_stop "$bg_pid" TERM
	[[ $bg_status == 143 ]]
	[[ $(cat out) == "first
second
third
fourth" ]]
	[[ ! -s err ]]
}

@test "-f: SIGINT exits by the signal (130) after flushing" {
	make_topic t -p 3
	seq 1 30 | es-produce t
	bg_start es-consume -f -F '%p %o\n' t >out 2>err
	wait_for 10 lines_at_least 30 out
	seq 31 33 | es-produce t
	wait_for 10 lines_at_least 33 out
	bg_stop "$bg_pid" INT
	[[ $bg_status == 130 ]]
	[[ $(sort out | uniq | wc -l) == 33 && ! -s err ]]
}

@test "-f on an empty topic waits, then prints what comes" {
	make_topic t -p 2
	bg_start es-consume -f -F '%p %s\n' t >out 2>err
	# started before anything was written: nothing yet, still running
	wait_for 10 running "$bg_pid"
	printf 'x\n' | es-produce -p 1 t
	wait_for 10 grep -qx '1 x' out
	bg_stop "$bg_pid"
	[[ $bg_status == 143 && ! -s err ]]
}

@test "es-consume t | head -3 prints 3 lines and exits quietly" {
	make_topic t
	# 3 MB, more than any pipe and output buffer hold
	awk 'BEGIN { for (i = 0; i < 3000; i++) printf "%0999d\n", i }' | es-produce t
	es-consume t 2>err | head -3 >out
	st=("${PIPESTATUS[@]}")
	[[ ${st[0]} == 0 || ${st[0]} == 141 ]]
	[[ ! -s err ]]
	[[ $(wc -l <out) == 3 ]]
	[[ $(sed -n 3p out) == "$(printf '%0999d' 2)" ]]
}

@test "es-consume -f t | head -1 exits quietly once the reader is gone" {
	make_topic t
	awk 'BEGIN { for (i = 0; i < 3000; i++) printf "%0999d\n", i }' | es-produce t
	timeout 20 es-consume -f t 2>err | head -1 >out
	st=("${PIPESTATUS[@]}")
	[[ ${st[0]} == 0 || ${st[0]} == 141 ]]
	[[ ! -s err && $(wc -l <out) == 1 ]]
}

@test "a full disk on stdout is 74 with a message" {
	make_topic t
	echo a | es-produce t
	run_both sh -c 'es-consume t >/dev/full'
	expect 74 "" "es-consume: cannot write to standard output: No space left on device"
}

# ---- corruption ---------------------------------------------------------------------

@test "a corrupt record stops with 65 naming partition and offset, after the records before it" {
	make_topic t
	seq 1 5 | es-produce t
	fixture_bad_crc t 2
	run_both es-consume t
	expect 65 "1
2" "es-consume: partition 0, segment '00000000000000000000.log': checksum mismatch at offset 2, byte 74"
}

@test "a corrupt record in the second partition: the first is read whole" {
	make_topic t -p 2
	seq 1 10 | es-produce t
	fixture_bad_crc t 2 1
	run_both es-consume -F '%p %o\n' t
	expect 65 "0 0
0 1
0 2
0 3
0 4
1 0
1 1" "es-consume: partition 1, segment '00000000000000000000.log': checksum mismatch at offset 2, byte 74"
}

@test "--skip-corrupt prints the rest and exits 65 with a warning" {
	make_topic t
	seq 1 5 | es-produce t
	fixture_bad_crc t 2
	run_both es-consume --skip-corrupt -F '%o %s\n' t
	expect 65 "0 1
1 2
3 4
4 5" "es-consume: warning: partition 0, segment '00000000000000000000.log': checksum mismatch at offset 2, byte 74 (skipped)
es-consume: warning: 1 corrupt records skipped"
}

@test "a torn tail is not corruption for a reader" {
	make_topic t
	seq 1 3 | es-produce t
	fixture_torn_tail t
	run_both es-consume t
	expect 0 "1
2
3" ""
}

# ---- topics, usage -------------------------------------------------------------------

@test "a missing topic is 66; a bad or newer topic.yaml 78" {
	run_both es-consume nope
	expect 66 "" "es-consume: no topic 'nope' (create it with es-topic create)"
	make_topic t
	fixture_future_format t
	run_both es-consume t
	expect 78 "" "es-consume: t/topic.yaml:2:9: format 99 is newer than this es supports (1)"
	make_topic u
	yaml_set u segment_bytes lots
	run_both es-consume u
	[[ $status == 78 && $output == "" && $stderr == "es-consume: u/topic.yaml:4:16: "* ]]
}

@test "no TOPIC or two are 64; an unknown option is 64" {
	make_topic t
	run_both es-consume
	expect 64 "" "es-consume: missing TOPIC
$try_help"
	run_both es-consume t t
	expect 64 "" "es-consume: too many arguments
$try_help"
	run_both es-consume --bogus t
	expect 64 "" "es-consume: unrecognized option '--bogus'
es-consume: bad option
$try_help"
	run_both es-consume -f --idle-timeout soon t
	expect 64 "" "es-consume: bad duration 'soon'
$try_help"
}

@test "--help: usage on stdout, exit 0; --version" {
	run_both es-consume --help
	[[ $status == 0 && $stderr == "" ]]
	[[ ${lines[0]} == "Usage: es-consume [options] TOPIC" ]]
	[[ $output == *"--skip-corrupt"* && $output == *"--idle-timeout D"* ]]
	run_both es-consume -h
	[[ $status == 0 && ${lines[0]} == "Usage: es-consume [options] TOPIC" ]]
	run_both es-consume --version
	[[ $status == 0 && $stderr == "" ]]
	[[ $output =~ ^es-consume\ \(es\)\ [0-9]+\.[0-9]+\.[0-9]+,\ format\ 1$ ]]
}

@test "an empty -p list is 64" {
	make_topic t -p 2
	echo a | es-produce t
	run_both es-consume -p '' t
	expect 64 "" "es-consume: bad partition list '' (topic has 2 partitions)
Try 'es-consume --help' for more information."
}
