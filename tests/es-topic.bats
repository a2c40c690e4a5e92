#!/usr/bin/env bats
# es-topic: create, list, describe, check, alter (SPEC sections 2, 3, 5)
bats_require_minimum_version 1.5.0
load helper

# topic.yaml as es-topic create writes it with every default
default_yaml() {
	cat <<'EOF'
# es topic configuration; see es-format(5)
format: 1                  # on-disk layout version; do not edit
partitions: 1              # may grow, never shrink
segment_bytes: 64MiB       # roll the active segment at this size
segment_age: 1d            # ... or at this age
retention: 7d              # keep closed segments this long; 0 = forever
retention_bytes: 0         # per partition; 0 = no limit
cleanup: delete            # delete | compact | compact,delete
delete_retention: 1d       # how long tombstones survive compaction
compression: none          # none | zlib: for closed segments
max_record_bytes: 1MiB     # larger records are refused
sync: batch                # always | batch | none
EOF
}

try_help='Try '\''es-topic --help'\'' for more information.'

# ---- create -----------------------------------------------------------------

@test "create: defaults, one partition, the layout on disk" {
	run_both es-topic create t
	expect 0 "" ""
	diff -u <(default_yaml) t/topic.yaml
	[[ -d t/groups && -d t/0 && ! -e t/1 ]]
	[[ -f t/0/head && -f t/0/00000000000000000000.log ]]
	[[ $(stat -c %s t/0/head) == 64 ]]
}

@test "create -p N makes N partition directories" {
	run_both es-topic create t -p 3
	expect 0 "" ""
	[[ $(ls t | tr '\n' ' ') == "0 1 2 groups topic.yaml " ]]
	grep -qx 'partitions: 3              # may grow, never shrink' t/topic.yaml
}

@test "create: every --key value is written into topic.yaml" {
	run_both es-topic create t -p 3 --segment-bytes 1MiB --segment-age 2h \
		--retention 30d --retention-bytes 1GiB --cleanup compact,delete \
		--delete-retention 12h --compression zlib --max-record-bytes 2048 \
		--sync always
	expect 0 "" ""
	diff -u - t/topic.yaml <<'EOF'
# es topic configuration; see es-format(5)
format: 1                  # on-disk layout version; do not edit
partitions: 3              # may grow, never shrink
segment_bytes: 1MiB        # roll the active segment at this size
segment_age: 2h            # ... or at this age
retention: 30d             # keep closed segments this long; 0 = forever
retention_bytes: 1GiB      # per partition; 0 = no limit
cleanup: compact,delete    # delete | compact | compact,delete
delete_retention: 12h      # how long tombstones survive compaction
compression: zlib          # none | zlib: for closed segments
max_record_bytes: 2KiB     # larger records are refused
sync: always               # always | batch | none
EOF
}

@test "create: --partitions, cleanup compact and sizes in K/M/G" {
	run_both es-topic create t --partitions 2 --cleanup compact \
		--segment-bytes 512K --retention-bytes 2G --max-record-bytes 1M
	expect 0 "" ""
	run_both grep -E '^(partitions|cleanup|segment_bytes|retention_bytes|max_record_bytes):' t/topic.yaml
	expect 0 "partitions: 2              # may grow, never shrink
segment_bytes: 512KiB      # roll the active segment at this size
retention_bytes: 2GiB      # per partition; 0 = no limit
cleanup: compact           # delete | compact | compact,delete
max_record_bytes: 1MiB     # larger records are refused" ""
}

@test "create: a bad --retention is a usage error (64), nothing created" {
	run_both es-topic create t --retention soon
	expect 64 "" "es-topic: bad value 'soon' for --retention: use ms, s, m, h, d, w
$try_help"
	[[ ! -e t ]]
}

@test "create: bad values for each kind of key are 64 with the message" {
	run_both es-topic create t -p 0
	expect 64 "" "es-topic: bad value '0' for --partitions: must be between 1 and 100000
$try_help"
	run_both es-topic create t --cleanup sometimes
	expect 64 "" "es-topic: bad value 'sometimes' for --cleanup: use delete, compact or compact,delete
$try_help"
	run_both es-topic create t --segment-bytes 12X
	expect 64 "" "es-topic: bad value '12X' for --segment-bytes: use B, KiB, MiB, GiB
$try_help"
	run_both es-topic create t --sync sometimes
	expect 64 "" "es-topic: bad value 'sometimes' for --sync: use always, batch or none
$try_help"
	[[ ! -e t ]]
}

