#!/usr/bin/env bats
# es-produce: framing, keys, headers, -J, placement, bad input, durability
# (SPEC sections 2, 3, 5). Round trips go through es-consume.
bats_require_minimum_version 1.5.0
load helper

try_help='Try '\''es-produce --help'\'' for more information.'
no_topic_hint="(create it with es-topic create, or use --create)"

next_at_least() { # TOPIC N
	local n
	n=$(topic_next "$1") && ((n >= $2))
}

# Deterministic binary records: bytes from perl's seeded generator, NULs
# and newlines included, ending with a NUL.
binary_input() {
	perl -e 'srand(42); print map { chr(int(rand(256))) } 1 .. 20000; print "\0"'
}

# -J lines back to the records they describe: the value bytes then NUL.
json_values() {
	perl -MJSON::PP -MMIME::Base64 -MEncode -ne '
		my $r = decode_json($_);
		print defined $r->{value_b64} ? decode_base64($r->{value_b64})
		    : defined $r->{value} ? encode("UTF-8", $r->{value}) : "", "\0";'
}

# ---- framing and round trips ------------------------------------------------

@test "text round trip: empty lines kept, a last line without newline gets one" {
	make_topic t
	printf 'first\n\nthird\n\n\nlast' >in
	run_both es-produce t in
	expect 0 "" ""
	es-consume t >out
	cmp out <(printf 'first\n\nthird\n\n\nlast\n')
	run_both es-consume -F '%o:%s|' t
	expect 0 "0:first|1:|2:third|3:|4:|5:last|" ""
}

@test "text round trip from stdin is byte for byte, over 1 MiB" {
	make_topic t
	seq -f 'line %06g with some text' 1 60000 >in
	[[ $(stat -c %s in) -gt 1048576 ]]
	run_both es-produce t <in
	expect 0 "" ""
	es-consume t >out
	cmp in out
	[[ $(topic_next t) == 60000 ]]
}

@test "FILE arguments are read in order, - is stdin" {
	make_topic t
	printf 'a1\na2\n' >a
	printf 'c1' >c
	printf 'b1\n' | es-produce t a - c
	run_both es-consume t
	expect 0 "a1
a2
b1
c1" ""
}

@test "a missing FILE is 66" {
	make_topic t
	run_both es-produce t nope
	expect 66 "" "es-produce: cannot open 'nope': No such file or directory"
}

@test "empty input writes nothing, exit 0" {
	make_topic t
	run_both es-produce t </dev/null
	expect 0 "" ""
	[[ $(topic_next t) == 0 ]]
}

@test "-0: random binary records with NULs and newlines round trip byte for byte" {
	make_topic t
	binary_input >in
	nrec=$(tr -cd '\0' <in | wc -c)
	run_both es-produce -0 t <in
	expect 0 "" ""
	[[ $(topic_next t) == "$nrec" ]]
	es-consume -0 t >out
	cmp in out
	# -J is valid JSON for every record, and carries the same bytes
	es-consume -J t >json
	jq -e . json >/dev/null
	[[ $(wc -l <json) == "$nrec" ]]
	grep -q value_b64 json
	json_values <json | cmp - in
}

@test "-0: a last record without NUL is a record too" {
	make_topic t
	printf 'a\nb\0c' | es-produce -0 t
	run_both es-consume -F '%s|' t
	expect 0 "a
b|c|" ""
}

# ---- keys, tombstones, headers -------------------------------------------------

@test "-K: split at the first DELIM; none = no key; at the start = empty key" {
	make_topic t
	printf 'k1:v1\nnokey\n:emptykey\nk2:v:2\nk3:\n' | es-produce -K : t
	run_both es-consume -F '%K|%k|%S|%s\n' t
	expect 0 "2|k1|2|v1
-1||5|nokey
0||8|emptykey
2|k2|3|v:2
2|k3|0|" ""
}

@test "-K: a multi-byte delimiter, and es-consume -K output round trips" {
	make_topic t
	printf 'user1::{"a":1}\nuser2::x::y\n::v\n' >in
	es-produce -K :: t <in
	es-consume -K :: t >out
	cmp in out
	run_both es-consume -F '%k=%s\n' t
	expect 0 'user1={"a":1}
user2=x::y
=v' ""
}

