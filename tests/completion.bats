#!/usr/bin/env bats
# completion.bats - bash completion (completion/es.bash) for the six
# commands, driven as bash drives it: COMP_WORDS, COMP_CWORD, COMP_LINE and
# COMP_POINT set, _es_complete called, COMPREPLY compared exactly. Then the
# files `make install` puts in place, bash-completion's lazy loading of
# them, and a real interactive bash in tmux.

bats_require_minimum_version 1.5.0
load helper

setup() {
	es_setup
	# shellcheck source=../completion/es.bash
	source "$ES_ROOT/completion/es.bash"
	# Topics likes (2 partitions; groups counter and notify), team/orders
	# (group billing) and lag-test, a directory that is no topic, and a
	# topic inside a hidden directory, which es-topic list would show
	# but completion leaves out.
	mkdir data
	cd data || return 1
	make_topic likes -p 2
	mkdir team empty .hidden
	make_topic team/orders
	make_topic lag-test
	make_topic .hidden/secret
	es-replay -g counter --execute likes >/dev/null
	es-replay -g notify --execute likes >/dev/null
	es-replay -g billing --execute team/orders >/dev/null
	: >notes.txt
}

# comp WORD... : complete the last word, the line being the words joined by
# spaces and the cursor at its end.
comp() {
	comp_at $(($# - 1)) "$@"
}

# comp_at N WORD... : complete word N (from 0), the cursor at its end.
comp_at() {
	local n=$1
	shift
	local -a before=("${@:1:n+1}")
	local line="${before[*]}"
	comp_raw "$*" ${#line} "$n" "$@"
}

# comp_raw LINE POINT CWORD WORD... : as bash sets them.
comp_raw() {
	COMP_LINE=$1
	COMP_POINT=$2
	COMP_CWORD=$3
	shift 3
	COMP_WORDS=("$@")
	COMPREPLY=()
	# Without bats' debug trap inside (set -T would pass it on): a
	# completion runs as bash runs it, and fast.
	local -
	set +T
	_es_complete
}

# expect_reply WORD... : COMPREPLY is exactly these words, in this order.
expect_reply() {
	local want got
	want=$(printf '%s\n' "$@")
	got=$(printf '%s\n' "${COMPREPLY[@]}")
	[[ $# -eq 0 ]] && want=
	[[ ${#COMPREPLY[@]} -eq 0 ]] && got=
	if [[ $got != "$want" ]]; then
		printf -- '-- completing: %s (word %s)\n-- expected:\n%s\n-- got:\n%s\n' \
			"$COMP_LINE" "$COMP_CWORD" "$want" "$got" >&2
		return 1
	fi
}

# The options that `CMD --help` lists, one a line.
help_opts() {
	"$ES_ROOT/bin/$1" --help |
		sed -n 's/^[[:space:]]\{1,\}\(-.*\)/\1/p' | sed 's/   */\n/g' |
		grep '^-' |
		sed -E 's/^(-[A-Za-z0-9])(, (--[a-z][-a-z]*))?.*|^(--[a-z][-a-z]*).*/\1 \3\4/' |
		tr ' ' '\n' | grep . | sort -u
}

@test "every option of --help is completed, for each command" {
	local c
	for c in es-produce es-consume es-replay es-lag es-compact; do
		comp "$c" -
		missing=$(comm -23 <(help_opts "$c") \
			<(printf '%s\n' "${COMPREPLY[@]}" | sort -u))
		[[ -z $missing ]] || { echo "$c: not completed: $missing" >&2; return 1; }
	done
	# es-topic: every KEY its --help names is an option of create and alter.
	local keys
	keys=$(es-topic --help | sed -n '/^KEY is/,/^Relative/p' | sed '$d' |
		tr '\n' ' ' | sed 's/.*hyphens://; s/(-p)//; s/\.//g' | tr ',' '\n' |
		tr -d ' ' | grep . | sed 's/^/--/' | sort -u)
	[[ $(wc -l <<<"$keys") -eq 10 ]]
	for sub in create alter; do
		comp es-topic "$sub" likes --
		missing=$(comm -23 <(echo "$keys") <(printf '%s\n' "${COMPREPLY[@]}" | sort -u))
		[[ -z $missing ]] || { echo "es-topic $sub: not completed: $missing" >&2; return 1; }
	done
}

@test "es-topic: subcommands, the options of each, values, topics" {
	comp es-topic ''
	expect_reply create list describe check alter
	comp es-topic c
	expect_reply create check
	comp es-topic -
	expect_reply -h --help --version
	comp es-topic create -
	expect_reply -p --partitions --segment-bytes --segment-age --retention \
		--retention-bytes --cleanup --delete-retention --compression \
		--max-record-bytes --sync --if-missing -h --help --version
	comp es-topic alter likes --s
	expect_reply --segment-bytes --segment-age --sync
	comp es-topic describe -
	expect_reply --json -h --help --version
	comp es-topic check -
	expect_reply --repair -h --help --version
	comp es-topic list -
	expect_reply -h --help --version
	comp es-topic bogus -
	expect_reply

	comp es-topic create new --cleanup ''
	expect_reply delete compact compact,delete
	comp es-topic alter likes --compression ''
	expect_reply none zlib
	comp es-topic create new --sync ''
	expect_reply always batch none
	comp es-topic alter likes --retention ''
	expect_reply
	comp es-topic create new -p ''
	expect_reply

	comp es-topic describe ''
	expect_reply lag-test likes team/orders
	comp es-topic check l
	expect_reply lag-test likes
	comp es-topic alter --sync none t
	expect_reply team/orders
	comp es-topic describe likes ''
	expect_reply
	comp es-topic create ''
	expect_reply
	comp es-topic list ''
	expect_reply empty lag-test likes team
	comp es-topic list .h
	expect_reply .hidden
}

@test "es-produce: options, --sync values, the topic, then files" {
	comp es-produce -
	expect_reply -0 -K -Z -k --key-field -J -H -p --sync --ack --reject \
		--create -h --help --version
	comp es-produce --sync ''
	expect_reply always batch none
	comp es-produce --sync b
	expect_reply batch
	comp es-produce ''
	expect_reply lag-test likes team/orders
	comp es-produce -K : --key-field user -p 1 l
	expect_reply lag-test likes
	comp es-produce likes no
	expect_reply notes.txt
	comp es-produce --reject no
	expect_reply notes.txt
	comp es-produce -k ''
	expect_reply
}

@test "es-consume: options, -o and --reset values, groups of the topic, topics" {
	comp es-consume -
	expect_reply -o --since --until -p -n -f --follow --idle-timeout \
		--timeout -0 -K -F -J --skip-corrupt -g --group --reset --exec \
		--batch --retries --backoff --dead-letter -j --jobs -h --help \
		--version
	comp es-consume --re
	expect_reply --reset --retries
	comp es-consume -o ''
	expect_reply earliest latest
	comp es-consume -g g --reset l
	expect_reply latest
	comp es-consume ''
	expect_reply lag-test likes team/orders
	comp es-consume -f -n 5 --since -1h -F '%s\n' l
	expect_reply lag-test likes
	comp es-consume likes ''
	expect_reply

	# Group names: of the topic on the line, before or after the cursor.
	comp_at 2 es-consume -g '' likes
	expect_reply counter notify
	comp es-consume likes -g ''
	expect_reply counter notify
	comp es-consume likes --group n
	expect_reply notify
	comp_at 3 es-consume -fJ -g '' team/orders
	expect_reply billing
	comp es-consume -g ''
	expect_reply billing counter notify

	comp es-consume -g c --dead-letter ''
	expect_reply lag-test likes team/orders
	es_zz_handler() { :; }
	comp es-consume -g c --exec es_zz_h
	expect_reply es_zz_handler
	comp es-consume --batch ''
	expect_reply
}

@test "es-replay: options, --to values, groups, the topic" {
	comp es-replay -
	expect_reply -g --group --to --to-time --shift -p --execute --wait \
		--timeout -J -h --help --version
	comp es-replay --to ''
	expect_reply earliest latest
	comp es-replay --to e
	expect_reply earliest
	comp_at 2 es-replay -g '' --to earliest likes
	expect_reply counter notify
	comp es-replay -g counter --to earliest ''
	expect_reply lag-test likes team/orders
	comp es-replay -g counter likes ''
	expect_reply
	comp es-replay --shift ''
	expect_reply
}

@test "es-lag: options, status lists, groups of every topic given, topics" {
	comp es-lag -
	expect_reply -g --group -J --json --prometheus -o --output --stall \
		--watch --warn-lag --crit-lag --warn-age --crit-age --warn-status \
		--crit-status -h --help --version
	comp es-lag --crit-status ''
	expect_reply OK LAGGING STALLED STOPPED AT-RISK LOST
	comp es-lag --warn-status STOPPED,L
	expect_reply STOPPED,LAGGING STOPPED,LOST
	comp es-lag -g ''
	expect_reply billing counter notify
	comp es-lag team/orders -g ''
	expect_reply billing
	comp es-lag likes team/orders --group ''
	expect_reply billing counter notify
	comp es-lag -o no
	expect_reply notes.txt
	comp es-lag likes ''
	expect_reply lag-test likes team/orders
	comp es-lag --watch 2 l
	expect_reply lag-test likes
	comp es-lag --warn-lag ''
	expect_reply
}

@test "es-compact: options, topics" {
	comp es-compact -
	expect_reply -n --dry-run --keep-unconsumed --memory --wait -h --help \
		--version
	comp es-compact ''
	expect_reply lag-test likes team/orders
	comp es-compact -n likes t
	expect_reply team/orders
	comp es-compact --memory ''
	expect_reply
}

@test "topics below ES_DIR, named relative to it; absolute paths; after --" {
	local data=$PWD
	cd "$BATS_TEST_TMPDIR"
	comp es-consume ''
	expect_reply data/lag-test data/likes data/team/orders
	export ES_DIR=$data
	comp es-consume ''
	expect_reply lag-test likes team/orders
	comp es-consume -g ''
	expect_reply billing counter notify
	comp es-lag likes -g ''
	expect_reply counter notify
	ES_DIR=$data/
	comp es-compact t
	expect_reply team/orders
	ES_DIR=$data/team
	comp es-compact ''
	expect_reply orders
	comp_at 2 es-replay -g '' orders
	expect_reply billing
	unset ES_DIR
	comp es-topic describe "$data/"
	expect_reply "$data/lag-test" "$data/likes" "$data/team/orders"
	comp es-topic describe "$data/te"
	expect_reply "$data/team/orders"
	comp es-consume -g "" "$data/likes"
	expect_reply "$data/likes"
	comp_at 2 es-consume -g "" "$data/likes"
	expect_reply counter notify
	cd "$data"
	comp es-topic describe ./l
	expect_reply ./lag-test ./likes
	comp es-compact -- -
	expect_reply
}

@test "--opt=value, split by COMP_WORDBREAKS as bash does" {
	# bash gives --sync=al as the words "--sync" "=" "al", and --sync= as
	# "--sync" "=" with the cursor on "=": readline replaces only what
	# follows the "=".
	comp_raw 'es-produce --sync=' 18 2 es-produce --sync =
	expect_reply always batch none
	comp_raw 'es-produce --sync=al' 20 3 es-produce --sync = al
	expect_reply always
	comp_raw 'es-consume --group=c likes' 20 3 es-consume --group = c likes
	expect_reply counter
	comp_raw 'es-topic create x --cleanup=compact,' 36 5 es-topic create x --cleanup = compact,
	expect_reply compact,delete
	comp_raw 'es-consume --reset=latest ' 26 4 es-consume --reset = latest ''
	expect_reply lag-test likes team/orders
}

@test "the user's glob options change nothing" {
	shopt -s failglob dotglob nullglob
	comp es-consume ''
	expect_reply lag-test likes team/orders
	comp es-topic describe empty/
	expect_reply
	shopt -q failglob && shopt -q dotglob && shopt -q nullglob
	shopt -u failglob dotglob nullglob
}

@test "make install puts binaries, man pages and completion in place" {
	local root=$BATS_TEST_TMPDIR/root c
	run make -s -C "$ES_ROOT" install PREFIX=/usr DESTDIR="$root"
	[ "$status" -eq 0 ] || { echo "$output" >&2; return 1; }
	for c in es-topic es-produce es-consume es-replay es-lag es-compact; do
		[ -x "$root/usr/bin/$c" ]
		[ -f "$root/usr/share/man/man1/$c.1" ]
		# bash-completion looks a completion up by command name.
		[ -f "$root/usr/share/bash-completion/completions/$c" ]
		cmp "$root/usr/share/bash-completion/completions/$c" \
			"$ES_ROOT/completion/es.bash"
	done
	[ -f "$root/usr/share/man/man5/es-format.5" ]
	[ -f "$root/usr/share/man/man7/es.7" ]
	cmp "$root/usr/share/bash-completion/completions/es" "$ES_ROOT/completion/es.bash"
	[ "$(stat -c %a "$root/usr/share/bash-completion/completions/es")" = 644 ]

	# bash-completion's lazy loading finds it by each command's name.
	local bc=/usr/share/bash-completion/bash_completion
	[ -f "$bc" ] || skip "bash-completion is not installed"
	for c in es-topic es-produce es-consume es-replay es-lag es-compact; do
		run env -i HOME="$BATS_TEST_TMPDIR" PATH=/usr/bin:/bin \
			XDG_DATA_DIRS="$root/usr/share" \
			BASH_COMPLETION_USER_DIR=/nonexistent \
			bash --norc --noprofile -c '
				source "$1"
				complete -p "$2" 2>/dev/null && exit 1
				__load_completion "$2" || exit 2
				complete -p "$2"' sh "$bc" "$c"
		[ "$status" -eq 0 ] || { echo "$c: $status $output" >&2; return 1; }
		[ "$output" = "complete -F _es_complete $c" ] ||
			{ echo "$c: $output" >&2; return 1; }
	done
}

# In an interactive bash in tmux: type, press Tab, read the screen.
@test "a real bash completes with it" {
	command -v tmux >/dev/null || skip "tmux is not installed"
	local sock=es-comp-$$ out=$BATS_TEST_TMPDIR/screen
	cat >"$BATS_TEST_TMPDIR/rc" <<-EOF
		PS1='ready> '
		source '$ES_ROOT/completion/es.bash'
		cd '$PWD'
	EOF
	tmux -L "$sock" new-session -d -x 150 -y 20 \
		"env -i HOME=$BATS_TEST_TMPDIR TERM=screen PATH=$PATH bash --rcfile $BATS_TEST_TMPDIR/rc -i" 3>&-
	screen_has() {
		tmux -L "$sock" capture-pane -p >"$out" 2>/dev/null && grep -qF -- "$1" "$out"
	}
	wait_for 10 screen_has 'ready>' || { tmux -L "$sock" kill-server; return 1; }
	tmux -L "$sock" send-keys 'es-consume --reset=la' Tab '-g c' Tab 'tea' Tab
	wait_for 10 screen_has 'ready> es-consume --reset=latest -g counter team/orders' ||
		{ cat "$out" >&2; tmux -L "$sock" kill-server; return 1; }
	tmux -L "$sock" kill-server
}