@test "create: an unknown option is 64" {
	run_both es-topic create t --colour blue
	expect 64 "" "es-topic: unrecognized option '--colour'
es-topic: bad option
$try_help"
	[[ ! -e t ]]
}

@test "create: no TOPIC or two TOPICs is 64" {
	run_both es-topic create
	expect 64 "" "es-topic: create takes one TOPIC
$try_help"
	run_both es-topic create a b
	expect 64 "" "es-topic: create takes one TOPIC
$try_help"
}

@test "create: an existing topic is 73 and left as it was" {
	make_topic t -p 2
	cp t/topic.yaml before.yaml
	run_both es-topic create t
	expect 73 "" "es-topic: topic 't' already exists (use --if-missing to accept that)"
	cmp before.yaml t/topic.yaml
}

@test "create in a missing directory is 73 (no parents are made)" {
	run_both es-topic create nodir/t
	expect 73 "" "es-topic: cannot create 'nodir/t': No such file or directory"
	[[ ! -e nodir ]]
}

@test "create --if-missing: an existing topic is 0 and left as it was" {
	make_topic t -p 2
	cp t/topic.yaml before.yaml
	run_both es-topic create --if-missing t
	expect 0 "" ""
	run_both es-topic create t --if-missing -p 5
	expect 0 "" ""
	cmp before.yaml t/topic.yaml
	run_both es-topic create --if-missing new
	expect 0 "" ""
	[[ -f new/topic.yaml ]]
}

@test "create: a relative TOPIC resolves against ES_DIR, an absolute one does not" {
	mkdir -p store
	ES_DIR=store run_both es-topic create t
	expect 0 "" ""
	[[ -f store/t/topic.yaml && ! -e t ]]
	ES_DIR=$PWD/store run_both es-topic create "$PWD/abs"
	expect 0 "" ""
	[[ -f abs/topic.yaml && ! -e store/abs ]]
	ES_DIR=store run_both es-topic describe --json t
	[[ $status == 0 && $(jq -r .topic <<<"$output") == t ]]
	ES_DIR= run_both es-topic create u
	expect 0 "" ""
	[[ -f u/topic.yaml ]]
}

# ---- list -------------------------------------------------------------------

@test "list DIR: nested topics, in name order, paths as found below DIR" {
	mkdir -p d/sub/deep d/empty
	make_topic d/b
	make_topic d/sub/a
	make_topic d/sub/deep/c
	echo x >d/file
	run_both es-topic list d
	expect 0 "d/b
d/sub/a
d/sub/deep/c" ""
	run_both es-topic list d/
	expect 0 "d/b
d/sub/a
d/sub/deep/c" ""
	run_both es-topic list "$PWD/d"
	expect 0 "$PWD/d/b
$PWD/d/sub/a
$PWD/d/sub/deep/c" ""
}

@test "list skips hidden directories (a topic being created), symbolic links and files; many names come sorted" {
	mkdir -p d/.hidden d/many
	make_topic d/.hidden/t
	make_topic d/.creating
	make_topic elsewhere
	ln -s "$PWD/elsewhere" d/link
	ln -s "$PWD/elsewhere" d/many/link
	echo x >d/topic.yaml.not
	local i want=""
	# More names than one getdents64 call returns, made in reverse order.
	for i in $(seq 400 -1 1); do mkdir "d/many/dir-with-a-long-name-$(printf %03d "$i")"; done
	for i in 7 123 350; do make_topic "d/many/dir-with-a-long-name-$i"; done
	run_both es-topic list d
	expect 0 "d/many/dir-with-a-long-name-123
d/many/dir-with-a-long-name-350
d/many/dir-with-a-long-name-7" ""
}

@test "list does not look inside a topic for more topics" {
	mkdir d
	make_topic d/t
	make_topic d/t/inner
	mkdir -p d/t/x
	make_topic d/t/x/deeper
	run_both es-topic list d
	expect 0 "d/t" ""
}