@test "-K with an empty delimiter is 64" {
	make_topic t
	run_both es-produce -K '' t </dev/null
	expect 64 "" "es-produce: -K needs a non-empty delimiter
$try_help"
}

@test "-Z: an empty value is a tombstone (null); without -Z it is empty" {
	make_topic t
	printf 'k1:\nk2:v\n' | es-produce -K : -Z t
	printf 'k3:\n' | es-produce -K : t
	run_both es-consume -F '%k %S\n' t
	expect 0 "k1 -1
k2 1
k3 0" ""
	run_both es-consume -J t
	[[ $(jq -c '[.key, .value]' <<<"$output" | tr '\n' ' ') == '["k1",null] ["k2","v"] ["k3",""] ' ]]
}

@test "-k: one key for every record" {
	make_topic t -p 8
	printf 'a\nb\nc\n' | es-produce -k foobar t
	run_both es-consume -F '%p %k %s\n' t
	expect 0 "6 foobar a
6 foobar b
6 foobar c" ""
}

@test "-H: headers on every record, shown by -F %h and -J" {
	make_topic t
	printf 'one\ntwo\n' | es-produce -H trace=abc -H eq=x=y t
	run_both es-consume -F '%h|%s\n' t
	expect 0 "trace=abc,eq=x=y|one
trace=abc,eq=x=y|two" ""
	run_both es-consume -J t
	[[ $status == 0 && $stderr == "" ]]
	[[ $(jq -c .headers <<<"$output" | sort -u) == '{"trace":"abc","eq":"x=y"}' ]]
}

@test "-H: a repeated name is kept in %h; -J keeps the last" {
	make_topic t
	echo v | es-produce -H a=1 -H a=2 t
	run_both es-consume -F '%h\n' t
	expect 0 "a=1,a=2" ""
	run_both es-consume -J t
	[[ $(jq -c .headers <<<"$output") == '{"a":"2"}' ]]
}

@test "-H without NAME= is 64" {
	make_topic t
	run_both es-produce -H novalue t </dev/null
	expect 64 "" "es-produce: bad header 'novalue' (use NAME=VALUE)
$try_help"
	run_both es-produce -H =v t </dev/null
	expect 64 "" "es-produce: bad header '=v' (use NAME=VALUE)
$try_help"
}

# ---- -J ----------------------------------------------------------------------------

@test "-J: partition, timestamp, headers, null key and value, base64 bytes" {
	make_topic t -p 2
	es-produce -J t <<'EOF'
{"partition":1,"timestamp":1700000000000,"key":"k","value":"v","headers":{"h":"1"}}
{"partition":1,"timestamp":5,"key":null,"value":null}
{"partition":0,"key_b64":"/w==","value_b64":"AP8="}
{"partition":0,"value":"ignores unknown fields","topic":"x","offset":7}
EOF
	run_both es-consume -F '%p %o %T %K %k %S %h\n' -p 1 t
	expect 0 "1 0 1700000000000 1 k 1 h=1
1 1 5 -1  -1 " ""
	run_both es-consume -J -p 0 t
	[[ $(jq -c '[.key_b64, .value_b64]' <<<"${lines[0]}") == '["/w==","AP8="]' ]]
	[[ $(jq -c '[.key, .value]' <<<"${lines[1]}") == '[null,"ignores unknown fields"]' ]]
}

@test "-J: the partition comes from the key when not given" {
	make_topic t -p 8
	printf '{"key":"foobar","value":"a"}\n{"key":"21","value":"b"}\n' | es-produce -J t
	run_both es-consume -F '%p %k\n' t
	expect 0 "4 21
6 foobar" ""
}

@test "-J: es-consume -J a | es-produce -J b copies losslessly" {
	make_topic a -p 3
	printf 'k1:v1\nk2:\n:empty\nnokey\n' | es-produce -K : -Z -H h=1 a
	binary_input | es-produce -0 -k bin -H kind=binary a
	binary_input | head -c 3000 | es-produce -0 a
	es-produce -J a <<'EOF'
{"timestamp":1600000000000,"key":"old","value":"from 2020","headers":{"x":"y","z":""}}
{"timestamp":1,"key":"tomb","value":null}
{"key_b64":"AP8A","value":"binary key"}
EOF
	make_topic b -p 3
	es-consume -J a >a.json
	run_both es-produce -J b <a.json
	expect 0 "" ""
	es-consume -J b >b.json
	jq -e . b.json >/dev/null
	diff <(sed 's/^{"topic":"a",/{/' a.json) <(sed 's/^{"topic":"b",/{/' b.json)
	es-consume -0 a >a.bin
	es-consume -0 b >b.bin
	cmp a.bin b.bin
}

