#!/usr/bin/env bats
# es-lag: lag, age, rate, status, skew; table, JSON, Prometheus, checks,
# --watch (SPEC sections 2, 3, 4, 5; es-lag(1)). Every status is built for
# real: members in follow mode, a killed member, a blocked handler, a slow
# handler, records near the retention edge, records es-compact deleted.
bats_require_minimum_version 1.5.0
load helper

setup() {
	es_setup
	TMUX_SOCK=es-lag-test-$$-$BATS_TEST_NUMBER
}

teardown() {
	# A handler blocked on the gate fifo is released, so that nothing
	# outlives the test.
	if [[ -p gate ]]; then
		timeout 2 sh -c 'printf "go\n" >gate' 2>/dev/null || true
	fi
	tmux -L "$TMUX_SOCK" kill-server 2>/dev/null || true
	es_teardown
}

try_help="Try 'es-lag --help' for more information."
HEAD1=$'GROUP\tTOPIC\tPARTITION\tCURRENT-OFFSET\tLOG-END-OFFSET\tLAG\tAGE\tLAST-COMMIT\tOWNER\tRATE\tETA\tSTATUS'
HEAD2=$'GROUP\tTOPIC\tMEMBERS\tLAG\tMAX-AGE\tRETRIES\tRETRIES/MIN\tDEAD-LETTERS\tSTATUS'
HEAD3=$'TOPIC\tPARTITIONS\tRECORDS\tBYTES\tRECORDS-SKEW\tBYTES-SKEW\tHOT-PARTITION'

# A field of the JSON row of group $2, partition $3, topic $1 (extra
# es-lag options after the three).
row() {
	local t=$1 g=$2 p=$3 f=$4
	shift 4
	es-lag -J "$@" "$t" | jq -r --arg g "$g" --argjson p "$p" \
		".topics[0].groups[] | select(.group == \$g) | .partitions[\$p].$f"
}

status_is() { # TOPIC GROUP PARTITION STATUS [es-lag options]
	local t=$1 g=$2 p=$3 want=$4
	shift 4
	[[ $(row "$t" "$g" "$p" status "$@") == "$want" ]]
}

owner_is() { [[ $(row "$1" "$2" "$3" owner) == "$4" ]]; }
committed_at_least() { (($(row "$1" "$2" "$3" current_offset | sed 's/null/-1/') >= $4)); }

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# N records of about 100 bytes with timestamp TS, keyless, as -J input.
old_records() {
	local n=$1 ts=$2 i
	for ((i = 1; i <= n; i++)); do
		printf '{"key":null,"value":"record-%d-%s","timestamp":%d}\n' "$i" \
			0123456789012345678901234567890123456789 "$ts"
	done
}

# Column C (1-based) of the table row of group G, partition P, topic T.
cell() {
	es-lag "$1" | awk -F '\t' -v g="$2" -v p="$3" -v c="$4" \
		'$1 == g && $3 == p && NF == 12 { print $c }'
}