@test "list without DIR: ES_DIR, else the current directory" {
	mkdir -p store here
	make_topic store/s1
	make_topic here/h1
	cd here
	run_both es-topic list
	expect 0 "h1" ""
	# below ES_DIR, names as topic arguments take them (relative to ES_DIR)
	ES_DIR=../store run_both es-topic list
	expect 0 "s1" ""
	ES_DIR=$BATS_TEST_TMPDIR/store/ run_both es-topic list
	expect 0 "s1" ""
	echo x | es-produce ../store/s1
	ES_DIR=../store run_both es-consume -F '%t %s\n' "$(ES_DIR=../store es-topic list)"
	expect 0 "s1 x" ""
	# an explicit DIR wins over ES_DIR, and is printed as given
	ES_DIR=../store run_both es-topic list ../store
	expect 0 "../store/s1" ""
	ES_DIR=../store run_both es-topic list "$BATS_TEST_TMPDIR/store"
	expect 0 "$BATS_TEST_TMPDIR/store/s1" ""
}

@test "list: a full disk on stdout is 74 with a message" {
	make_topic t
	run_both sh -c 'es-topic list . >/dev/full'
	expect 74 "" "es-topic: cannot write to standard output: No space left on device"
}

@test "list: nothing below DIR prints nothing, exit 0" {
	mkdir empty
	run_both es-topic list empty
	expect 0 "" ""
}

@test "list: a missing DIR is 66, two DIRs 64" {
	run_both es-topic list nope
	expect 66 "" "es-topic: no directory 'nope'"
	mkdir a b
	run_both es-topic list a b
	expect 64 "" "es-topic: list takes at most one DIR
$try_help"
}

# ---- describe ---------------------------------------------------------------

# Three records in partition 0 of a 2-partition topic, at known times.
describe_fixture() {
	make_topic d -p 2 --retention 30d
	es-produce -J d <<'EOF'
{"partition":0,"timestamp":1700000000000,"value":"a"}
{"partition":0,"timestamp":1700000001500,"value":"bb"}
{"partition":0,"timestamp":1700000002250,"key":"k","value":"c"}
EOF
}

@test "describe: configuration, then a row per partition" {
	describe_fixture
	run_both es-topic describe d
	expect 0 "topic: d
format: 1
partitions: 2
segment_bytes: 64MiB
segment_age: 1d
retention: 30d
retention_bytes: 0
cleanup: delete
delete_retention: 1d
compression: none
max_record_bytes: 1MiB
sync: batch

PARTITION        FIRST         NEXT SEGMENTS        BYTES  OLDEST                    NEWEST
0                    0            3        1          129  2023-11-14T22:13:20.000Z  2023-11-14T22:13:22.250Z
1                    0            0        1            0  -                         -" ""
}

@test "describe --json: valid JSON with the right numbers" {
	describe_fixture
	run_both es-topic describe --json d
	expect 0 '{"topic":"d","config":{"format":1,"partitions":2,"segment_bytes":"64MiB","segment_age":"1d","retention":"30d","retention_bytes":"0","cleanup":"delete","delete_retention":"1d","compression":"none","max_record_bytes":"1MiB","sync":"batch"},"partitions":[{"partition":0,"first_offset":0,"next_offset":3,"segments":1,"bytes":129,"oldest_timestamp":1700000000000,"newest_timestamp":1700000002250},{"partition":1,"first_offset":0,"next_offset":0,"segments":1,"bytes":0,"oldest_timestamp":-1,"newest_timestamp":-1}]}' ""
	jq -e . <<<"$output" >/dev/null
	[[ $(jq -c '[.partitions[] | [.partition, .first_offset, .next_offset]]' <<<"$output") == '[[0,0,3],[1,0,0]]' ]]
}

@test "describe --json: next offsets follow what was produced" {
	make_topic t -p 3
	seq 1 30 | es-produce t
	printf 'a\nb\n' | es-produce -p 1 t
	run_both es-topic describe --json t
	[[ $status == 0 && $stderr == "" ]]
	[[ $(jq -c '[.partitions[].next_offset]' <<<"$output") == '[10,12,10]' ]]
	[[ $(jq '[.partitions[].next_offset] | add' <<<"$output") == 32 ]]
	[[ $(jq -r '.config.partitions' <<<"$output") == 3 ]]
}