@test "-H: a header name too large for a record is 64, nothing written" {
	make_topic t
	run_both es-produce -H "$(head -c 70000 /dev/zero | tr '\0' n)=v" t <<<'x'
	[[ $status == 64 && $stderr == "es-produce: header 'nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn...' is too large"* ]] ||
		{ echo "$status: $stderr"; false; }
	[[ -z $(es-consume t) ]]
}

@test "-J: bad envelopes are 65 naming the line" {
	make_topic t -p 2
	run_both es-produce -J t <<<'{"value":1}'
	expect 65 "" "es-produce: stdin:1: column 10: 'value' is not a string or null"
	run_both es-produce -J t <<<'{"value":"a","partition":5}'
	expect 65 "" "es-produce: stdin:1: partition 5 out of range (topic has 2)"
	# Past 2^31: refused too, not read as "no partition".
	run_both es-produce -J t <<<'{"value":"a","partition":4294967295}'
	expect 65 "" "es-produce: stdin:1: partition 4294967295 out of range"
	run_both es-produce -J t <<<'{"value":"a","partition":2147483648}'
	expect 65 "" "es-produce: stdin:1: partition 2147483648 out of range"
	[[ -z $(es-consume t) ]]
	run_both es-produce -J t <<<'{"value":"a","timestamp":"x"}'
	expect 65 "" "es-produce: stdin:1: column 26: 'timestamp' is not a non-negative integer"
	run_both es-produce -J t <<<'{"value":"a","value_b64":"AA=="}'
	expect 65 "" "es-produce: stdin:1: column 26: both 'value' and 'value_b64'"
	run_both es-produce -J t < <(printf '{"value":"ok"}\nnot json\n')
	expect 65 "" "es-produce: stdin:2: column 1: not a JSON object"
	run_both es-consume t
	expect 0 "ok" ""
}

# ---- acknowledgements, partitions, placement -------------------------------

