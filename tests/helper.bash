# tests/helper.bash - shared fixtures for the command tests (bats-core >= 1.5)
#
# Use it from a .bats file as
#
#	bats_require_minimum_version 1.5.0
#	load helper
#
# It gives every test:
#   - ES_ROOT, the repository; PATH with $ES_ROOT/bin first (build with
#     `make` before);
#   - setup(): a fresh, empty directory per test (BATS_TEST_TMPDIR) as the
#     current directory, with ES_DIR and NO_COLOR unset (a test sets them
#     where it means to); a file that needs more defines its own setup()
#     and calls es_setup first;
#   - teardown(): kills what bg_start started (see below); a file that
#     defines its own teardown() calls es_teardown.
#
# Functions (their names and arguments are stable; add, don't change):
#   run_both CMD...            run CMD, stdout in $output, stderr in $stderr,
#                              exit status in $status (bats' run
#                              --separate-stderr; trailing newlines of both
#                              are dropped, as bats does)
#   expect STATUS OUT ERR      after run_both: assert all three exactly; on a
#                              mismatch show what was expected and what came
#   make_topic NAME [ARGS...]  es-topic create NAME ARGS..., or fail the test
#   topic_next TOPIC [P]       the next offset of partition P (default 0)
#   record_at TOPIC P OFFSET   print "SEGMENT POSITION SIZE" of the record at
#                              OFFSET in partition P (SEGMENT is the .log
#                              file name); fails if there is none
#   fixture_torn_tail TOPIC    append 20 bytes to the active segment of
#                              partition 0: the start of a record (header
#                              with len 40, the next offset, half a
#                              timestamp), as a writer killed mid-write
#                              leaves it
#   fixture_bad_crc TOPIC OFFSET [P]
#                              flip a byte (the lowest of the timestamp,
#                              byte 16 of the record) of the published
#                              record at OFFSET of partition P (default 0),
#                              so that its checksum no longer matches
#   fixture_future_format TOPIC  set format: 99 in TOPIC/topic.yaml
#   yaml_set TOPIC KEY VALUE   replace the value of KEY in TOPIC/topic.yaml,
#                              keeping the column where values start
#   murmur2 STRING             Kafka's murmur2 of the bytes of STRING (ASCII),
#                              as a signed 32-bit number
#   kafka_partition KEY N      (murmur2(KEY) & 0x7fffffff) % N
#   wait_for SECONDS CMD...    run CMD every 0.05 s until it succeeds; fail
#                              (status 1, with a message) after SECONDS
#                              (a whole number)
#   lines_at_least N FILE      true when FILE has at least N lines
#   bg_start CMD...            start CMD in the background, fd 3 closed so
#                              that bats does not wait for it (redirect the
#                              call: bg_start CMD <in >out 2>err); its pid
#                              is in $bg_pid and teardown kills it if it
#                              still runs
#   bg_stop PID [SIGNAL]       send SIGNAL (default TERM) to PID and wait
#                              for it; its exit status is in $bg_status;
#                              after 10 s it is killed (SIGKILL) and
#                              bg_stop fails
#   running PID, stopped PID   whether PID still runs (a zombie has stopped)

_es_helper_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ES_ROOT=$(cd "$_es_helper_dir/.." && pwd) # the repository
PATH="$ES_ROOT/bin:$PATH"
export PATH

_es_bg_pids=()

# The C test tools every crash and fault file uses, built once per file
# (call from setup_file): $GEN (paced unique lines) and $VERIFY (a dump
# against what must be in it), from $TOOLS.
build_gen_verify() {
	export TOOLS="$BATS_TEST_DIRNAME/tools"
	export GEN="$BATS_FILE_TMPDIR/gen" VERIFY="$BATS_FILE_TMPDIR/verify"
	gcc -std=c11 -O2 -D_GNU_SOURCE -o "$GEN" "$TOOLS/gen.c"
	gcc -std=c11 -O2 -D_GNU_SOURCE -o "$VERIFY" "$TOOLS/verify.c"
}

es_setup() {
	unset ES_DIR NO_COLOR
	cd "$BATS_TEST_TMPDIR" || return 1
}

es_teardown() {
	local p
	for p in "${_es_bg_pids[@]}"; do
		kill -KILL "$p" 2>/dev/null || true
	done
	_es_bg_pids=()
}

setup() {
	es_setup
}

teardown() {
	es_teardown
}

run_both() {
	run --separate-stderr "$@"
}

expect() {
	local want_status=$1 want_out=$2 want_err=$3
	if [[ $status == "$want_status" && $output == "$want_out" &&
		$stderr == "$want_err" ]]; then
		return 0
	fi
	{
		printf -- '-- status: expected %s, got %s\n' "$want_status" "$status"
		printf -- '-- stdout expected:\n%s\n-- stdout got:\n%s\n' \
			"$want_out" "$output"
		printf -- '-- stderr expected:\n%s\n-- stderr got:\n%s\n--\n' \
			"$want_err" "$stderr"
	} >&2
	return 1
}

make_topic() {
	local out
	if ! out=$(es-topic create "$@" 2>&1); then
		echo "make_topic $*: $out" >&2
		return 1
	fi
}

topic_next() {
	es-topic describe --json "$1" | jq -e ".partitions[${2:-0}].next_offset"
}