@test "describe --json of a topic with segments rolled by size" {
	make_topic t --segment-bytes 100
	seq 1 10 | es-produce t
	run_both es-topic describe --json t
	[[ $status == 0 && $stderr == "" ]]
	[[ $(jq -c '.partitions[0] | [.first_offset, .next_offset, .segments]' <<<"$output") == '[0,10,5]' ]]
	[[ $(jq -r .config.segment_bytes <<<"$output") == 100B ]]
}

@test "describe --json and es-replay -J of a topic whose name is not UTF-8: valid JSON, each byte as its code point" {
	make_topic $'bad\xff"q'
	run_both es-topic describe --json $'bad\xff"q'
	[[ $status == 0 && $stderr == "" ]]
	[[ $(jq -r .topic <<<"$output") == $'bad\u00ff"q' ]]
	run es-replay -g g --to earliest -J $'bad\xff"q'
	[[ $status == 0 ]]
	[[ $(jq -r .topic <<<"$output") == $'bad\u00ff"q' ]]
}

@test "describe: no TOPIC is 64, a missing one 66" {
	run_both es-topic describe
	expect 64 "" "es-topic: describe takes one TOPIC
$try_help"
	run_both es-topic describe nope
	expect 66 "" "es-topic: no topic 'nope' (create it with es-topic create)"
}

# ---- check ------------------------------------------------------------------

@test "check: a clean topic is 0 with the summary line" {
	make_topic t -p 2
	seq 1 10 | es-produce t
	run_both es-topic check t
	expect 0 "t: 2 partitions checked: 0 corrupt, 0 torn tail, 0 index" ""
}

@test "check: an empty topic is clean" {
	make_topic t
	run_both es-topic check t
	expect 0 "t: 1 partitions checked: 0 corrupt, 0 torn tail, 0 index" ""
}

@test "check: a torn tail is reported, exit 0, and readers are not affected" {
	make_topic t
	seq 1 5 | es-produce t
	fixture_torn_tail t
	run_both es-topic check t
	expect 0 "partition 0, segment 00000000000000000000.log, offset 5, byte 185: torn tail: truncated record (20 bytes)
t: 1 partitions checked: 0 corrupt, 1 torn tail, 0 index" ""
	run_both es-consume t
	expect 0 "1
2
3
4
5" ""
}

@test "check: the next writer repairs a torn tail" {
	make_topic t
	seq 1 5 | es-produce t
	fixture_torn_tail t
	echo 6 | es-produce t
	run_both es-topic check t
	expect 0 "t: 1 partitions checked: 0 corrupt, 0 torn tail, 0 index" ""
	run_both es-consume -F '%o %s\n' t
	expect 0 "0 1
1 2
2 3
3 4
4 5
5 6" ""
}

@test "check: a bad checksum names partition, segment, offset and byte; exit 65" {
	make_topic t
	seq 1 5 | es-produce t
	fixture_bad_crc t 2
	run_both es-topic check t
	expect 65 "partition 0, segment 00000000000000000000.log, offset 2, byte 74: corrupt: checksum mismatch (37 bytes)
t: 1 partitions checked: 1 corrupt, 0 torn tail, 0 index" ""
}

@test "check: corruption in a closed segment of another partition" {
	make_topic t -p 2 --segment-bytes 100
	seq 1 10 | es-produce -p 1 t
	fixture_bad_crc t 3 1
	run_both es-topic check t
	expect 65 "partition 1, segment 00000000000000000002.log, offset 3, byte 37: corrupt: checksum mismatch (37 bytes)
t: 2 partitions checked: 1 corrupt, 0 torn tail, 0 index" ""
}

@test "check --repair: exit 0, quarantine kept, then clean, every other record at its offset" {
	make_topic t
	seq 1 5 | es-produce t
	cp t/0/00000000000000000000.log orig.log
	fixture_bad_crc t 2
	run_both es-topic check --repair t
	[[ $status == 0 && $stderr == "" ]]
	q=$(cd t/0 && ls | grep '\.quarantine$')
	[[ $q =~ ^00000000000000000000\.log\.[0-9]+\.quarantine$ ]]
	expect 0 "partition 0, segment 00000000000000000000.log, offset 2, byte 74: corrupt: checksum mismatch (37 bytes): quarantined
partition 0, segment 00000000000000000000.log, offset 0, byte 0: repair: damaged bytes kept in '0/$q'
t: 1 partitions checked: 1 corrupt, 0 torn tail, 0 index: repaired" ""
	# the damaged record, whole, is in the quarantine file
	[[ $(stat -c %s "t/0/$q") == 37 ]]
	cmp -n 16 -i 0:74 "t/0/$q" orig.log
	cmp -n 20 -i 17:91 "t/0/$q" orig.log
	run_both es-topic check t
	expect 0 "t: 1 partitions checked: 0 corrupt, 0 torn tail, 0 index" ""
	run_both es-consume -F '%o %s\n' t
	expect 0 "0 1
1 2
3 4
4 5" ""
	run_both es-consume -o 3 -F '%o %s\n' t
	expect 0 "3 4
4 5" ""
	echo 6 | es-produce t
	run_both es-consume -o -2 -F '%o %s\n' t
	expect 0 "4 5
5 6" ""
}