@test "--ack: PARTITION<TAB>OFFSET per record, in input order, offsets dense" {
	make_topic t -p 3
	run_both es-produce --ack t < <(seq 1 30)
	[[ $status == 0 && $stderr == "" && ${#lines[@]} == 30 ]]
	# each ack names the record of that input line
	paste <(printf '%s\n' "$output") <(seq 1 30) | sort >expected
	es-consume -F '%p\t%o\t%s\n' t | sort >got
	diff expected got
	# dense per partition, in increasing order
	for p in 0 1 2; do
		grep "^$p	" <<<"$output" | cut -f2 >offs
		diff offs <(seq 0 $(($(wc -l <offs) - 1)))
	done
}

@test "--ack with -p N and a second run continues the offsets" {
	make_topic t -p 3
	run_both es-produce --ack -p 2 t < <(printf 'a\nb\n')
	expect 0 "2	0
2	1" ""
	run_both es-produce --ack -p 2 t <<<c
	expect 0 "2	2" ""
	run_both es-consume -F '%p %o %s\n' t
	expect 0 "2 0 a
2 1 b
2 2 c" ""
}

@test "--ack with --sync always and --sync none" {
	make_topic t
	run_both es-produce --ack --sync always t < <(printf 'a\nb\n')
	expect 0 "0	0
0	1" ""
	run_both es-produce --ack --sync none t <<<c
	expect 0 "0	2" ""
	run_both es-consume t
	expect 0 "a
b
c" ""
}

@test "the murmur2 of the test helper matches Kafka's vectors" {
	[[ $(murmur2 21) == -973932308 ]]
	[[ $(murmur2 foobar) == -790332482 ]]
	[[ $(murmur2 a-little-bit-long-string) == -985981536 ]]
	[[ $(murmur2 a-little-bit-longer-string) == -1486304829 ]]
	[[ $(murmur2 lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8) == -58897971 ]]
	[[ $(murmur2 abc) == 479470107 ]]
}

@test "keyed placement is Kafka's for 3, 8 and 12 partitions (known vectors)" {
	declare -A hash=([21]=-973932308 [foobar]=-790332482
		[a-little-bit-long-string]=-985981536
		[a-little-bit-longer-string]=-1486304829 [abc]=479470107
		[lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8]=-58897971)
	for n in 3 8 12; do
		make_topic t$n -p "$n"
		for k in "${!hash[@]}"; do echo "$k:v"; done | es-produce -K : t$n
		for k in "${!hash[@]}"; do
			echo "$(((hash[$k] & 0x7fffffff) % n)) $k"
		done | sort >expected
		es-consume -F '%p %k\n' t$n | sort >got
		diff expected got
	done
	# spot checks written out
	[[ $(grep ' foobar$' got) == "6 foobar" ]]
	[[ $(es-consume -p 4 -F '%k\n' t8) == 21 ]]
}

@test "keyed placement: more keys, the empty key included, all to one partition each" {
	make_topic t -p 12
	keys=("" a b user-1 user-2 user-42 order:17 "with space" x y z 0 1 2 3 99 1000)
	for k in "${keys[@]}"; do printf '%s\t%s\n' "$k" "v" "$k" "w"; done >in
	es-produce -K $'\t' t <in
	for k in "${keys[@]}"; do
		p=$(kafka_partition "$k" 12)
		echo "$p $k"
		echo "$p $k"
	done | sort >expected
	es-consume -F '%p %k\n' t | sort >got
	diff expected got
}

@test "keyless records spread evenly: 800 records on 8 partitions" {
	make_topic t -p 8
	seq 1 800 | es-produce t
	run_both es-topic describe --json t
	[[ $(jq -c '[.partitions[].next_offset]' <<<"$output") == '[100,100,100,100,100,100,100,100]' ]]
	# a few more, one run each: counts still differ by at most one per run
	seq 1 5 | es-produce t
	run_both es-topic describe --json t
	[[ $(jq '[.partitions[].next_offset] | (max - min)' <<<"$output") -le 1 ]]
	[[ $(jq '[.partitions[].next_offset] | add' <<<"$output") == 805 ]]
}

@test "-p N writes every record to partition N" {
	make_topic t -p 4
	seq 1 5 | es-produce -p 3 t
	printf 'k:v\n' | es-produce -p 0 -K : t
	run_both es-consume -F '%p %k %s\n' t
	expect 0 "0 k v
3  1
3  2
3  3
3  4
3  5" ""
}

# ---- --key-field, bad records, --reject ------------------------------------------

@test "--key-field: string and number keys" {
	make_topic t -p 8
	printf '%s\n' '{"post_id":"foobar","n":1}' '{"n":2, "post_id" : 21}' \
		'{"nested":{"post_id":"no"},"post_id":"abc"}' '{"post_id":"caf\u00e9"}' |
		es-produce --key-field post_id t
	es-consume -F '%k\n' t | sort >got
	diff got <(printf '%s\n' 21 abc café foobar)
	run_both es-consume -p "$(kafka_partition foobar 8)" -F '%s\n' t
	expect 0 '{"post_id":"foobar","n":1}' ""
	run_both es-consume -p "$(kafka_partition 21 8)" -F '%s\n' t
	expect 0 '{"n":2, "post_id" : 21}' ""
	run_both es-consume -p "$(kafka_partition abc 8)" -F '%k\n' t
	expect 0 'abc' ""
}

@test "--key-field: a missing field is 65 naming the line; records before it are durable" {
	make_topic t
	run_both es-produce --key-field post_id t < <(printf '%s\n' '{"post_id":"p1"}' '{"post_id":2}' '{"v":3}' '{"post_id":"p4"}')
	expect 65 "" "es-produce: stdin:3: no field 'post_id'"
	run_both es-consume -F '%o %k\n' t
	expect 0 "0 p1
1 2" ""
}

@test "--key-field: invalid JSON is 65 naming the line and file" {
	make_topic t
	printf '%s\n' '{"post_id":"p1"}' 'not json' >in.jsonl
	run_both es-produce --key-field post_id t in.jsonl
	expect 65 "" "es-produce: in.jsonl:2: column 1: not a JSON object"
	run_both es-consume t
	expect 0 '{"post_id":"p1"}' ""
}

@test "--key-field: a key that is not a string or a number is 65" {
	make_topic t
	run_both es-produce --key-field id t <<<'{"id":null}'
	expect 65 "" "es-produce: stdin:1: field 'id' is not a string or a number"
	[[ $(topic_next t) == 0 ]]
}

@test "--reject FILE: bad records go there, the rest is written, exit 65" {
	make_topic t
	printf '%s\n' '{"id":"a"}' 'not json' '{"v":1}' '{"id":"b"}' '{"id":true}' '{"id":"c"}' >in
	run_both es-produce --key-field id --reject rej t in
	expect 65 "" "es-produce: warning: in:2: column 1: not a JSON object (rejected)
es-produce: warning: in:3: no field 'id' (rejected)
es-produce: warning: in:5: field 'id' is not a string or a number (rejected)
es-produce: warning: 3 records rejected, written to 'rej'"
	cmp rej <(printf '%s\n' 'not json' '{"v":1}' '{"id":true}')
	run_both es-consume -F '%o %k\n' t
	expect 0 "0 a
1 b
2 c" ""
}

@test "--reject with nothing to reject is 0 and leaves an empty file" {
	make_topic t
	run_both es-produce --key-field id --reject rej t <<<'{"id":"a"}'
	expect 0 "" ""
	[[ -f rej && ! -s rej ]]
}

@test "a record over max_record_bytes is 65; records before it are written" {
	make_topic t --max-record-bytes 100
	{ echo short; printf '%0101d\n' 0; echo after; } >in
	run_both es-produce t in
	expect 65 "" "es-produce: in:2: record of 101 bytes is over max_record_bytes (100)"
	run_both es-consume t
	expect 0 "short" ""
	# the limit itself is fine
	printf '%0100d\n' 0 | es-produce t
	[[ $(topic_next t) == 2 ]]
}

@test "a record over max_record_bytes with --reject: rejected, the rest written" {
	make_topic t --max-record-bytes 100
	{ echo short; printf '%0101d\n' 0; echo after; } >in
	run_both es-produce --reject rej t <in
	expect 65 "" "es-produce: warning: stdin:2: record of 101 bytes is over max_record_bytes (100) (rejected)
es-produce: warning: 1 records rejected, written to 'rej'"
	cmp rej <(printf '%0101d\n' 0)
	run_both es-consume t
	expect 0 "short
after" ""
}

@test "a record far over max_record_bytes (larger than any buffer) with --reject" {
	make_topic t --max-record-bytes 1KiB
	{ echo a; head -c 3000000 /dev/zero | tr '\0' x; echo; echo b; } >in
	run_both es-produce --reject rej t <in
	[[ $status == 65 && $output == "" ]]
	[[ ${stderr_lines[-1]} == "es-produce: warning: 1 records rejected, written to 'rej'" ]]
	[[ $(stat -c %s rej) == 3000001 ]]
	run_both es-consume t
	expect 0 "a
b" ""
}

# ---- topics and options --------------------------------------------------------

@test "a missing topic is 66 with a hint; --create creates it" {
	run_both es-produce nope <<<x
	expect 66 "" "es-produce: no topic 'nope' $no_topic_hint"
	[[ ! -e nope ]]
	run_both es-produce --create new <<<x
	expect 0 "" ""
	run_both es-topic describe --json new
	[[ $(jq -c '[.config.partitions, .partitions[0].next_offset]' <<<"$output") == '[1,1]' ]]
	run_both es-produce --create new <<<y
	expect 0 "" ""
	run_both es-consume new
	expect 0 "x
y" ""
}

@test "TOPIC resolves against ES_DIR" {
	mkdir store
	make_topic store/t
	ES_DIR=store run_both es-produce t <<<x
	expect 0 "" ""
	ES_DIR=$PWD/store run_both es-consume t
	expect 0 "x" ""
}

@test "a bad topic.yaml or a newer format is 78" {
	make_topic t
	fixture_future_format t
	run_both es-produce t <<<x
	expect 78 "" "es-produce: t/topic.yaml:2:9: format 99 is newer than this es supports (1)"
	make_topic u
	yaml_set u sync sometimes
	run_both es-produce u <<<x
	expect 78 "" "es-produce: u/topic.yaml:12:7: bad value 'sometimes' for 'sync' (use always, batch or none)"
}

@test "bad options are 64" {
	make_topic t -p 2
	run_both es-produce -p 2 t <<<x
	expect 64 "" "es-produce: partition 2 out of range (topic has 2)
$try_help"
	run_both es-produce -p x t <<<x
	expect 64 "" "es-produce: bad partition 'x'
$try_help"
	run_both es-produce --sync bogus t <<<x
	expect 64 "" "es-produce: bad --sync 'bogus' (always, batch or none)
$try_help"
	run_both es-produce -k a -K : t <<<x
	expect 64 "" "es-produce: -k, -K, --key-field and -J are exclusive
$try_help"
	run_both es-produce -Q t <<<x
	expect 64 "" "es-produce: invalid option -- 'Q'
es-produce: bad option
$try_help"
	run_both es-produce
	expect 64 "" "es-produce: missing TOPIC
$try_help"
	[[ $(topic_next t 0) == 0 && $(topic_next t 1) == 0 ]]
}

@test "SIGTERM: lines read are written and synced; a partial last line is not a record" {
	make_topic t
	mkfifo in
	exec {w}<>in
	bg_start es-produce --ack t <in >acks 2>err {w}>&-
	printf 'a\nb\npart' >&$w
	wait_for 10 lines_at_least 2 acks
	bg_stop "$bg_pid" TERM
	exec {w}>&-
	[[ $bg_status == 143 ]]
	[[ $(cat err) == "es-produce: warning: interrupted: a partial record of 4 bytes (no delimiter yet) was not written" ]]
	[[ $(cat acks) == "0	0
0	1" ]]
	run_both es-consume t
	expect 0 "a
b" ""
}

@test "SIGINT: the same, exit by the signal (130)" {
	make_topic t
	mkfifo in
	exec {w}<>in
	bg_start es-produce t <in >out 2>err {w}>&-
	printf 'a\n' >&$w
	wait_for 10 next_at_least t 1
	bg_stop "$bg_pid" INT
	exec {w}>&-
	[[ $bg_status == 130 && ! -s out && ! -s err ]]
	run_both es-consume t
	expect 0 "a" ""
}

@test "--ack never waits for more input (batch syncs when input pauses)" {
	make_topic t
	mkfifo in
	exec {w}<>in
	bg_start es-produce --ack t <in >acks 2>err {w}>&-
	printf 'a\n' >&$w
	wait_for 10 lines_at_least 1 acks
	printf 'b\nc\n' >&$w
	wait_for 10 lines_at_least 3 acks
	exec {w}>&-
	wait_for 10 stopped "$bg_pid"
	bg_stop "$bg_pid"
	[[ $bg_status == 0 && ! -s err ]]
	[[ $(cat acks) == "0	0
0	1
0	2" ]]
}

@test "--ack does not wait for more input after a batch handed over, when the next read brings only part of a line" {
	make_topic t
	mkfifo in
	exec {w}<>in
	# The batch's sync made slow, so that it is still in flight when the
	# start of the next line is read.
	bg_start strace -f -o /dev/null -e inject=fdatasync:delay_enter=1000000:when=1 \
		es-produce --ack t <in >acks 2>err {w}>&-
	seq -f '%015g' 4096 >lines
	[[ $(wc -c <lines) == 65536 ]]
	cat lines >&$w
	printf 'part' >&$w
	wait_for 10 lines_at_least 4096 acks
	# SIGTERM while idle: the partial line is not a record.
	kill -TERM "$(pgrep -P "$bg_pid" -x es-produce)"
	wait_for 10 stopped "$bg_pid"
	bg_stop "$bg_pid"
	exec {w}>&-
	[[ $(wc -l <acks) == 4096 ]]
	[[ $(es-consume t | wc -l) == 4096 ]]
}

@test "a failed write of acknowledgements is 74" {
	make_topic t
	run_both sh -c 'echo a | es-produce --ack t >/dev/full'
	expect 74 "" "es-produce: cannot write acknowledgements: No space left on device"
}

@test "--help: usage on stdout, exit 0; --version" {
	run_both es-produce --help
	[[ $status == 0 && $stderr == "" ]]
	[[ ${lines[0]} == "Usage: es-produce [options] TOPIC [FILE...]" ]]
	[[ $output == *"--key-field NAME"* && $output == *"--reject FILE"* ]]
	run_both es-produce -h
	[[ $status == 0 && ${lines[0]} == "Usage: es-produce [options] TOPIC [FILE...]" ]]
	run_both es-produce --version
	[[ $status == 0 && $stderr == "" ]]
	[[ $output =~ ^es-produce\ \(es\)\ [0-9]+\.[0-9]+\.[0-9]+,\ format\ 1$ ]]
}
