#!/usr/bin/env bats
# es-compact: retention by age and by size, key compaction (tombstones,
# delete_retention, bounded memory in passes), zlib compression read back
# by every reader, --dry-run, the per-group warning and --keep-unconsumed,
# the compaction lock (SPEC sections 2, 3, 5; issue 7). The crash loop is
# tests/compact-crash.bats; the throughput, tests/bench/compact.sh.
bats_require_minimum_version 1.5.0
load helper

try_help='Try '\''es-compact --help'\'' for more information.'

setup_file() {
	export GEN_LIKES="$BATS_FILE_TMPDIR/gen-likes"
	gcc -O2 -o "$GEN_LIKES" "$BATS_TEST_DIRNAME/bench/gen-likes.c" -lm
}

NOW=$(($(date +%s%N) / 1000000))
H=3600000 # an hour in ms

# jl VALUE TS [KEY]: one es-produce -J envelope; KEY "-" for none, VALUE
# "null" for a tombstone
jl() {
	local v=\"$1\" k=
	[[ $1 == null ]] && v=null
	[[ ${3:--} != - ]] && k="\"key\":\"$3\","
	echo "{$k\"value\":$v,\"timestamp\":$2}"
}

# dump TOPIC: every record, "P O KEY=VALUE" (a tombstone: KEY=<null>)
dump() {
	es-consume -F '%p %o %k=%s %S\n' "$1" | sed 's/= -1$/=<null>/; s/ [0-9]*$//'
}

# The files of a partition, "NAME SIZE", and their sum.
files() { (cd "$1/${2:-0}" && ls -l | awk 'NR > 1 && $9 ~ /^[0-9]+\./ { print $9, $5 }'); }
segs() { (cd "$1/${2:-0}" && ls | grep -E '^[0-9]{20}\.(log|zlog)$' | paste -sd' '); }
bytes() { files "$@" | awk '{ s += $2 } END { print s + 0 }'; }

# state TOPIC: the listing and a checksum of every file
state() {
	(cd "$1" && find . -type f -printf '%p %s\n' | LC_ALL=C sort &&
		find . -type f -exec sha256sum {} + | LC_ALL=C sort)
}

# ---- options --------------------------------------------------------------------

@test "--help, --version, usage errors are 64, a missing topic 66" {
	run_both es-compact --help
	[[ $status == 0 && ${lines[0]} == "Usage: es-compact [options] TOPIC..." && -z $stderr ]]
	run_both es-compact --version
	[[ $status == 0 && $output == "es-compact (es) "* && -z $stderr ]]
	run_both es-compact
	expect 64 "" "es-compact: missing TOPIC
$try_help"
	run_both es-compact --memory 1K t
	expect 64 "" "es-compact: bad --memory '1K' (a size, at least 4KiB)
$try_help"
	run_both es-compact --memory lots t
	expect 64 "" "es-compact: bad --memory 'lots' (a size, at least 4KiB)
$try_help"
	run_both es-compact --bogus t
	expect 64 "" "es-compact: unrecognized option '--bogus'
es-compact: bad option
$try_help"
	run_both es-compact nothere
	expect 66 "" "es-compact: no topic 'nothere' (create it with es-topic create)"
}

@test "a newer format is 78; the topics before it are done" {
	make_topic a
	make_topic b
	echo x | es-produce a
	fixture_future_format b
	run_both es-compact a b
	expect 78 "a/0: segments 1 -> 1, records 0 -> 0, bytes 53B -> 53B; 0 segments deleted, 0 records compacted, 0 segments compressed" "es-compact: b/topic.yaml:2:9: format 99 is newer than this es supports (1)"
}

# ---- retention ------------------------------------------------------------------