@test "check --repair of a torn tail: cut, kept in a quarantine file, then clean" {
	make_topic t
	seq 1 5 | es-produce t
	fixture_torn_tail t
	run_both es-topic check --repair t
	[[ $status == 0 && $stderr == "" ]]
	q=$(cd t/0 && ls | grep '\.quarantine$')
	expect 0 "partition 0, segment 00000000000000000000.log, offset 5, byte 185: torn tail: truncated record (20 bytes): quarantined
partition 0, segment 00000000000000000000.log, offset 0, byte 0: repair: damaged bytes kept in '0/$q'
t: 1 partitions checked: 0 corrupt, 1 torn tail, 0 index: repaired" ""
	[[ $(stat -c %s "t/0/$q") == 20 && $(stat -c %s t/0/00000000000000000000.log) == 185 ]]
	run_both es-topic check t
	expect 0 "t: 1 partitions checked: 0 corrupt, 0 torn tail, 0 index" ""
}

@test "check --repair of a clean topic says nothing was wrong" {
	make_topic t
	seq 1 3 | es-produce t
	run_both es-topic check --repair t
	expect 0 "t: 1 partitions checked: 0 corrupt, 0 torn tail, 0 index" ""
	[[ -z $(cd t/0 && ls | grep quarantine) ]]
}