record_at() {
	perl -e '
		use strict;
		my ($dir, $want) = @ARGV;
		opendir(my $d, $dir) or die "record_at: $dir: $!\n";
		my @segs = sort grep { /^\d{20}\.log$/ } readdir $d;
		my $seg;
		for (@segs) { $seg = $_ if substr($_, 0, 20) + 0 <= $want }
		defined $seg or die "record_at: no segment for offset $want\n";
		open(my $f, "<:raw", "$dir/$seg") or die "record_at: $seg: $!\n";
		my $pos = 0;
		while (read($f, my $h, 16) == 16) {
			my ($crc, $len, $lo, $hi) = unpack("V V V V", $h);
			my $off = $lo + $hi * 4294967296;
			if ($off == $want) { print "$seg $pos ", 8 + $len, "\n"; exit 0 }
			$pos += 8 + $len;
			seek($f, $pos, 0);
		}
		die "record_at: no record at offset $want in $seg\n";
	' "$1/$2" "$3"
}

fixture_torn_tail() {
	local dir=$1/0 seg next
	seg=$(cd "$dir" && ls | grep -E '^[0-9]{20}\.log$' | sort | tail -n 1)
	[[ -n $seg ]] || { echo "fixture_torn_tail: no segment in $dir" >&2; return 1; }
	next=$(topic_next "$1" 0) || return 1
	perl -e '
		my ($file, $next) = @ARGV;
		open(my $f, ">>:raw", $file) or die "fixture_torn_tail: $file: $!\n";
		print $f pack("V V V V V", 0x5eed5eed, 40, $next % 4294967296,
			int($next / 4294967296), 0x12345678);
		close $f or die;
	' "$dir/$seg" "$next"
}

fixture_bad_crc() {
	local topic=$1 offset=$2 part=${3:-0} at seg pos size
	at=$(record_at "$topic" "$part" "$offset") || return 1
	read -r seg pos size <<<"$at"
	perl -e '
		my ($file, $pos) = @ARGV;
		open(my $f, "+<:raw", $file) or die "fixture_bad_crc: $file: $!\n";
		seek($f, $pos, 0); read($f, my $b, 1) == 1 or die;
		seek($f, $pos, 0); print $f chr(ord($b) ^ 0xff);
		close $f or die;
	' "$topic/$part/$seg" $((pos + 16))
}

yaml_set() {
	local file=$1/topic.yaml key=$2 value=$3
	grep -q "^$key:" "$file" || { echo "yaml_set: no key $key in $file" >&2; return 1; }
	perl -i -pe '
		BEGIN { ($k, $v) = splice(@ARGV, 0, 2) }
		if (/^\Q$k\E:( *)(\S+)( *)(.*)$/) {
			my ($sp, $w, $rest) = ($1, length($2) + length($3), $4);
			my $pad = $w - length($v) - 1;
			$_ = $rest eq "" ? "$k:$sp$v\n"
			   : "$k:$sp$v" . " " x ($pad > 0 ? $pad : 0) . " $rest\n";
		}
	' "$key" "$value" "$file"
}

fixture_future_format() {
	yaml_set "$1" format 99
}

murmur2() {
	local LC_ALL=C s=$1 len=${#1} m=$((0x5bd1e995)) M=$((0xffffffff))
	local h i k n4 b=()
	for ((i = 0; i < len; i++)); do
		printf -v 'b[i]' '%d' "'${s:i:1}"
	done
	h=$(((0x9747b28c ^ len) & M))
	n4=$((len / 4 * 4))
	for ((i = 0; i < n4; i += 4)); do
		k=$((b[i] | b[i + 1] << 8 | b[i + 2] << 16 | b[i + 3] << 24))
		k=$(((k * m) & M))
		k=$((k ^ (k >> 24)))
		k=$(((k * m) & M))
		h=$(((h * m) & M))
		h=$((h ^ k))
	done
	case $((len % 4)) in
	3) h=$((h ^ b[n4 + 2] << 16)) ;&
	2) h=$((h ^ b[n4 + 1] << 8)) ;&
	1) h=$((h ^ b[n4])); h=$(((h * m) & M)) ;;
	esac
	h=$((h ^ (h >> 13)))
	h=$(((h * m) & M))
	h=$((h ^ (h >> 15)))
	((h >= 0x80000000)) && h=$((h - 0x100000000))
	echo "$h"
}

kafka_partition() {
	local h
	h=$(murmur2 "$1")
	echo $(((h & 0x7fffffff) % $2))
}

wait_for() {
	local secs=$1
	shift
	local end=$(($(date +%s%N) / 1000000 + secs * 1000))
	while ! "$@"; do
		if (($(date +%s%N) / 1000000 >= end)); then
			echo "wait_for: timed out after ${secs}s: $*" >&2
			return 1
		fi
		sleep 0.05
	done
}

lines_at_least() {
	[[ -f $2 ]] && (($(wc -l <"$2") >= $1))
}

bg_start() {
	# <&0: without it, bash gives a background command /dev/null as stdin
	"$@" <&0 3>&- &
	bg_pid=$!
	_es_bg_pids+=("$bg_pid")
}

running() {
	local state=
	[[ -r /proc/$1/stat ]] && read -r _ _ state _ <"/proc/$1/stat" 2>/dev/null
	[[ -n $state && $state != Z ]]
}

stopped() {
	! running "$1"
}

bg_stop() {
	local pid=$1 sig=${2:-TERM} rc=0
	kill -"$sig" "$pid" 2>/dev/null || true
	if ! wait_for 10 stopped "$pid"; then
		kill -KILL "$pid" 2>/dev/null || true
		rc=1
	fi
	bg_status=0
	wait "$pid" || bg_status=$?
	return $rc
}

# For files whose tests SIGKILL background members on purpose: no "Killed"
# notices from bash. Use as: teardown() { es_teardown_quiet; }
es_teardown_quiet() {
	disown -a 2>/dev/null || true
	es_teardown
}

# kill9 PID: SIGKILL a background process started by bg_start, quietly.
kill9() {
	disown "$1" 2>/dev/null || true
	kill -KILL "$1"
}