@test "retention by age: a closed segment goes when its newest record is older than retention; offsets never change" {
	make_topic ra --segment-bytes 100B --retention 2h
	# Two records a segment: [r0 r1] [r2 r3] [r4 r5] [r6 r7], the last
	# one active; r4 is old, but its segment's newest record, r5, is not.
	{
		jl r0 $((NOW - 9 * H)); jl r1 $((NOW - 8 * H))
		jl r2 $((NOW - 7 * H)); jl r3 $((NOW - 3 * H))
		jl r4 $((NOW - 6 * H)); jl r5 $((NOW - 1 * H))
		jl r6 $((NOW - 9 * H)); jl r7 $((NOW - 9 * H))
	} | es-produce -J ra
	[[ $(segs ra) == "00000000000000000000.log 00000000000000000002.log 00000000000000000004.log 00000000000000000006.log" ]]
	before=$(bytes ra)
	run_both es-compact ra
	expect 0 "ra/0: segments 4 -> 2, records 6 -> 2, bytes 368B -> 184B; 2 segments deleted, 0 records compacted, 0 segments compressed" ""
	[[ $before == 368 && $(bytes ra) == 184 ]]
	[[ $(segs ra) == "00000000000000000004.log 00000000000000000006.log" ]]
	run es-consume -F '%o %s\n' ra
	[[ $output == "4 r4
5 r5
6 r6
7 r7" ]]
	# Nothing more to do; appends go on at the same offsets.
	run_both es-compact ra
	expect 0 "ra/0: segments 2 -> 2, records 2 -> 2, bytes 184B -> 184B; 0 segments deleted, 0 records compacted, 0 segments compressed" ""
	echo r8 | es-produce ra
	[[ $(es-consume -o 8 -F '%o %s' ra) == "8 r8" ]]
}

@test "retention by age: the active segment is never deleted, however old" {
	make_topic old --segment-bytes 100B --retention 1h -p 2
	for i in 0 1 2 3 4; do
		echo "{\"value\":\"o$i\",\"timestamp\":$((NOW - 48 * H)),\"partition\":0}"
	done | es-produce -J old
	echo "{\"value\":\"only\",\"timestamp\":1000,\"partition\":1}" | es-produce -J old
	run_both es-compact old
	expect 0 "old/0: segments 3 -> 1, records 4 -> 0, bytes 238B -> 54B; 2 segments deleted, 0 records compacted, 0 segments compressed
old/1: segments 1 -> 1, records 0 -> 0, bytes 56B -> 56B; 0 segments deleted, 0 records compacted, 0 segments compressed" ""
	[[ $(bytes old 0) == 54 && $(bytes old 1) == 56 ]]
	run es-consume -F '%p %o %s\n' old
	[[ $output == "0 4 o4
1 0 only" ]]
	run_both es-topic check old
	[[ $status == 0 ]]
}

@test "retention 0 keeps everything; cleanup: compact alone deletes nothing by age" {
	make_topic keep --segment-bytes 100B --retention 0
	make_topic kc --segment-bytes 100B --retention 1h --cleanup compact
	for i in 0 1 2 3 4; do jl "v$i" 1000 "k$i"; done | tee >(es-produce -J kc) | es-produce -J keep
	wait_for 5 test "$(topic_next kc)" = 5
	run_both es-compact keep kc
	expect 0 "keep/0: segments 3 -> 3, records 4 -> 4, bytes 248B -> 248B; 0 segments deleted, 0 records compacted, 0 segments compressed
kc/0: segments 3 -> 3, records 4 -> 4, bytes 248B -> 248B; 0 segments deleted, 0 records compacted, 0 segments compressed" ""
	[[ $(bytes keep) == 248 ]]
}

@test "retention by size: oldest closed segments go until the partition (all its files) fits retention_bytes" {
	make_topic rb --segment-bytes 100B --retention-bytes 300B -p 2
	seq 1 10 | es-produce -p 0 rb
	seq 1 3 | es-produce -p 1 rb
	[[ $(bytes rb 0) == 451 && $(bytes rb 1) == 143 ]]
	run_both es-compact rb
	expect 0 "rb/0: segments 5 -> 3, records 8 -> 4, bytes 451B -> 271B; 2 segments deleted, 0 records compacted, 0 segments compressed
rb/1: segments 2 -> 2, records 2 -> 2, bytes 143B -> 143B; 0 segments deleted, 0 records compacted, 0 segments compressed" ""
	[[ $(bytes rb 0) == 271 ]]
	run es-consume -p 0 -F '%o:%s ' rb
	[[ $output == "4:5 5:6 6:7 7:8 8:9 9:10 " ]]
	# Below what the active segment alone takes: every closed one goes,
	# the active one stays.
	yaml_set rb retention_bytes 10B
	run_both es-compact rb
	expect 0 "rb/0: segments 3 -> 1, records 4 -> 0, bytes 271B -> 91B; 2 segments deleted, 0 records compacted, 0 segments compressed
rb/1: segments 2 -> 1, records 2 -> 0, bytes 143B -> 53B; 1 segments deleted, 0 records compacted, 0 segments compressed" ""
	[[ $(bytes rb 0) == 91 && $(bytes rb 1) == 53 ]]
	run es-consume -F '%p:%o:%s ' rb
	[[ $output == "0:8:9 0:9:10 1:2:3 " ]]
	# An -o below the first retained offset starts there, with a warning.
	run_both es-consume -p 0 -o 2 rb
	expect 0 "9
10" "es-consume: warning: partition 0: offset 2 is below the first retained offset; starting at 8"
}

# ---- key compaction -------------------------------------------------------------

@test "key compaction: the newest record per key survives at its offset; the active segment's records count" {
	make_topic prices --cleanup compact --segment-bytes 64B
	printf 'apple:1\nfig:2\napple:3\nplum:4\nfig:5\napple:6\n' | es-produce -K : prices
	run_both es-compact prices
	expect 0 "prices/0: segments 6 -> 3, records 5 -> 2, bytes 343B -> 171B; 0 segments deleted, 3 records compacted, 0 segments compressed" ""
	[[ $(bytes prices) == 171 ]]
	run dump prices
	[[ $output == "0 3 plum=4
0 4 fig=5
0 5 apple=6" ]]
	run_both es-topic check prices
	[[ $status == 0 ]]
}

@test "tombstones: -Z -K and -J null remove their key's older records; kept until delete_retention past their timestamp" {
	make_topic tb --cleanup compact --segment-bytes 64B --delete-retention 1h
	old=$((NOW - 2 * H)) young=$((NOW - 30 * 60000))
	{
		jl 1 $old a; jl 2 $old b; jl 3 $old c; jl 4 $old d
		jl null $old a    # expired: goes, with the records before it
		jl null $young b  # young: stays, older b goes
	} | es-produce -J tb
	printf 'c:\n' | es-produce -Z -K : tb       # a tombstone of now
	printf 'e:5\nnokey\n' | es-produce -K : tb
	jl keyless $old - | es-produce -J tb
	run dump tb
	[[ $output == "0 0 a=1
0 1 b=2
0 2 c=3
0 3 d=4
0 4 a=<null>
0 5 b=<null>
0 6 c=<null>
0 7 e=5
0 8 =nokey
0 9 =keyless" ]]
	run_both es-compact tb
	expect 0 "tb/0: segments 10 -> 6, records 9 -> 5, bytes 545B -> 330B; 0 segments deleted, 4 records compacted, 0 segments compressed" ""
	[[ $(bytes tb) == 330 ]]
	run dump tb
	[[ $output == "0 3 d=4
0 5 b=<null>
0 6 c=<null>
0 7 e=5
0 8 =nokey
0 9 =keyless" ]]
	# Once past delete_retention, the newest tombstone of a key goes too
	# (from a closed segment; records without a key never do).
	yaml_set tb delete_retention 10m
	run_both es-compact tb
	[[ $status == 0 && $output == "tb/0: segments 6 -> 5, records 5 -> 4, bytes 330B -> $(bytes tb)B; 0 segments deleted, 1 records compacted, 0 segments compressed" ]]
	run dump tb
	[[ $output == "0 3 d=4
0 6 c=<null>
0 7 e=5
0 8 =nokey
0 9 =keyless" ]]
}

@test "a tombstone in the active segment is never dropped, however old; its key's older records go" {
	make_topic ta --cleanup compact --segment-bytes 1MiB --delete-retention 1ms
	{ jl 1 1000 a; jl 2 1000 b; } | es-produce -J ta
	yaml_set ta segment_bytes 64B
	jl null 1000 a | es-produce -J ta
	# 0: a=1 b=2 (closed), 2: the tombstone (active)
	[[ $(segs ta) == "00000000000000000000.log 00000000000000000002.log" ]]
	run_both es-compact ta
	expect 0 "ta/0: segments 2 -> 2, records 2 -> 1, bytes 145B -> 107B; 0 segments deleted, 1 records compacted, 0 segments compressed" ""
	[[ $(bytes ta) == 107 ]]
	run dump ta
	[[ $output == "0 1 b=2
0 2 a=<null>" ]]
}

@test "cleanup compact,delete: retention first, then compaction of what remains, in one run" {
	make_topic cd --cleanup compact,delete --segment-bytes 64B --retention 1h
	{
		jl 1 $((NOW - 3 * H)) a; jl 2 $((NOW - 3 * H)) b
		jl 3 $((NOW - 1000)) a; jl 4 $((NOW - 1000)) c; jl 5 $((NOW - 1000)) c
	} | es-produce -J cd
	run_both es-compact -n cd
	expect 0 "cd/0: segments 5 -> 3, records 4 -> 1, bytes 270B -> 162B; would be: 2 segments deleted, 1 records compacted, 0 segments compressed" ""
	run_both es-compact cd
	expect 0 "cd/0: segments 5 -> 2, records 4 -> 1, bytes 270B -> 108B; 2 segments deleted, 1 records compacted, 0 segments compressed" ""
	[[ $(bytes cd) == 108 ]]
	run dump cd
	[[ $output == "0 2 a=3
0 4 c=5" ]]
	run_both es-compact cd
	expect 0 "cd/0: segments 2 -> 2, records 1 -> 1, bytes 108B -> 108B; 0 segments deleted, 0 records compacted, 0 segments compressed" ""
}

# The model: of the records read before compaction, those in closed
# segments survive only when no record with their key comes later in the
# partition (tombstones are young here); the active segment's all do.
@test "key compaction against a model: 4 partitions, 3000 records, 400 keys, tombstones; readers see the same records, with gaps" {
	make_topic m --cleanup compact --segment-bytes 2KiB -p 4
	awk 'BEGIN { srand(7); for (i = 0; i < 3000; i++) {
		k = int(rand() * rand() * 400)
		if (i % 37 == 0) printf "k%d:\n", k; else printf "k%d:v%d-%s\n", k, i, substr("xxxxxxxxxxxxxxxxxxxx", 1, i % 20) } }' |
		es-produce -Z -K : m
	es-consume -J m >before.jsonl
	for p in 0 1 2 3; do
		echo "$p $(segs m $p | tr ' ' '\n' | tail -n 1 | cut -c1-20 | sed 's/^0*//; s/^$/0/')"
	done >active
	run_both es-compact m
	[[ $status == 0 && -z $stderr && ${#lines[@]} == 4 ]]
	es-consume -J m >after.jsonl
	perl -MJSON::PP -e '
		my %active = map { split } do { open my $f, "<", "active" or die; <$f> };
		my (@recs, %last);
		open my $b, "<", "before.jsonl" or die;
		while (<$b>) {
			my $r = decode_json($_);
			push @recs, $r;
			$last{"$r->{partition}/$r->{key}"} = $r->{offset} if defined $r->{key};
		}
		open my $w, ">", "want.jsonl" or die;
		for my $r (@recs) {
			my $p = $r->{partition};
			my $keep = $r->{offset} >= $active{$p} || !defined $r->{key} ||
				$last{"$p/$r->{key}"} == $r->{offset};
			print $w encode_json($r), "\n" if $keep;
		}
	'
	jq -c -S . want.jsonl >want.sorted
	jq -c -S . after.jsonl >after.sorted
	diff want.sorted after.sorted
	[[ $(wc -l <after.jsonl) -lt $(($(wc -l <before.jsonl) / 2)) ]]
	# The summary lines count exactly what went.
	compacted=$(printf '%s\n' "${lines[@]}" | sed 's/.* \([0-9]*\) records compacted.*/\1/' | awk '{ s += $1 } END { print s }')
	[[ $compacted == "$(($(wc -l <before.jsonl) - $(wc -l <after.jsonl)))" ]]
	run_both es-topic check m
	[[ $status == 0 ]]
	# Offsets increase, with gaps; -o N into a gap starts at the next record.
	gap=$(jq -r 'select(.partition == 0) | .offset' after.jsonl | awk 'NR > 1 && $1 > prev + 1 { print prev + 1; exit } { prev = $1 }')
	next=$(jq -r "select(.partition == 0 and .offset > $gap) | .offset" after.jsonl | head -n 1)
	run_both es-consume -p 0 -o "$gap" -n 1 -F '%o' m
	expect 0 "$next" ""
	# A group reads the same records as a plain read, and commits the end.
	es-consume -g g -J m | jq -c -S . >group.sorted
	diff <(sort want.sorted) <(sort group.sorted)
	[[ $(es-replay -g g -J m 2>/dev/null | jq -c '[.partitions[].committed_now]') == \
		"$(es-topic describe --json m | jq -c '[.partitions[].next_offset]')" ]]
}

@test "--memory: more keys than fit are compacted in passes; the same result, the memory flat" {
	make_topic many --cleanup compact --segment-bytes 32KiB
	for r in 1 2 3; do seq 1 3000 | sed "s/.*/key&:v&-$r/"; done | es-produce -K : many
	cp -a many one
	run_both /usr/bin/time -f '%M' -o rss.small es-compact --memory 4KiB many
	[[ $status == 0 && -z $stderr ]]
	[[ $output == "many/0: segments 14 -> 5, records 8647 -> 2647, bytes 434.7KiB -> 144.9KiB; 0 segments deleted, 6000 records compacted, 0 segments compressed ("*" key passes)" ]]
	passes=${output##*(}
	passes=${passes%% key passes)}
	# 3000 keys, at most 4096 / 24 * 0.7 of them in the map at once
	((passes * 4096 * 7 / 10 / 24 >= 3000))
	run_both /usr/bin/time -f '%M' -o rss.big es-compact one
	expect 0 "one/0: segments 14 -> 5, records 8647 -> 2647, bytes 434.7KiB -> 144.9KiB; 0 segments deleted, 6000 records compacted, 0 segments compressed" ""
	diff <(dump many) <(dump one)
	[[ $(es-consume many | wc -l) == 3000 ]]
	echo "# --memory 4KiB: $passes key passes, peak RSS $(cat rss.small) KiB; default 16MiB: $(cat rss.big) KiB" >&3
	# The map is what grows with the keys: the small run stays small.
	(($(tail -n 1 rss.small) < 8192))
	(($(tail -n 1 rss.big) > $(tail -n 1 rss.small) + 8192))
}

# ---- compression ------------------------------------------------------------------

@test "compression: zlib: closed segments rewritten compressed, then left alone; offsets and records unchanged" {
	make_topic logs --compression zlib --segment-bytes 64KiB
	seq 100000 | es-produce logs
	run_both es-compact logs
	[[ $status == 0 && -z $stderr ]]
	[[ $output == "logs/0: segments 63 -> 63, records 99347 -> 99347, bytes 3.9MiB -> "*"; 0 segments deleted, 0 records compacted, 62 segments compressed" ]]
	[[ $(ls logs/0 | grep -c '\.zlog$') == 62 && $(ls logs/0 | grep -c '\.log$') == 1 ]]
	[[ $(ls logs/0 | head -n 2 | paste -sd' ') == "00000000000000000000.index 00000000000000000000.zlog" ]]
	run_both es-compact logs
	[[ $status == 0 && $output == "logs/0: segments 63 -> 63, records 99347 -> 99347, bytes "*" -> "*"; 0 segments deleted, 0 records compacted, 0 segments compressed" ]]
	run_both es-consume -o 50000 -n 2 logs
	expect 0 "50001
50002" ""
	diff <(es-consume logs) <(seq 100000)
	run_both es-topic check logs
	expect 0 "logs: 1 partitions checked: 0 corrupt, 0 torn tail, 0 index" ""
}

@test "compression: every reader reads compressed segments as plain ones; the ratio on the likes workload" {
	"$GEN_LIKES" 20000 42 1000 >likes.jsonl
	make_topic plain --segment-bytes 128KiB -p 2 --retention 0
	# keyed by post_id, each record at its event's time (ts)
	jq -c '{key: (.post_id | tostring), value: tojson, timestamp: .ts}' likes.jsonl |
		es-produce -J plain
	cp -a plain z
	yaml_set z compression zlib
	es-consume -g g -n 3000 plain >/dev/null
	cp -a plain/groups z/
	lag_before=$(es-lag -J plain | jq -c '[.topics[0].groups[0].partitions[] | [.current_offset, .lag, .status]]')
	run_both es-compact z
	[[ $status == 0 && -z $stderr && ${#lines[@]} == 2 ]]
	raw=$(cat plain/[01]/*.log plain/[01]/*.index | wc -c)
	packed=$(cat z/[01]/*.log z/[01]/*.zlog z/[01]/*.index | wc -c)
	ratio=$(awk -v a="$raw" -v b="$packed" 'BEGIN { printf "%.2f", a / b }')
	echo "# compression ratio: $ratio ($raw -> $packed bytes, 20000 like events, the active segments uncompressed)" >&3
	zraw=$(cat plain/[01]/*.log | wc -c)
	[[ $(ls z/0 | grep -c '\.zlog$') -ge 5 ]]
	# Whole reads, in every format.
	for f in "" "-K |" "-F %p/%o/%T/%k/%K/%S/%I/%h\n"; do
		diff <(es-consume $f plain) <(es-consume $f z)
	done
	diff <(es-consume -J plain | sed 's/^{"topic":"plain"/{"topic":"z"/') <(es-consume -J z)
	# Every start position: offsets (at and around block and segment
	# bounds, and in the middle of blocks), -N, --since, --until, -n.
	for p in 0 1; do
		end=$(topic_next z $p)
		for o in 0 1 2 100 777 1000 2047 2048 2049 3333 4095 4096 5000 $((end / 2)) $((end - 1)) $end $((end + 5)); do
			want=$(es-consume -p $p -o $o -n 3 -F '%o %s\n' plain)
			[[ $(es-consume -p $p -o $o -n 3 -F '%o %s\n' z) == "$want" ]] || { echo "-p $p -o $o"; false; }
		done
		for o in -1 -100 -5000; do
			[[ $(es-consume -p $p -o $o -F '%o\n' z | md5sum) == "$(es-consume -p $p -o $o -F '%o\n' plain | md5sum)" ]]
		done
	done
	for ms in 0 1999 5000 7777 12345 20000 25000 30000; do
		tm=@$((1764180000000 + ms))
		[[ $(es-consume --since $tm -n 2 -F '%p %o\n' z) == "$(es-consume --since $tm -n 2 -F '%p %o\n' plain)" ]] || { echo "--since $tm"; false; }
		[[ $(es-consume --until $tm -F '%p %o\n' z | md5sum) == "$(es-consume --until $tm -F '%p %o\n' plain | md5sum)" ]] || { echo "--until $tm"; false; }
	done
	# es-lag sees the same lag (nothing LOST); the group resumes in the
	# middle of a compressed segment.
	[[ $(es-lag -J z | jq -c '[.topics[0].groups[0].partitions[] | [.current_offset, .lag, .status]]') == "$lag_before" ]]
	diff <(es-consume -g g plain) <(es-consume -g g z)
	# es-replay plans through the compressed time index the same.
	for tm in @1764180003000 @$(($(date +%s%N) / 1000000)) 2025-11-26T18:00:15Z -1h; do
		[[ $(es-replay -g x -J --to-time $tm z | jq -c '[.partitions[].committed_after]') == \
			"$(es-replay -g x -J --to-time $tm plain | jq -c '[.partitions[].committed_after]')" ]]
	done
	run_both es-replay -g g --to 1500 --execute z
	[[ $status == 0 && -z $stderr ]]
	[[ $(es-consume -g g -F '%p %o\n' z | grep '^0 ' | head -n 2 | paste -sd' ') == "0 1500 0 1501" ]]
	# Partition facts count the compressed segments.
	[[ $(es-topic describe --json z | jq -c '[.partitions[] | [.first_offset, .next_offset, .segments, .oldest_timestamp]]') == \
		"$(es-topic describe --json plain | jq -c '[.partitions[] | [.first_offset, .next_offset, .segments, .oldest_timestamp]]')" ]]
	[[ $(es-topic describe --json z | jq '[.partitions[].bytes] | add') == \
		"$(cat z/[01]/*.log z/[01]/*.zlog z/[01]/*.index | wc -c)" ]]
	run_both es-topic check z
	expect 0 "z: 2 partitions checked: 0 corrupt, 0 torn tail, 0 index" ""
	(( $(awk -v r="$ratio" 'BEGIN { print (r >= 3) }') ))
}

@test "compression with key compaction: one rewrite; a compressed segment is never made plain again" {
	make_topic zc --cleanup compact --compression zlib --segment-bytes 4KiB
	for r in 1 2; do seq 1 200 | sed "s/.*/k&:value-&-$r-padding-padding/"; done | es-produce -K : zc
	run_both es-compact zc
	[[ $status == 0 && $output == "zc/0: segments "*"; 0 segments deleted, 200 records compacted, "*" segments compressed" ]]
	[[ $(ls zc/0 | grep -c '\.log$') == 1 ]]
	diff <(es-consume -K = zc) <(seq 1 200 | sed 's/.*/k&=value-&-2-padding-padding/')
	# compression back to none: compaction keeps what it rewrites compressed.
	yaml_set zc compression none
	printf 'k%s:new\n' 1 2 3 | es-produce -K : zc
	yaml_set zc segment_bytes 64B
	echo k4:roll | es-produce -K : zc
	echo k5:roll | es-produce -K : zc
	run_both es-compact zc
	[[ $status == 0 && $output == *"; 0 segments deleted, 5 records compacted, 0 segments compressed" ]]
	[[ $(ls zc/0 | grep -c '\.zlog$') -ge 2 ]]
	diff <(es-consume -K = zc | sort) <({ seq 6 200 | sed 's/.*/k&=value-&-2-padding-padding/'; printf 'k%s=new\n' 1 2 3; echo k4=roll; echo k5=roll; } | sort)
	run_both es-topic check zc
	[[ $status == 0 ]]
}

# ---- dry run, groups ------------------------------------------------------------

@test "--dry-run says what would be done and changes nothing: listing and checksums" {
	make_topic d1 --segment-bytes 100B --retention 1h --compression zlib
	for i in 0 1 2 3 4 5; do jl "d$i" $((i < 3 ? NOW - 2 * H : NOW)); done | es-produce -J d1
	make_topic d2 --cleanup compact --segment-bytes 64B
	printf 'apple:1\nfig:2\napple:3\nplum:4\nfig:5\napple:6\n' | es-produce -K : d2
	# Leftovers of a killed run are left as they are too; no lock file is
	# made.
	: >d2/0/00000000000000000000.log.cleaned
	before=$(state d1; state d2)
	run_both es-compact -n d1 d2
	expect 0 "d1/0: segments 3 -> 2, records 4 -> 2, bytes 276B -> 184B; would be: 1 segments deleted, 0 records compacted, 1 segments compressed
d2/0: segments 6 -> 6, records 5 -> 2, bytes 343B -> 343B; would be: 0 segments deleted, 3 records compacted, 0 segments compressed" ""
	[[ $(state d1; state d2) == "$before" ]]
	run_both es-compact --dry-run d2
	[[ $status == 0 && $(state d1; state d2) == "$before" ]]
	# The real run does what the dry run said.
	run_both es-compact d1 d2
	expect 0 "d1/0: segments 3 -> 2, records 4 -> 2, bytes 276B -> "*"; 1 segments deleted, 0 records compacted, 1 segments compressed
d2/0: segments 6 -> 3, records 5 -> 2, bytes 343B -> 171B; 0 segments deleted, 3 records compacted, 0 segments compressed" "" ||
		[[ $status == 0 && ${lines[0]} == "d1/0: segments 3 -> 2, records 4 -> 2, bytes 276B -> "*"; 1 segments deleted, 0 records compacted, 1 segments compressed" &&
			${lines[1]} == "d2/0: segments 6 -> 3, records 5 -> 2, bytes 343B -> 171B; 0 segments deleted, 3 records compacted, 0 segments compressed" ]]
	[[ ! -e d2/0/00000000000000000000.log.cleaned ]]
}

@test "--keep-unconsumed keeps what a group whose commit is damaged may not have read; a plain run warns of it" {
	make_topic clicks --segment-bytes 64B
	for v in home cart paid; do
		echo "{\"value\":\"$v\",\"timestamp\":1764151200000}"
	done | es-produce -J clicks
	es-replay -g g --to latest --execute clicks >/dev/null
	# Both slots damaged: es-consume would read from the earliest offset.
	printf 'X' | dd of=clicks/groups/g/commits bs=1 seek=9 conv=notrunc status=none
	printf 'X' | dd of=clicks/groups/g/commits bs=1 seek=4105 conv=notrunc status=none
	run_both es-compact --keep-unconsumed clicks
	expect 0 "clicks/0: segments 3 -> 3, records 2 -> 2, bytes 168B -> 168B; 0 segments deleted, 0 records compacted, 0 segments compressed" ""
	run_both es-compact -n clicks
	expect 0 "clicks/0: segments 3 -> 1, records 2 -> 0, bytes 168B -> 56B; would be: 2 segments deleted, 0 records compacted, 0 segments compressed" "es-compact: warning: clicks/0: group 'g' had not read 1 record that retention would delete (use --keep-unconsumed to keep them)
es-compact: warning: clicks/0: group 'g' had not read 1 record that retention would delete (use --keep-unconsumed to keep them)"
}

@test "a warning per group for records retention deletes before the group read them; --keep-unconsumed keeps them" {
	make_topic clicks --segment-bytes 64B -p 2
	for v in home cart paid; do
		echo "{\"value\":\"$v\",\"timestamp\":1764151200000,\"partition\":0}"
	done | es-produce -J clicks
	for v in a b; do
		echo "{\"value\":\"$v\",\"timestamp\":1764151200000,\"partition\":1}"
	done | es-produce -J clicks
	es-replay -g stats --to 1 -p 0 --execute clicks >/dev/null # read home
	es-replay -g stats --to 1 -p 1 --execute clicks >/dev/null
	es-replay -g done --to latest --execute clicks >/dev/null  # read all
	es-replay -g new --to 0 -p 1 --execute clicks >/dev/null  # none of 0
	before=$(state clicks)
	run_both es-compact -n clicks
	expect 0 "clicks/0: segments 3 -> 1, records 2 -> 0, bytes 168B -> 56B; would be: 2 segments deleted, 0 records compacted, 0 segments compressed
clicks/1: segments 2 -> 1, records 1 -> 0, bytes 106B -> 53B; would be: 1 segments deleted, 0 records compacted, 0 segments compressed" "es-compact: warning: clicks/0: group 'new' had not read 1 record that retention would delete (use --keep-unconsumed to keep them)
es-compact: warning: clicks/0: group 'new' had not read 1 record that retention would delete (use --keep-unconsumed to keep them)
es-compact: warning: clicks/0: group 'stats' had not read 1 record that retention would delete (use --keep-unconsumed to keep them)
es-compact: warning: clicks/1: group 'new' had not read 1 record that retention would delete (use --keep-unconsumed to keep them)"
	[[ $(state clicks) == "$before" ]]
	# The same warnings from a real run (on a copy).
	cp -a clicks copy
	run_both es-compact copy
	expect 0 "copy/0: segments 3 -> 1, records 2 -> 0, bytes 168B -> 56B; 2 segments deleted, 0 records compacted, 0 segments compressed
copy/1: segments 2 -> 1, records 1 -> 0, bytes 106B -> 53B; 1 segments deleted, 0 records compacted, 0 segments compressed" "es-compact: warning: copy/0: group 'new' had not read 1 record that retention deleted (use --keep-unconsumed to keep them)
es-compact: warning: copy/0: group 'new' had not read 1 record that retention deleted (use --keep-unconsumed to keep them)
es-compact: warning: copy/0: group 'stats' had not read 1 record that retention deleted (use --keep-unconsumed to keep them)
es-compact: warning: copy/1: group 'new' had not read 1 record that retention deleted (use --keep-unconsumed to keep them)"
	run_both es-compact --keep-unconsumed clicks
	expect 0 "clicks/0: segments 3 -> 3, records 2 -> 2, bytes 168B -> 168B; 0 segments deleted, 0 records compacted, 0 segments compressed
clicks/1: segments 2 -> 2, records 1 -> 1, bytes 106B -> 106B; 0 segments deleted, 0 records compacted, 0 segments compressed" ""
	es-replay -g new --to latest --execute clicks >/dev/null
	run_both es-compact --keep-unconsumed clicks
	expect 0 "clicks/0: segments 3 -> 2, records 2 -> 1, bytes 168B -> 112B; 1 segments deleted, 0 records compacted, 0 segments compressed
clicks/1: segments 2 -> 1, records 1 -> 0, bytes 106B -> 53B; 1 segments deleted, 0 records compacted, 0 segments compressed" ""
	run es-consume -g stats clicks
	[[ $output == "cart
paid
b" ]]
	run_both es-compact clicks
	expect 0 "clicks/0: segments 2 -> 1, records 1 -> 0, bytes 112B -> 56B; 1 segments deleted, 0 records compacted, 0 segments compressed
clicks/1: segments 1 -> 1, records 0 -> 0, bytes 53B -> 53B; 0 segments deleted, 0 records compacted, 0 segments compressed" ""
}

# ---- concurrency ----------------------------------------------------------------

@test "two es-compact of one topic never overlap: the second exits 75 at once, or waits with --wait" {
	make_topic prices --cleanup compact --segment-bytes 64B
	make_topic other
	printf 'apple:1\nfig:2\napple:3\n' | es-produce -K : prices
	echo x | es-produce other
	# The lock held by the process that bg_stop stops.
	bg_start bash -c 'exec 9>prices/compact.lock && flock 9 && exec sleep 30'
	holder=$bg_pid
	wait_for 5 sh -c '! flock -n prices/compact.lock true'
	start=$(date +%s%N)
	run_both es-compact prices other
	ms=$((($(date +%s%N) - start) / 1000000))
	expect 75 "other/0: segments 1 -> 1, records 0 -> 0, bytes 53B -> 53B; 0 segments deleted, 0 records compacted, 0 segments compressed" "es-compact: another es-compact is running on 'prices'"
	((ms < 2000))
	[[ $(segs prices) == "00000000000000000000.log 00000000000000000001.log 00000000000000000002.log" ]]
	bg_start es-compact --wait prices >out 2>err
	waiter=$bg_pid
	running "$waiter"
	[[ $(segs prices) == "00000000000000000000.log 00000000000000000001.log 00000000000000000002.log" ]]
	bg_stop "$holder"
	wait_for 10 stopped "$waiter"
	wait "$waiter"
	[[ $(cat out) == "prices/0: segments 3 -> 2, records 2 -> 1, bytes 172B -> 114B; 0 segments deleted, 1 records compacted, 0 segments compressed" && ! -s err ]]
}

@test "a corrupt closed segment: 65, naming it; that partition is left as it was" {
	make_topic bad --cleanup compact --segment-bytes 64B
	printf 'a:1\na:2\na:3\na:4\n' | es-produce -K : bad
	fixture_bad_crc bad 1
	: >bad/compact.lock # made by any run that is not dry
	before=$(state bad)
	run_both es-compact bad
	[[ $status == 65 && -z $output && $stderr == "es-compact: partition 0, segment '00000000000000000001.log': "* ]]
	[[ $(state bad) == "$before" ]]
}

@test "segments compacted to nothing are removed, not counted as compressed" {
	make_topic cb --cleanup compact --compression zlib --segment-bytes 1KiB
	awk 'BEGIN { for (i = 0; i < 60; i++) printf "k%d:v%d-padpadpadpadpad\n", i % 13, i }' | es-produce -K : cb
	run_both es-compact cb
	[[ $status == 0 && $output == "cb/0: segments 4 -> 2, records 52 -> 5, bytes 3.4KiB -> "*"; 0 segments deleted, 47 records compacted, 1 segments compressed" ]]
	[[ $(ls cb/0 | grep -c '\.zlog$') == 1 ]]
}

# -> tests/es-consume-group.bats or tests/es-compact.bats (bug 8)
@test "a new group on a topic whose first records are gone starts at the first record, without a warning" {
	make_topic g8 --segment-bytes 100B
	for i in 0 1 2 3 4 5 6 7; do
		echo "{\"value\":\"r$i\",\"timestamp\":$((1700000000000 + i * 1000))}"
	done | es-produce -J g8
	es-compact g8 >/dev/null
	run_both es-consume -g fresh g8
	expect 0 "r6
r7" ""
	make_topic kk --cleanup compact --segment-bytes 64B
	printf 'a:1\na:2\nb:3\na:4\n' | es-produce -K : kk
	es-compact kk >/dev/null
	run_both es-consume -g fresh -F '%o %s\n' kk
	expect 0 "2 3
3 4" ""
}

@test "key compaction reads up to the published end: a producer's segment not yet synced supersedes nothing" {
	make_topic c --cleanup compact --segment-bytes 100
	printf 'k=v1\na=1\nb=1\nc=1\n' | es-produce -K = c
	# A producer stopped at its sync after a roll: k=v2 written in a new
	# segment, and neither durable nor published.
	printf 'k=v2\nd=1\n' >in
	bg_start strace -f -o /dev/null -e inject=fdatasync:signal=STOP:when=3 es-produce -K = c <in
	tracer=$bg_pid
	producer() { pgrep -P "$tracer" -x es-produce; }
	wait_for 10 producer
	pid=$(producer)
	wait_for 10 grep -q '^State:.*t (tracing stop)' "/proc/$pid/status"
	[[ -e c/0/00000000000000000004.log ]]
	es-compact c >/dev/null
	# The producer dies there: what it wrote was never acknowledged.
	kill -9 "$pid"
	wait "$tracer" || true
	run_both es-consume -K = -o 0 -p 0 -n 1 c
	expect 0 "k=v1" ""
}

@test "key compaction in passes (--memory) over segments it empties: no error, the same records" {
	make_topic m --cleanup compact --segment-bytes 100
	{ seq 0 119; seq 0 119; } | sed 's/^/k/; s/$/=v/' | es-produce -K = m
	es-consume -K = m | sort -u >before
	run_both es-compact --memory 4KiB m
	[[ $status == 0 && -z $stderr ]] || { echo "$status: $stderr"; false; }
	es-consume -K = m | sort >after
	cmp before after
	run_both es-topic check m
	[[ $status == 0 ]]
}

@test "a seek by time finds after compaction what it found before, plain and compressed" {
	local z
	for z in none zlib; do
		make_topic "t$z" --cleanup compact --compression "$z" --segment-bytes 100 --delete-retention 1000d
		for kt in a@2000 b@2010 x@2100 c1@500 c2@600 c3@700 x@3000; do
			printf '{"key":"%s","value":"v","timestamp":%s}\n' "${kt%@*}" "${kt#*@}"
		done | es-produce -J "t$z"
		es-consume -F '%o\n' --since @1500 "t$z" >before
		[[ $(head -1 before) == 0 ]]
		es-compact "t$z" >/dev/null
		run es-consume -F '%o\n' --since @1500 "t$z"
		[[ ${lines[0]} == 0 ]] || { echo "$z: ${lines[*]}"; false; }
	done
}