@test "check: a deleted index is reported and --repair rebuilds it" {
	make_topic t
	seq 1 5 | es-produce t
	rm t/0/00000000000000000000.index
	run_both es-topic check t
	[[ $status == 0 && $stderr == "" ]]
	[[ $output == "partition 0, segment 00000000000000000000.log, offset 0, byte 0: index: index file missing
t: 1 partitions checked: 0 corrupt, 0 torn tail, 1 index" ]]
	run_both es-topic check --repair t
	expect 0 "partition 0, segment 00000000000000000000.log, offset 0, byte 0: index: index file missing: rebuilt
t: 1 partitions checked: 0 corrupt, 0 torn tail, 1 index: repaired" ""
	run_both es-topic check t
	expect 0 "t: 1 partitions checked: 0 corrupt, 0 torn tail, 0 index" ""
}

# ---- alter ------------------------------------------------------------------

@test "alter: partitions grow, existing records stay" {
	make_topic t -p 2
	seq 1 4 | es-produce t
	run_both es-topic alter t -p 4
	expect 0 "" ""
	[[ -d t/2 && -d t/3 ]]
	grep -qx 'partitions: 4              # may grow, never shrink' t/topic.yaml
	run_both es-consume -F '%p %s\n' t
	expect 0 "0 ${lines[0]#0 }
0 ${lines[1]#0 }
1 ${lines[2]#1 }
1 ${lines[3]#1 }" ""
	[[ $(sort -n <<<"$output" | cut -d' ' -f2 | sort -n | tr '\n' ' ') == "1 2 3 4 " ]]
	run_both es-topic alter t --partitions 5
	expect 0 "" ""
	echo x | es-produce -p 4 t
}

@test "alter: shrinking partitions is 64, the topic unchanged" {
	make_topic t -p 4
	cp t/topic.yaml before.yaml
	run_both es-topic alter t -p 3
	expect 64 "" "es-topic: partitions can only grow (from 4, not to 3)"
	cmp before.yaml t/topic.yaml
}

@test "alter: other keys change in topic.yaml, the rest is kept" {
	make_topic t -p 2 --retention 3d
	run_both es-topic alter t --retention 1d --sync none
	expect 0 "" ""
	diff -u <(default_yaml | sed -e 's/^partitions: 1 /partitions: 2 /' \
		-e 's/^retention: 7d /retention: 1d /' -e 's/^sync: batch/sync: none /') t/topic.yaml
}

@test "alter: a bad key or value is 64, nothing changed" {
	make_topic t
	cp t/topic.yaml before.yaml
	run_both es-topic alter t --colour blue
	expect 64 "" "es-topic: unrecognized option '--colour'
es-topic: bad option
$try_help"
	run_both es-topic alter t --retention never
	expect 64 "" "es-topic: bad value 'never' for --retention: use ms, s, m, h, d, w
$try_help"
	run_both es-topic alter t
	expect 64 "" "es-topic: alter needs at least one --KEY VALUE
$try_help"
	cmp before.yaml t/topic.yaml
}

@test "alter: a missing topic is 66" {
	run_both es-topic alter nope -p 2
	expect 66 "" "es-topic: no topic 'nope' (create it with es-topic create)"
	[[ ! -e nope ]]
}

# ---- bad configuration, missing topics ----------------------------------------

@test "a bad value in topic.yaml is 78 naming topic.yaml:LINE:COLUMN" {
	make_topic t
	yaml_set t retention soon
	run_both es-topic describe t
	expect 78 "" "es-topic: t/topic.yaml:6:12: bad duration 'soon' for 'retention' (use ms, s, m, h, d, w)"
	run_both es-topic check t
	expect 78 "" "es-topic: t/topic.yaml:6:12: bad duration 'soon' for 'retention' (use ms, s, m, h, d, w)"
	run_both es-topic alter t -p 2
	expect 78 "" "es-topic: t/topic.yaml:6:12: bad duration 'soon' for 'retention' (use ms, s, m, h, d, w)"
}

@test "an unknown key in topic.yaml is 78 at the key" {
	make_topic t
	echo 'colour: blue' >>t/topic.yaml
	run_both es-topic describe t
	expect 78 "" "es-topic: t/topic.yaml:13:1: unknown key 'colour'"
}

@test "a bad number of partitions in topic.yaml is 78" {
	make_topic t
	yaml_set t partitions x
	run_both es-topic describe t
	expect 78 "" "es-topic: t/topic.yaml:3:13: bad number 'x' for 'partitions' (use a whole number)"
}

@test "a newer format is refused with 78" {
	make_topic t
	fixture_future_format t
	run_both es-topic describe t
	expect 78 "" "es-topic: t/topic.yaml:2:9: format 99 is newer than this es supports (1)"
	run_both es-topic check t
	expect 78 "" "es-topic: t/topic.yaml:2:9: format 99 is newer than this es supports (1)"
}

@test "a missing topic is 66 for describe and check" {
	run_both es-topic describe nope
	expect 66 "" "es-topic: no topic 'nope' (create it with es-topic create)"
	run_both es-topic check nope
	expect 66 "" "es-topic: no topic 'nope' (create it with es-topic create)"
}

# ---- usage ----------------------------------------------------------------------

usage_text="Usage: es-topic create TOPIC [-p N] [--KEY VALUE]... [--if-missing]
       es-topic list [DIR]
       es-topic describe [--json] TOPIC
       es-topic check [--repair] TOPIC
       es-topic alter TOPIC --KEY VALUE...

KEY is any topic.yaml key written with hyphens: partitions (-p),
segment-bytes, segment-age, retention, retention-bytes, cleanup,
delete-retention, compression, max-record-bytes, sync.
Relative TOPIC paths resolve against \$ES_DIR when it is set."

@test "--help and -h: usage on stdout, exit 0" {
	run_both es-topic --help
	expect 0 "$usage_text" ""
	run_both es-topic -h
	expect 0 "$usage_text" ""
	run_both es-topic create --help
	expect 0 "$usage_text" ""
}

@test "--version" {
	run_both es-topic --version
	[[ $status == 0 && $stderr == "" ]]
	[[ $output =~ ^es-topic\ \(es\)\ [0-9]+\.[0-9]+\.[0-9]+,\ format\ 1$ ]]
}

@test "no subcommand or an unknown one is 64" {
	run_both es-topic
	expect 64 "" "es-topic: missing subcommand (create, list, describe, check, alter)
$try_help"
	run_both es-topic frob t
	expect 64 "" "es-topic: unknown subcommand 'frob'
$try_help"
}