# Strict reader of the Prometheus text exposition format (0.0.4), with the
# naming conventions es-lag follows; prints what is wrong, exits 1.
prom_check() {
	perl -e '
		use strict;
		my $file = shift;
		open(my $f, "<", $file) or die "prom_check: $file: $!\n";
		local $/; my $text = <$f>;
		my @err;
		length($text) && substr($text, -1) eq "\n" or push @err, "no final newline";
		my $name = qr/[a-zA-Z_:][a-zA-Z0-9_:]*/;
		my $lname = qr/[a-zA-Z_][a-zA-Z0-9_]*/;
		my $lval = qr/"(?:[^"\\\n]|\\[\\"n])*"/;
		my $num = qr/[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|NaN|[+-]Inf/;
		my (%type, %help, %seen, %series, %done);
		my $cur = "";
		my $n = 0;
		for my $line (split /\n/, $text) {
			$n++;
			if ($line =~ /^# (HELP|TYPE) ($name) (.*)$/) {
				my ($kw, $m, $rest) = ($1, $2, $3);
				push @err, "$n: $kw after samples of $m" if $seen{$m};
				push @err, "$n: $m interleaved with another family" if $done{$m};
				if ($kw eq "TYPE") {
					push @err, "$n: second TYPE for $m" if $type{$m}++;
					$rest =~ /^(counter|gauge|histogram|summary|untyped)$/
						or push @err, "$n: bad type $rest";
					$type{$m} = $rest;
					push @err, "$n: counter $m does not end in _total"
						if $rest eq "counter" && $m !~ /_total$/;
					push @err, "$n: gauge $m ends in _total"
						if $rest eq "gauge" && $m =~ /_total$/;
				} else {
					push @err, "$n: second HELP for $m" if $help{$m}++;
					$rest =~ /^(?:[^\\]|\\[\\n])*$/ or push @err, "$n: bad HELP escape";
					length($rest) or push @err, "$n: empty HELP";
				}
				$done{$cur} = 1 if $cur ne "" && $cur ne $m;
				$cur = $m;
				next;
			}
			if ($line =~ /^#/) { push @err, "$n: stray comment"; next }
			if ($line !~ /^($name)(\{(?:$lname=$lval(?:,$lname=$lval)*,?)?\})? ($num)(?: -?\d+)?$/) {
				push @err, "$n: not a sample: $line";
				next;
			}
			my ($m, $labels) = ($1, $2 // "");
			push @err, "$n: $m has no TYPE before its samples" unless $type{$m};
			push @err, "$n: $m has no HELP" unless $help{$m};
			push @err, "$n: $m interleaved with another family" if $done{$m};
			$done{$cur} = 1 if $cur ne "" && $cur ne $m;
			$cur = $m;
			$seen{$m} = 1;
			my %l;
			while ($labels =~ /($lname)=($lval)/g) {
				push @err, "$n: label $1 twice" if exists $l{$1};
				push @err, "$n: reserved label $1" if $1 =~ /^__/;
				$l{$1} = $2;
			}
			my $key = $m . join(",", map { "$_=$l{$_}" } sort keys %l);
			push @err, "$n: duplicate series $key" if $series{$key}++;
			# es-lag: es_ names, a unit or kind at the end
			$m =~ /^es_[a-z_]+$/ or push @err, "$n: $m is not an es_ name";
			$m =~ /_(records|seconds|bytes|total|offset|ratio|per_second|members|owned|status)$/
				or push @err, "$n: $m has no unit suffix";
		}
		if (@err) { print "$_\n" for @err[0 .. ($#err < 9 ? $#err : 9)]; exit 1 }
	' "$1"
}

# ---- options, missing things --------------------------------------------------

@test "--help, --version, usage errors are 64" {
	run_both es-lag --help
	[[ $status == 0 && ${lines[0]} == "Usage: es-lag [options] [TOPIC...]" && -z $stderr ]]
	run_both es-lag --version
	[[ $status == 0 && $output == "es-lag (es) "*", format "* && -z $stderr ]]
	run_both es-lag --warn-lag many
	expect 64 "" "es-lag: bad --warn-lag 'many'
$try_help"
	run_both es-lag --crit-age soon
	expect 64 "" "es-lag: bad --crit-age 'soon' (a duration: 90s, 5m, 1h)
$try_help"
	run_both es-lag --crit-status BROKEN
	expect 64 "" "es-lag: bad status 'BROKEN' (OK, LAGGING, STALLED, STOPPED, AT-RISK, LOST)
$try_help"
	run_both es-lag -J --prometheus
	expect 64 "" "es-lag: -J and --prometheus are exclusive
$try_help"
	run_both es-lag --watch=never
	expect 64 "" "es-lag: bad --watch interval 'never'
$try_help"
}

@test "a missing topic is 66, a message and no table; UNKNOWN (3) with thresholds" {
	run_both es-lag nope
	expect 66 "" "es-lag: no topic 'nope'"
	run_both es-lag --warn-lag 10 nope
	expect 3 "ES-LAG UNKNOWN - no topic 'nope'" "es-lag: no topic 'nope'"
	run_both es-lag -J nope
	expect 66 '{"time":'"$(jq -r .time <<<"$output")"',"status":"OK","topics":[{"topic":"nope","error":"no topic '\''nope'\''"}]}' \
		"es-lag: no topic 'nope'"
	ES_DIR=/nonexistent run_both es-lag
	expect 66 "" "es-lag: no directory '/nonexistent'"
	ES_DIR=/nonexistent run_both es-lag --crit-lag 1
	expect 3 "ES-LAG UNKNOWN - no directory '/nonexistent'" "es-lag: no directory '/nonexistent'"
}

@test "a missing topic among others: the others are shown, then 66" {
	make_topic t
	echo a | es-produce t
	es-consume -g g t >/dev/null
	run_both es-lag t nope
	[[ $status == 66 && $stderr == "es-lag: no topic 'nope'" ]]
	[[ ${lines[0]} == "$HEAD1" && ${lines[1]} == $'g\tt\t0\t1\t1\t0\t0s\t'* ]]
}

@test "-g GROUP: only that group; a group found nowhere is 66, or UNKNOWN" {
	make_topic t
	seq 3 | es-produce t
	es-consume -g a t >/dev/null
	es-consume -g b -n 1 t >/dev/null
	run_both es-lag -g b t
	[[ $status == 0 && ${lines[1]} == $'b\tt\t0\t1\t3\t2\t'*$'\tSTOPPED' && ${#lines[@]} == 6 ]]
	run_both es-lag -g c t
	expect 66 "" "es-lag: no group 'c'"
	run_both es-lag -g c --crit-lag 1 t
	expect 3 "ES-LAG UNKNOWN - no group 'c'" "es-lag: no group 'c'"
}

# ---- the table -------------------------------------------------------------------

@test "the table off a terminal: three tab-separated tables, Kafka's columns first" {
	make_topic t -p 2
	seq 6 | es-produce t # keyless: round-robin, 3 a partition
	es-consume -g counter -n 4 t >/dev/null
	es-consume -g done t >/dev/null
	bytes=$(es-topic describe --json t | jq '[.partitions[].bytes] | add')
	pbytes=$(es-topic describe --json t | jq '.partitions[0].bytes')
	run_both es-lag t
	[[ $status == 0 && -z $stderr ]]
	# AGE, LAST-COMMIT and RATE depend on the clock: shown as A, C and R
	# here (RATE is - until the commits span 2 s).
	got=$(awk -F '\t' 'BEGIN { OFS = "\t" }
		NF == 12 && NR > 1 { if ($7 ~ /^[0-9]+s$/) $7 = "A"; if ($8 ~ /^[0-9]+s$/) $8 = "C"
			if ($10 ~ /^(-|[0-9.]+)$/) $10 = "R" }
		NF == 9 && $1 != "GROUP" { if ($5 ~ /^[0-9]+s$/) $5 = "A" }
		{ print }' <<<"$output")
	diff -u - <(echo "$got") <<EOF
$HEAD1
counter	t	0	3	3	0	A	C	-	R	-	OK
counter	t	1	1	3	2	A	C	-	R	-	STOPPED
done	t	0	3	3	0	A	C	-	R	-	OK
done	t	1	3	3	0	A	C	-	R	-	OK

$HEAD2
counter	t	0	2	A	0	0.0	0	STOPPED
done	t	0	0	A	0	0.0	0	OK

$HEAD3
t	2	6	$bytes	1.00	1.00	0
EOF
	((pbytes * 2 == bytes))
}

@test "a partition the group never committed shows - and OK" {
	make_topic t
	seq 3 | es-produce t
	es-consume -g g t >/dev/null
	# A partition added since: no member took it yet.
	es-topic alter t --partitions 2
	seq 6 | es-produce -p 1 t
	run_both es-lag t
	[[ $status == 0 && ${lines[2]} == $'g\tt\t1\t-\t6\t-\t-\t-\t-\t-\t-\tOK' ]]
	[[ $(row t g 1 current_offset) == null && $(row t g 1 lag) == null ]]
	[[ $(row t g 1 age_seconds) == null && $(row t g 1 status) == OK ]]
}

@test "without TOPIC: every topic below \$ES_DIR or ., named by its path below it" {
	mkdir -p dir/team dir/notes
	make_topic dir/orders
	make_topic dir/team/likes
	echo x >dir/notes/readme
	for t in dir/orders dir/team/likes; do
		echo a | es-produce "$t"
		es-consume -g g "$t" >/dev/null
	done
	ES_DIR=$PWD/dir run_both es-lag
	[[ $status == 0 ]]
	[[ $(awk -F '\t' 'NF == 7 && NR > 1 && $1 != "TOPIC" { print $1 }' <<<"$output" | tr '\n' ' ') == "orders team/likes " ]]
	cd dir
	run_both es-lag --prometheus
	[[ $status == 0 ]]
	grep -qx 'es_partition_end_offset{topic="team/likes",partition="0"} 1' <<<"$output"
	# Long names are never cut.
	long=team/a-topic-whose-name-is-longer-than-any-column-would-be
	make_topic "$long"
	echo a | es-produce "$long"
	es-consume -g a-group-whose-name-is-longer-than-any-column-would-be "$long" >/dev/null
	[[ $(es-lag "$long" | sed -n 2p | cut -f 1,2) == a-group-whose-name-is-longer-than-any-column-would-be$'\t'"$long" ]]
	[[ $(es-lag "$long" | tail -n 1 | cut -f 1) == "$long" ]]
}

@test "on a terminal: aligned columns, the status coloured; never with NO_COLOR" {
	make_topic t -p 2
	seq 6 | es-produce t
	es-consume -g counter -n 4 t >/dev/null
	script -qec 'es-lag t' /dev/null </dev/null >tty.out
	tr -d '\r' <tty.out >tty.txt
	grep -q $'\e\\[31mSTOPPED\e\\[0m' tty.txt
	grep -q $'\e\\[32mOK\e\\[0m' tty.txt
	! grep -q $'\t' tty.txt
	head -n 1 tty.txt | grep -q '^GROUP    TOPIC  PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG  AGE  LAST-COMMIT  OWNER  RATE  ETA  STATUS$'
	grep -q '^counter  t              1               1               3    2 ' tty.txt
	NO_COLOR=1 script -qec 'es-lag t' /dev/null </dev/null >tty.out
	! grep -q $'\e' tty.out
	grep -q 'STOPPED' tty.out
}

# ---- the statuses, built for real ------------------------------------------------

@test "OK and OWNER: a follow member holds the partition and keeps up" {
	make_topic t
	seq 3 | es-produce t
	bg_start es-consume -g g -f t >out 2>err
	wait_for 10 owner_is t g 0 "$bg_pid"
	wait_for 10 committed_at_least t g 0 3
	run_both es-lag t
	[[ $status == 0 && ${lines[1]} == $'g\tt\t0\t3\t3\t0\t0s\t'*$'\t'"$bg_pid"$'\t'*$'\t-\tOK' ]]
	# (bats drops the blank lines from $lines)
	[[ ${lines[3]} == $'g\tt\t1\t0\t0s\t0\t0.0\t0\tOK' ]]
	[[ $(row t g 0 owned) == true ]]
	bg_stop "$bg_pid"
}

@test "OWNER from another pid namespace, where /proc/locks hides the member's lock: still found" {
	unshare --pid --fork --mount-proc true 2>/dev/null || skip "cannot make a pid namespace here"
	make_topic t -p 4
	seq 8 | es-produce t
	bg_start es-consume -g g -f t >out 2>err
	wait_for 10 owner_is t g 3 "$bg_pid"
	# The table there lists no lock of ours...
	[[ $(unshare --pid --fork --mount-proc cat /proc/locks | wc -l) == 0 ]]
	# ...so es-lag probes every lock file instead of trusting it.
	run unshare --pid --fork --mount-proc es-lag -J t
	[[ $status == 0 ]]
	[[ $(jq -c '[.topics[0].groups[0].partitions[] | [.owner == '"$bg_pid"', .owned]]' <<<"$output") == \
		'[[true,true],[true,true],[true,true],[true,true]]' ]]
	bg_stop "$bg_pid"
	# And with no member, no owner, both ways.
	run unshare --pid --fork --mount-proc es-lag -J t
	[[ $(jq -c '[.topics[0].groups[0].partitions[].owned]' <<<"$output") == '[false,false,false,false]' ]]
	[[ $(es-lag -J t | jq -c '[.topics[0].groups[0].partitions[].owned]') == '[false,false,false,false]' ]]
}

@test "STOPPED: the member is killed, records keep coming" {
	make_topic t
	seq 3 | es-produce t
	bg_start es-consume -g g -f t >out 2>err
	wait_for 10 owner_is t g 0 "$bg_pid"
	wait_for 10 committed_at_least t g 0 3
	{ kill -9 "$bg_pid" && wait "$bg_pid"; } 2>/dev/null || true
	seq 2 | es-produce t
	wait_for 10 status_is t g 0 STOPPED
	run_both es-lag t
	[[ ${lines[1]} == $'g\tt\t0\t3\t5\t2\t'*$'\t-\t'*$'\t-\tSTOPPED' ]]
	[[ ${lines[3]} == $'g\tt\t0\t2\t'*$'\t0\t0.0\t0\tSTOPPED' ]]
	[[ $(row t g 0 owner) == null && $(row t g 0 owned) == false ]]
}

# Topic t, 5 records, group g committed at 2, and a following member
# ($bg_pid) whose handler has the next batch and blocks until a line is
# written to ./gate.
member_with_blocked_handler() {
	make_topic t
	seq 5 | es-produce t
	es-consume -g g -n 2 t >/dev/null
	mkfifo gate
	bg_start es-consume -g g -f --exec 'cat >/dev/null; read x <gate' t >out 2>err
	wait_for 10 owner_is t g 0 "$bg_pid"
}

@test "STALLED: the owner's handler blocks; --stall sets the time, the default is longer" {
	member_with_blocked_handler
	wait_for 10 status_is t g 0 STALLED --stall 1s
	run_both es-lag --stall 1s t
	[[ ${lines[1]} == $'g\tt\t0\t2\t5\t3\t'*$'\t'"$bg_pid"$'\t'*$'\t-\tSTALLED' ]]
	# 60 s by default: a lag that does not grow is not a stall yet.
	status_is t g 0 OK
	# Let it go: it commits, and is OK again.
	printf 'go\n' >gate
	wait_for 10 committed_at_least t g 0 5
	status_is t g 0 OK --stall 1s
	bg_stop "$bg_pid"
}

@test "a killed member's handler keeps the partition: STALLED, then STOPPED when it exits" {
	member_with_blocked_handler
	{ kill -9 "$bg_pid" && wait "$bg_pid"; } 2>/dev/null || true
	# No member, but the lock is its handler's: not STOPPED.
	[[ $(es-lag -J t | jq -c '.topics[0].groups[0] | [.members, .partitions[0].owned]') == '[0,true]' ]]
	wait_for 10 status_is t g 0 STALLED --stall 1s
	printf 'go\n' >gate
	wait_for 10 status_is t g 0 STOPPED --stall 1s
}

@test "LAGGING: a slow member while records come faster, over two commit points" {
	make_topic t
	seq 3 | es-produce t
	bg_start es-consume -g g -f --batch 1 --exec 'cat >/dev/null; sleep 0.2' t >out 2>err
	wait_for 10 committed_at_least t g 0 1
	seq 100 | es-produce t
	lagging_with_rate() {
		local j
		j=$(es-lag -J t | jq -c '.topics[0].groups[0].partitions[0] | [.status, .rate]')
		[[ $j == '["LAGGING",'[0-9]* ]]
	}
	wait_for 20 lagging_with_rate
	run_both es-lag t
	[[ ${lines[1]} == $'g\tt\t0\t'*$'\t103\t'*$'\t'"$bg_pid"$'\t'[0-9]*$'\tLAGGING' ]]
	[[ ${lines[3]} == $'g\tt\t1\t'*$'\tLAGGING' ]]
	bg_stop "$bg_pid"
}

@test "AT-RISK: unprocessed records in a closed segment 9.5 s old, retention 10 s" {
	make_topic t --retention 10s --segment-bytes 200
	make_topic fresh --retention 10s --segment-bytes 200
	old_records 8 $(($(now_ms) - 9500)) | es-produce -J t
	old_records 8 $(($(now_ms) - 5000)) | es-produce -J fresh
	[[ $(es-topic describe --json t | jq '.partitions[0].segments') -ge 3 ]]
	for topic in t fresh; do
		es-consume -g early -n 1 "$topic" >/dev/null # in the oldest segment
		es-consume -g late -n 7 "$topic" >/dev/null  # in the active one
	done
	run_both es-lag t
	# (9 s old, or more on a slow machine)
	[[ $status == 0 && ${lines[1]} =~ ^$'early\tt\t0\t1\t8\t7\t'(9|[1-9][0-9])s$'\t'.*$'\tAT-RISK'$ ]]
	[[ ${lines[2]} =~ ^$'late\tt\t0\t7\t8\t1\t'(9|[1-9][0-9])s$'\t'.*$'\tSTOPPED'$ ]]
	# Half of the retention: not yet at risk.
	status_is fresh early 0 STOPPED
	status_is fresh late 0 STOPPED
}

@test "AT-RISK by retention_bytes: the partition is near its byte limit" {
	make_topic t --retention 0 --retention-bytes 1KiB --segment-bytes 200
	old_records 12 "$(now_ms)" | es-produce -J t
	es-consume -g g -n 1 t >/dev/null
	status_is t g 0 AT-RISK
	# Half of the limit: not at risk.
	make_topic half --retention 0 --retention-bytes 2KiB --segment-bytes 200
	old_records 12 "$(now_ms)" | es-produce -J half
	es-consume -g g -n 1 half >/dev/null
	status_is half g 0 STOPPED
}

@test "LOST: es-compact deleted records the group had not read" {
	make_topic t --retention 1m --segment-bytes 200
	old_records 8 $(($(now_ms) - 3600000)) | es-produce -J t
	es-consume -g g -n 1 t >/dev/null
	es-compact t >/dev/null 2>&1
	first=$(es-topic describe --json t | jq '.partitions[0].first_offset')
	((first > 1))
	run_both es-lag t
	[[ $status == 0 && ${lines[1]} == $'g\tt\t0\t1\t8\t7\t1h00m\t'*$'\tLOST' ]]
	[[ $(row t g 0 lost_records) == $((first - 1)) ]]
}

@test "AT-RISK past the oldest segment: every closed segment retention is about to delete counts, as es-compact would" {
	make_topic t --retention 1h --segment-bytes 200
	local old i
	old=$(($(now_ms) - 7200000))
	for ((i = 0; i < 20; i++)); do
		old_records 1 $((old + i * 60000))
	done | es-produce -J t
	es-consume -g mid -n 7 t >/dev/null  # in a closed segment, not the oldest
	es-consume -g end -n 19 t >/dev/null # in the active one
	status_is t mid 0 AT-RISK
	status_is t end 0 STOPPED
	run es-compact -n t
	[[ $output == *"would be: "*" segments deleted"* && $stderr != *"'end'"* ]]
	[[ $(es-compact -n t 2>&1 >/dev/null) == *"group 'mid' had not read"* ]]
}

@test "compaction's gaps are not LOST: key compaction, even of a whole first segment; FIRST stays the first segment's base" {
	make_topic c --cleanup compact --segment-bytes 150
	printf 'a=1\na=2\na=3\nb=1\nb=2\nc=1\nc=2\n' | es-produce -K = c
	es-consume -g g -n 1 c >/dev/null
	es-compact c >/dev/null
	[[ $(es-topic describe --json c | jq -c '.partitions[0] | [.first_offset, .next_offset]') == '[0,7]' ]]
	status_is c g 0 STOPPED
	[[ $(row c g 0 lost_records) == 0 ]]
	# A first segment whose every record is superseded goes whole.
	make_topic w --cleanup compact --segment-bytes 150
	printf 'a=1\na=2\na=3\na=4\nb=1\nb=2\nc=1\n' | es-produce -K = w
	es-consume -g g -n 1 w >/dev/null
	es-compact w >/dev/null
	[[ $(es-topic describe --json w | jq '.partitions[0].first_offset') == 3 ]]
	status_is w g 0 STOPPED
	run_both es-consume -g g -K = w
	expect 0 "a=4
b=2
c=1" ""
}

@test "no ETA for a partition nobody reads, even when AT-RISK outranks STOPPED" {
	make_topic t --retention 1h --segment-bytes 400
	old_records 200 $(($(now_ms) - 3500000)) | es-produce -J t
	bg_start es-consume -g g -f --batch 2 --exec 'cat >/dev/null; sleep 0.1' t >out 2>err
	has_rate() { [[ $(row t g 0 rate) =~ ^[0-9] ]]; }
	wait_for 30 has_rate
	bg_stop "$bg_pid"
	[[ $(row t g 0 lag) -gt 0 ]]
	[[ $(row t g 0 rate) =~ ^[0-9] ]]
	status_is t g 0 AT-RISK
	[[ $(row t g 0 eta_seconds) == null ]]
}

@test "statuses come worst first: LOST wins over AT-RISK and STOPPED" {
	make_topic t --retention 1m --segment-bytes 200
	old_records 12 $(($(now_ms) - 3600000)) | es-produce -J t
	es-consume -g g -n 1 t >/dev/null
	es-compact t >/dev/null 2>&1
	# Lost records, the rest in closed segments past retention, no member.
	status_is t g 0 LOST
}

# ---- figures ---------------------------------------------------------------------

@test "retries and dead letters of --exec, per partition and per group" {
	make_topic t
	seq 3 | es-produce t
	es-consume -g g --exec 'grep -qv 2' --batch 1 --retries 1 --backoff 1ms \
		--dead-letter dlq t 2>/dev/null
	run_both es-lag t
	[[ ${lines[3]} == $'g\tt\t0\t0\t0s\t2\t'*$'\t1\tOK' ]]
	[[ $(row t g 0 retries) == 2 && $(row t g 0 dead_letters) == 1 ]]
	es-lag --prometheus t | grep -qx 'es_consumer_dead_letters_total{topic="t",group="g",partition="0"} 1'
	es-lag --prometheus t | grep -qx 'es_consumer_retries_total{topic="t",group="g",partition="0"} 2'
}

@test "skew: one hot partition of four, by records and bytes" {
	make_topic t -p 4
	for i in 1 2 3 4 5 6 7 8; do echo "like $i"; done | es-produce -k post-7 t
	hot=$(kafka_partition post-7 4)
	run_both es-lag t
	[[ $status == 0 && ${lines[-1]} == $'t\t4\t8\t'*$'\t4.00\t4.00\t'"$hot" ]]
	es-lag -J t | jq -e --argjson hot "$hot" \
		'.topics[0] | .records_skew == 4 and .bytes_skew == 4 and .hot_partition == $hot'
	es-lag --prometheus t | grep -qx 'es_topic_partition_skew_ratio{topic="t",by="records"} 4.000'
	# An even topic is 1.00; an empty one has no skew.
	make_topic even -p 2
	seq 4 | es-produce even
	make_topic empty -p 2
	[[ $(es-lag even | tail -n 1) == $'even\t2\t4\t'*$'\t1.00\t1.00\t0' ]]
	[[ $(es-lag empty | tail -n 1) == $'empty\t2\t0\t0\t-\t-\t0' ]]
}

@test "RATE and ETA: a group that gains on its producers will catch up" {
	make_topic t
	seq 600 | es-produce t
	# About 12 s of work: long enough that the lag is still there when
	# the commits span the 2 s a rate needs, however loaded the machine.
	bg_start es-consume -g g -f --batch 10 --exec 'cat >/dev/null; sleep 0.2' t >out 2>err
	wait_for 10 committed_at_least t g 0 10
	# Each check reads one snapshot: rate, lag and ETA together.
	json_eta() { es-lag -J t | jq -e '.topics[0].groups[0].partitions[0] |
		.rate > 0 and .lag > 0 and (.eta_seconds | type == "number")' >/dev/null; }
	wait_for 30 json_eta
	table_eta() { es-lag t | awk -F '\t' '$1 == "g" && NF == 12 &&
		$10 ~ /^[0-9.]+$/ && $11 ~ /^([0-9]+s|[0-9]+m[0-9]+s)$/ { ok = 1 } END { exit !ok }'; }
	wait_for 30 table_eta
	bg_stop "$bg_pid"
}

# ---- JSON and Prometheus -------------------------------------------------------------

@test "-J: one valid document of the documented shape" {
	make_topic t -p 2
	seq 6 | es-produce t
	es-consume -g counter -n 4 t >/dev/null
	run_both es-lag -J t
	[[ $status == 0 && -z $stderr && ${#lines[@]} == 1 ]]
	jq -e '
		(.time | type == "number") and .status == "STOPPED" and (has("check") | not) and
		(.topics | length == 1) and
		(.topics[0] | .topic == "t" and .partitions == 2 and .records == 6 and
			(.bytes | type == "number") and .records_skew == 1 and .hot_partition == 0 and
			(.partition_stats | map(.records) == [3, 3]) and
			(.groups | length == 1)) and
		(.topics[0].groups[0] | .group == "counter" and .members == 0 and
			.status == "STOPPED" and .lag == 2 and .retries == 0 and .dead_letters == 0 and
			(.max_age_seconds | type == "number")) and
		(.topics[0].groups[0].partitions | map([.partition, .current_offset, .log_end_offset,
			.lag, .owner, .owned, .eta_seconds, .lost_records, .status]) ==
			[[0, 3, 3, 0, null, false, null, 0, "OK"],
			 [1, 1, 3, 2, null, false, null, 0, "STOPPED"]]) and
		(.topics[0].groups[0].partitions | all(
			(.rate == null or (.rate | type == "number")) and
			(.age_seconds | type == "number") and (.last_commit_seconds | type == "number") and
			(.last_commit_time | type == "number")))
	' <<<"$output"
	run_both es-lag -J --crit-lag 1 t
	[[ $status == 2 ]] && jq -e '.check == "CRITICAL"' <<<"$output"
}

@test "--prometheus: valid text exposition format, conventional names" {
	make_topic t -p 2
	make_topic 'odd"name\x'
	seq 6 | es-produce t
	echo a | es-produce 'odd"name\x'
	es-consume -g counter -n 4 t >/dev/null
	es-consume -g g 'odd"name\x' >/dev/null
	bg_start es-consume -g live -f t >out 2>err
	wait_for 10 owner_is t live 0 "$bg_pid"
	es-lag --prometheus >metrics.prom
	prom_check metrics.prom
	if command -v promtool >/dev/null; then
		promtool check metrics <metrics.prom
	fi
	for m in es_consumer_lag_records es_consumer_lag_seconds es_consumer_committed_offset \
		es_consumer_last_commit_timestamp_seconds es_consumer_owned es_consumer_status \
		es_consumer_retries_total es_consumer_dead_letters_total es_consumer_group_members \
		es_partition_end_offset es_partition_first_offset es_partition_records \
		es_partition_size_bytes es_topic_partition_skew_ratio; do
		grep -q "^# TYPE $m " metrics.prom
	done
	grep -qx 'es_consumer_lag_records{topic="t",group="counter",partition="1"} 2' metrics.prom
	grep -qx 'es_consumer_status{topic="t",group="counter",partition="1",status="STOPPED"} 1' metrics.prom
	grep -qx 'es_consumer_status{topic="t",group="counter",partition="1",status="OK"} 0' metrics.prom
	grep -qx 'es_consumer_owned{topic="t",group="live",partition="0"} 1' metrics.prom
	grep -qx 'es_consumer_group_members{topic="t",group="live"} 1' metrics.prom
	grep -qx 'es_consumer_lag_records{topic="odd\\"name\\\\x",group="g",partition="0"} 0' metrics.prom
	# Six status series a partition, one of them 1.
	[[ $(grep -c '^es_consumer_status{topic="t",group="counter",partition="0",' metrics.prom) == 6 ]]
	[[ $(grep '^es_consumer_status{topic="t",group="counter",partition="0",' metrics.prom | awk '{ s += $2 } END { print s }') == 1 ]]
	bg_stop "$bg_pid"
}

@test "the Prometheus checker catches what is wrong" {
	printf '# HELP a_total x\n# TYPE a_total counter\na_total{x="1"} 1\n' >good.prom
	printf 'es_x_records 1\n' >notype.prom
	printf '# HELP es_x_records x\n# TYPE es_x_records gauge\nes_x_records{a="b} 1\n' >badlabel.prom
	printf '# HELP es_x_total x\n# TYPE es_x_total gauge\nes_x_total 1\n' >gaugetotal.prom
	printf '# HELP es_x_records x\n# TYPE es_x_records gauge\nes_x_records 1\nes_x_records 2\n' >dup.prom
	printf '# HELP es_x_records x\n# TYPE es_x_records gauge\nes_x_records one\n' >badvalue.prom
	run prom_check good.prom
	[[ $status == 1 && $output == *"a_total is not an es_ name"* ]]
	for f in notype badlabel gaugetotal dup badvalue; do
		run prom_check $f.prom
		[[ $status == 1 ]] || { echo "$f.prom passed" >&2; return 1; }
	done
}

# ---- -o FILE -------------------------------------------------------------------------

@test "-o FILE: every form, replaced whole by rename, nothing on stdout" {
	make_topic t -p 2
	seq 6 | es-produce t
	es-consume -g counter -n 4 t >/dev/null
	for form in "" -J --prometheus --crit-lag=1; do
		run_both es-lag $form -o out t
		[[ -z $output && -z $stderr ]]
		[[ $(es-lag $form t | head -c 8) == $(head -c 8 out) ]]
	done
	es-lag --prometheus -o out t
	ino=$(stat -c %i out)
	es-lag --prometheus -o out t
	[[ $(stat -c %i out) != "$ino" ]]
	! ls | grep -q 'out\.tmp'
	run_both es-lag -o nodir/out t
	[[ $status == 73 && $stderr == "es-lag: cannot create 'nodir/out.tmp."*"': No such file or directory" ]]
	run_both es-lag --crit-lag 1 -o out t
	[[ $status == 2 && -z $output ]]
	grep -q '^ES-LAG CRITICAL - ' out
}

# ---- thresholds ----------------------------------------------------------------------

@test "thresholds: OK, WARNING, CRITICAL, exit 0 1 2, one line with perfdata" {
	make_topic t -p 2
	seq 6 | es-produce t
	es-consume -g counter -n 4 t >/dev/null
	run_both es-lag --warn-lag 5 t
	[[ $status == 0 && -z $stderr ]]
	[[ $output == "ES-LAG OK - 2 partitions of 1 groups within thresholds, max lag 2 (t/counter/1), max age "*", 1 STOPPED | lag=2;5;;0 age="*"s;;;0" ]]
	run_both es-lag --warn-lag 1 --crit-lag 100 t
	[[ $status == 1 ]]
	[[ $output == "ES-LAG WARNING - 1 of 2 partitions over thresholds, max lag 2 (t/counter/1), max age "*", 1 STOPPED | lag=2;1;100;0 age="*"s;;;0" ]]
	run_both es-lag --warn-lag 0 --crit-lag 1 t
	[[ $status == 2 && $output == "ES-LAG CRITICAL - 1 of 2 partitions over thresholds, max lag 2 (t/counter/1), "* ]]
	# Greater than the threshold, not equal to it.
	run_both es-lag --crit-lag 2 t
	[[ $status == 0 ]]
	run_both es-lag --crit-status STOPPED t
	[[ $status == 2 && $output == "ES-LAG CRITICAL - 1 of 2 partitions over thresholds"* ]]
	run_both es-lag --warn-status LAGGING,STOPPED --crit-status LOST t
	[[ $status == 1 ]]
}

@test "thresholds on age: perfdata in seconds" {
	make_topic t
	old_records 3 $(($(now_ms) - 7200000)) | es-produce -J t
	es-consume -g g -n 1 t >/dev/null
	run_both es-lag --warn-age 1h --crit-age 3h t
	[[ $status == 1 && $output == "ES-LAG WARNING - 1 of 1 partitions over thresholds, max lag 2 (t/g/0), max age 2h00m (t/g/0), 1 STOPPED | lag=2;;;0 age=72"[0-9][0-9]"s;3600;10800;0" ]]
	run_both es-lag --crit-age 90m t
	[[ $status == 2 && $output == *" age=72"[0-9][0-9]"s;;5400;0" ]]
	run_both es-lag --warn-age 500ms t
	[[ $status == 1 && $output == *" age=72"[0-9][0-9]"s;0.5;;0" ]]
}

@test "thresholds: the worst wins, CRITICAL over UNKNOWN over OK" {
	make_topic t
	seq 3 | es-produce t
	es-consume -g g -n 1 t >/dev/null
	run_both es-lag --crit-lag 1 t nope
	[[ $status == 2 && $stderr == "es-lag: no topic 'nope'" ]]
	[[ $output == "ES-LAG CRITICAL - 1 of 1 partitions over thresholds, max lag 2 (t/g/0), "*", no topic 'nope' | lag=2;;1;0 age="* ]]
	run_both es-lag --crit-lag 10 t nope
	[[ $status == 3 && $output == "ES-LAG UNKNOWN - no topic 'nope', 1 partitions of 1 groups within thresholds, max lag 2 (t/g/0), "* ]]
	mkdir empty
	ES_DIR=$PWD/empty run_both es-lag --crit-lag 10
	expect 3 "ES-LAG UNKNOWN - no topics" ""
}

# ---- --watch -------------------------------------------------------------------------

# The visible screen of the tmux pane, and how many lines scrolled off.
pane() { tmux -L "$TMUX_SOCK" capture-pane -p -t lag; }
scrolled() { tmux -L "$TMUX_SOCK" display -p -t lag '#{history_size}'; }
pane_has() { pane | grep -q -- "$1"; }

start_watch() { # rows cols command
	# The pane's shell ignores SIGINT (the command catches it), so that
	# it is there to say how the command ended.
	tmux -L "$TMUX_SOCK" new-session -d -s lag -x "$2" -y "$1" \
		"trap '' INT; cd '$PWD' && export PATH='$PATH' TERM=xterm && $3; sleep 60"
}

@test "--watch redraws in place on a terminal: one table, nothing scrolls" {
	make_topic t -p 2
	seq 6 | es-produce t
	es-consume -g counter -n 4 t >/dev/null
	start_watch 24 120 'es-lag --watch 0.2 t'
	wait_for 10 pane_has 'STOPPED'
	first=$(pane)
	title=$(head -n 1 <<<"$first")
	[[ $title == "Every 0.2s: es-lag "*[0-9][0-9]:[0-9][0-9]:[0-9][0-9] ]]
	# Another second's frame.
	new_title() { [[ $(pane | head -n 1) != "$title" ]]; }
	wait_for 10 new_title
	second=$(pane)
	for screen in "$first" "$second"; do
		[[ $(grep -c '^GROUP  *TOPIC  *PARTITION' <<<"$screen") == 1 ]]
		[[ $(grep -c '^Every ' <<<"$screen") == 1 ]]
		[[ $(sed -n 3p <<<"$screen") == 'GROUP    TOPIC  PARTITION  CURRENT-OFFSET'* ]]
	done
	[[ $(scrolled) == 0 ]]
	# More records: the next frame shows them in place.
	seq 2 | es-produce t
	lag_4() { pane | grep -q '^counter  t  *1  *1  *4  *3 '; }
	wait_for 10 lag_4
	[[ $(scrolled) == 0 && $(pane | grep -c '^GROUP  *TOPIC  *PARTITION') == 1 ]]
}

@test "--watch on a small terminal: cut to its size, still no scrolling" {
	make_topic t -p 8
	seq 16 | es-produce t
	es-consume -g g -n 5 t >/dev/null
	start_watch 6 40 'es-lag --watch 0.2 t'
	wait_for 10 pane_has 'GROUP'
	title=$(pane | head -n 1)
	new_title() { [[ $(pane | head -n 1) != "$title" ]]; }
	wait_for 10 new_title
	[[ $(scrolled) == 0 ]]
	[[ $(pane | sed -n 3p) == 'GROUP  TOPIC  PARTITION  CURRENT-OFFSET' ]]
	[[ $(pane | wc -l) == 6 ]]
	[[ $(pane | awk '{ if (length($0) > 40) bad = 1 } END { print bad + 0 }') == 0 ]]
}

@test "--watch: SIGINT ends it (a signal death), cursor shown again; off a terminal, frames follow" {
	make_topic t
	echo a | es-produce t
	es-consume -g g t >/dev/null
	timeout -s INT 1 es-lag --watch 0.2 t >frames || rc=$?
	[[ $rc == 130 || $rc == 124 ]]
	(($(grep -c "^$HEAD1\$" frames) >= 2))
	! grep -q $'\e' frames
	start_watch 10 80 'es-lag --watch 0.2 t; echo "exit $?"'
	wait_for 10 pane_has 'OK'
	[[ $(tmux -L "$TMUX_SOCK" display -p -t lag '#{cursor_flag}') == 0 ]]
	tmux -L "$TMUX_SOCK" send-keys -t lag C-c
	wait_for 10 pane_has '^exit 130'
	[[ $(tmux -L "$TMUX_SOCK" display -p -t lag '#{cursor_flag}') == 1 ]]
}

@test "--watch does not flicker: the screen is cleared once, then overwritten" {
	make_topic t
	echo a | es-produce t
	es-consume -g g t >/dev/null
	script -qec 'stty cols 200 rows 40; timeout -s INT 1.5 es-lag --watch 0.2 t' /dev/null </dev/null >raw || true
	# One clear of the whole screen, then per frame: home, each line
	# cleared to its end as it is written over, the rest cleared below.
	[[ $(grep -o $'\e\\[2J' raw | wc -l) == 1 ]]
	(($(grep -o $'\e\\[H' raw | wc -l) >= 3))
	(($(grep -o $'\e\\[J' raw | wc -l) >= 3))
	(($(grep -o $'\e\\[K' raw | wc -l) >= 3 * 9))
}

# ---- the manual's examples -------------------------------------------------------------

@test "es-lag.1: the examples run as shown, and the crontab line works" {
	page=$ES_ROOT/man/es-lag.1
	tx=$(sh "$ES_ROOT/tests/tools/man-examples.sh" "$page")
	cmd= n=0
	want=()
	check() {
		local got i
		got=$(bash -o pipefail -c "$cmd" </dev/null) || { echo "failed: $cmd" >&2; return 1; }
		mapfile -t lines_got <<<"$got"
		[[ -z $got ]] && lines_got=()
		((${#lines_got[@]} == ${#want[@]})) || { echo "$cmd: ${#lines_got[@]} lines, not ${#want[@]}: $got" >&2; return 1; }
		for i in "${!want[@]}"; do
			pat=${want[i]//\*/\\*}
			pat=${pat//\?/\\?}
			pat=${pat//\[/\\[}
			pat=${pat//.../*}
			# shellcheck disable=SC2053
			[[ ${lines_got[i]} == $pat ]] || { echo "$cmd: line $i: ${lines_got[i]} is not ${want[i]}" >&2; return 1; }
		done
	}
	while IFS= read -r line; do
		kind=${line%%$'\t'*}
		text=${line#*$'\t'}
		case $kind in
		C | E)
			if [[ -n $cmd ]]; then check; n=$((n + 1)); fi
			cmd= want=()
			[[ $kind == C ]] && cmd=$text
			;;
		O) want+=("$text") ;;
		esac
	done <<<"$tx"
	((n >= 8))
	# The crontab line, with its paths moved here.
	cron=$(sed -n 's/^\.Dl \* \* \* \* \* //p' "$page")
	[[ $cron == "ES_DIR=/var/lib/es es-lag --prometheus -o /var/lib/node_exporter/textfile/es.prom" ]]
	mkdir textfile2
	cron=${cron//\/var\/lib\/node_exporter\/textfile/$PWD/textfile2}
	cron=${cron//\/var\/lib\/es/$PWD}
	sh -c "$cron"
	prom_check textfile2/es.prom
	grep -qx 'es_consumer_lag_records{topic="likes",group="counter",partition="1"} 2' textfile2/es.prom
}

@test "more groups than es-lag reads together (32): every group's rows are right, the topic's facts counted once" {
	make_topic t -p 2
	seq 1 20 | es-produce t
	local g want=""
	for g in $(seq 1 70); do
		es-consume -g "g$(printf %02d "$g")" -n $((g % 20)) t >/dev/null
		want+="g$(printf %02d "$g") $((20 - g % 20))"$'\n'
	done
	run es-lag -J t
	[[ $status == 0 ]]
	[[ $(jq -r '.topics[0].groups[] | "\(.group) \(.lag)"' <<<"$output") == "${want%$'\n'}" ]]
	[[ $(jq -r '.topics[0] | "\(.records) \(.bytes) \([.partition_stats[].records] | add)"' <<<"$output") == "20 $(($(stat -c %s t/0/*.log) + $(stat -c %s t/1/*.log) + $(stat -c %s t/0/*.index) + $(stat -c %s t/1/*.index))) 20" ]]
}
