#!/usr/bin/env bats
# man-examples.bats - run the EXAMPLES of every man page for real.
#
# tests/tools/man-examples.sh extracts each page's transcripts ("$ command"
# lines, each followed by the output the page shows for it). Every command
# runs in order in a fresh directory per page, with bin/ first on PATH,
# under bash -o pipefail; it must exit 0 and print exactly the output shown
# (stdout only; trailing blanks aside, which a page cannot show). In a line
# of shown output, "..." stands for any text, as in Python's doctest: for
# times and names that differ from run to run.

setup() {
	ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
	BIN=$ROOT/bin
	EXTRACT=$ROOT/tests/tools/man-examples.sh
	for b in es-topic es-produce es-consume; do
		[ -x "$BIN/$b" ] || { echo "missing $BIN/$b: run make" >&2; return 1; }
	done
}

# Does actual line $2 match shown line $1 ("..." matching any text)?
line_matches() {
	local want=$1 got=$2 pat= rest
	if [[ $want != *...* ]]; then
		[[ $got == "$want" ]]
		return
	fi
	rest=$want
	while [[ $rest == *...* ]]; do
		pat+=$(printf '%q' "${rest%%...*}")'*'
		rest=${rest#*...}
	done
	[[ -z $rest ]] || pat+=$(printf '%q' "$rest")
	eval "[[ \$got == $pat ]]"
}

# Run one command of page $1 in $dir; compare with the lines in want[].
run_example() {
	local page=$1 cmd=$2 rc i
	local out=$dir/.out err=$dir/.err
	rc=0
	(cd "$dir" && env -u ES_DIR PATH="$BIN:$PATH" \
		timeout 60 bash -o pipefail -c "$cmd" </dev/null \
		>"$out" 2>"$err") || rc=$?
	local -a got=()
	mapfile -t got <"$out"
	for i in "${!got[@]}"; do
		got[i]=${got[i]%"${got[i]##*[![:space:]]}"}
	done
	local ok=1
	[ "$rc" -eq 0 ] || ok=0
	[ "${#got[@]}" -eq "${#want[@]}" ] || ok=0
	for ((i = 0; ok && i < ${#want[@]}; i++)); do
		line_matches "${want[i]}" "${got[i]}" || ok=0
	done
	if [ "$ok" -eq 0 ]; then
		echo "$page: example failed: \$ $cmd"
		echo "exit status: $rc"
		echo "--- shown output (${#want[@]} lines)"
		[ "${#want[@]}" -eq 0 ] || printf '%s\n' "${want[@]}"
		echo "--- actual output (${#got[@]} lines)"
		[ "${#got[@]}" -eq 0 ] || printf '%s\n' "${got[@]}"
		echo "--- stderr"
		cat "$err"
		return 1
	fi
}

# Run every example of a page, in order, in a fresh directory.
run_page() {
	local page=$ROOT/man/$1 tx kind text cmd= n=0
	local -a want=()
	tx=$(sh "$EXTRACT" "$page") || return 1
	dir=$(mktemp -d "$BATS_TEST_TMPDIR/ex.XXXXXX")
	while IFS= read -r line; do
		kind=${line%%$'\t'*}
		text=${line#*$'\t'}
		case $kind in
		C|E)
			if [ -n "$cmd" ]; then
				run_example "$1" "$cmd" || return 1
				n=$((n + 1))
			fi
			cmd=
			want=()
			[ "$kind" = C ] && cmd=$text
			;;
		O)
			want+=("${text%"${text##*[![:space:]]}"}")
			;;
		esac
	done <<<"$tx"
	[ -z "$cmd" ] || { echo "unterminated example block" >&2; return 1; }
	echo "# $1: $n example commands" >&3
	[ "$n" -gt 0 ]
}

@test "es-topic.1 examples" {
	run_page es-topic.1
}

@test "es-produce.1 examples" {
	run_page es-produce.1
}

@test "es-consume.1 examples" {
	run_page es-consume.1
}

@test "es-replay.1 examples" {
	run_page es-replay.1
}

@test "es-compact.1 examples" {
	run_page es-compact.1
}

@test "es-format.5 examples" {
	run_page es-format.5
}

@test "es.7 examples" {
	run_page es.7
}
