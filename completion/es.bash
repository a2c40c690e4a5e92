# es.bash - bash completion for the es commands: es-topic, es-produce,
# es-consume, es-replay, es-lag and es-compact.
#
# It completes every option of each command (as its --help lists them),
# the subcommands of es-topic, the values of enumerated options (--sync,
# --cleanup, --compression, --reset, es-consume -o, es-replay --to,
# es-lag --warn-status/--crit-status), topics, group names for -g/--group,
# files and directories where a command takes them.
#
#   topics   directories holding topic.yaml, found below $ES_DIR when it is
#            set, else below the current directory, as `es-topic list`
#            finds them (not inside a topic, not in hidden directories),
#            named as TOPIC arguments take them: relative to that
#            directory. A word that starts with / completes absolute paths.
#   groups   the directories below TOPIC/groups/ of the topics given on
#            the command line (of every topic found, when none is given).
#
# It needs bash alone, not the bash-completion package. `make install`
# puts it in bash-completion's directory as `es`, with a link per command
# name, as bash-completion's lazy loading looks a completion up by the
# name of the command being completed; it may also be sourced from
# ~/.bashrc.

# The options of each command, in the order of its usage text; and those of
# them that take a value.
_es_opts_es_produce='-0 -K -Z -k --key-field -J -H -p --sync --ack --reject --create -h --help --version'
_es_args_es_produce='-K -k --key-field -H -p --sync --reject'
_es_opts_es_consume='-o --since --until -p -n -f --follow --idle-timeout --timeout -0 -K -F -J --skip-corrupt -g --group --reset --exec --batch --retries --backoff --dead-letter -j --jobs -h --help --version'
_es_args_es_consume='-o --since --until -p -n --idle-timeout --timeout -K -F -g --group --reset --exec --batch --retries --backoff --dead-letter -j --jobs'
_es_opts_es_replay='-g --group --to --to-time --shift -p --execute --wait --timeout -J -h --help --version'
_es_args_es_replay='-g --group --to --to-time --shift -p --timeout'
_es_opts_es_lag='-g --group -J --json --prometheus -o --output --stall --watch --warn-lag --crit-lag --warn-age --crit-age --warn-status --crit-status -h --help --version'
_es_args_es_lag='-g --group -o --output --stall --warn-lag --crit-lag --warn-age --crit-age --warn-status --crit-status'
_es_opts_es_compact='-n --dry-run --keep-unconsumed --memory --wait -h --help --version'
_es_args_es_compact='--memory'
_es_topic_keys='-p --partitions --segment-bytes --segment-age --retention --retention-bytes --cleanup --delete-retention --compression --max-record-bytes --sync'
_es_topic_subcommands='create list describe check alter'

# Print the options of command $1 (for es-topic, of subcommand $2).
_es_opts() {
	case $1 in
	es-topic)
		case $2 in
		create) echo "$_es_topic_keys --if-missing -h --help --version" ;;
		alter) echo "$_es_topic_keys -h --help --version" ;;
		describe) echo "--json -h --help --version" ;;
		check) echo "--repair -h --help --version" ;;
		*) echo "-h --help --version" ;;
		esac
		;;
	*)
		local v=_es_opts_${1//-/_}
		echo "${!v}"
		;;
	esac
}

# Whether option $2 of command $1 takes a value.
_es_takes_arg() {
	local list
	if [[ $1 == es-topic ]]; then
		list=$_es_topic_keys
	else
		list=_es_args_${1//-/_}
		list=${!list}
	fi
	[[ " $list " == *" $2 "* ]]
}

# Print the topics below directory $1 (ending in /), each as $2 followed by
# its path below $1, looking $3 levels of directories deep, in the
# directories of $1 whose names start with $4 only.
_es_walk() {
	local d n
	for d in "$1"*/; do
		d=${d%/}
		n=${d##*/}
		[[ -d $d && $n != .* && $n == "$4"* ]] || continue
		if [[ -f $d/topic.yaml ]]; then
			printf '%s\n' "$2$n"
		elif (($3 > 0)) && [[ ! -L $d ]]; then
			_es_walk "$d/" "$2$n/" $(($3 - 1))
		fi
	done
}

# Print the topics whose names start with $1, sorted.
_es_topics() {
	local cur=$1 base=${ES_DIR:-.} root dir=
	[[ $cur == */* ]] && dir=${cur%/*}/
	if [[ $cur == /* ]]; then
		_es_walk "$dir" "$dir" 2 "${cur##*/}"
	else
		_es_walk "${base%/}/$dir" "$dir" 4 "${cur##*/}"
	fi | while IFS= read -r root; do
		if [[ $root == "$cur"* ]]; then printf '%s\n' "$root"; fi
	done | LC_ALL=C sort -u
}

# Print the names of the groups of the topics given as arguments (of every
# topic below $ES_DIR or . when there are none), sorted, without duplicates.
_es_groups() {
	local t path g
	local -a topics=("$@")
	((${#topics[@]})) || mapfile -t topics < <(_es_topics '')
	for t in "${topics[@]}"; do
		[[ $t == /* ]] && path=$t || path=${ES_DIR:-.}/$t
		for g in "$path"/groups/*/; do
			g=${g%/}
			g=${g##*/}
			if [[ -d $path/groups/$g && $g != .* ]]; then printf '%s\n' "$g"; fi
		done
	done | LC_ALL=C sort -u
}

# Set COMPREPLY to the words of $1 (a list) that start with $2.
_es_words_matching() {
	local w
	for w in $1; do
		if [[ $w == "$2"* ]]; then COMPREPLY+=("$w"); fi
	done
}

# Add to COMPREPLY the lines of standard input that start with $1, quoted
# for the shell.
_es_lines() {
	local l
	while IFS= read -r l; do
		[[ $l == "$1"* ]] || continue
		printf -v l '%q' "$l"
		COMPREPLY+=("$l")
	done
}

# Set COMPREPLY to the files (-f) or directories (-d), as $1 says, whose
# names start with $2, sorted, hidden ones only when $2 names them so.
_es_files() {
	local f hidden=0
	[[ ${2##*/} == .* ]] && hidden=1
	compopt -o filenames 2>/dev/null || :
	mapfile -t COMPREPLY < <(compgen "$1" -- "$2" | while IFS= read -r f; do
		if ((hidden)) || [[ ${f##*/} != .* ]]; then printf '%s\n' "$f"; fi
	done | LC_ALL=C sort)
}

# Complete the value $3 of option $2 of command $1; the topics named on the
# line are in the array _es_pos.
_es_value() {
	local cmd=$1 opt=$2 cur=$3 done_part
	case $cmd:$opt in
	*:--sync) _es_words_matching 'always batch none' "$cur" ;;
	es-topic:--cleanup) _es_words_matching 'delete compact compact,delete' "$cur" ;;
	es-topic:--compression) _es_words_matching 'none zlib' "$cur" ;;
	es-consume:--reset | es-consume:-o | es-replay:--to)
		_es_words_matching 'earliest latest' "$cur"
		;;
	es-lag:--warn-status | es-lag:--crit-status)
		# A comma-separated list: complete its last element.
		done_part=
		[[ $cur == *,* ]] && done_part=${cur%,*},
		local s
		for s in OK LAGGING STALLED STOPPED AT-RISK LOST; do
			if [[ $done_part$s == "$cur"* ]]; then COMPREPLY+=("$done_part$s"); fi
		done
		;;
	*:-g | *:--group)
		if [[ $cmd == es-lag ]]; then
			_es_lines "$cur" < <(_es_groups "${_es_pos[@]}")
		else
			_es_lines "$cur" < <(_es_groups "${_es_pos[@]:0:1}")
		fi
		;;
	es-consume:--dead-letter) _es_lines "$cur" < <(_es_topics "$cur") ;;
	es-consume:--exec) mapfile -t COMPREPLY < <(compgen -c -- "$cur" | LC_ALL=C sort -u) ;;
	es-produce:--reject | es-lag:-o | es-lag:--output)
		_es_files -f "$cur"
		;;
	esac
	# Anything else (sizes, durations, counts, formats) has no list.
	return 0
}

# The completion function of all six commands.
_es_complete() {
	local cmd=${COMP_WORDS[0]##*/}
	local -a words=()
	local cword=0 i w glued line=$COMP_LINE trimmed

	# Join again the words that COMP_WORDBREAKS split (--sync=al comes as
	# "--sync" "=" "al"): a word not preceded by blanks on the line goes
	# with the one before it.
	for ((i = 0; i < ${#COMP_WORDS[@]}; i++)); do
		w=${COMP_WORDS[i]}
		trimmed=${line#"${line%%[![:blank:]]*}"}
		glued=0
		# (An empty word is the cursor's, between blanks: it glues to
		# nothing.)
		[[ $i -gt 0 && -n $w && -n ${COMP_WORDS[i - 1]} && ${#trimmed} -eq ${#line} ]] && glued=1
		line=${trimmed#"$w"}
		if ((glued)); then
			words[${#words[@]} - 1]+=$w
		else
			words+=("$w")
		fi
		((i == COMP_CWORD)) && cword=$((${#words[@]} - 1))
	done
	local cur=${words[cword]}
	# Globs below must neither fail nor match hidden names.
	local restore=
	if shopt -q failglob; then restore+='shopt -s failglob;'; shopt -u failglob; fi
	if shopt -q dotglob; then restore+='shopt -s dotglob;'; shopt -u dotglob; fi
	# What readline replaces is the part of cur after the last break.
	local rlword=${COMP_WORDS[COMP_CWORD]}
	[[ $rlword == [=:] ]] && rlword=
	local strip=${cur%"$rlword"}
	COMPREPLY=()

	# The other words: positional arguments (topics, for group names, may
	# come after the cursor), and the option whose value cur is, if any.
	local -a _es_pos=()
	local sub= opt= ddash=0 ddash_cur=0 npos=0 j c first=1
	[[ $cmd == es-topic ]] && first=2 && sub=${words[1]}
	for ((i = first; i < ${#words[@]}; i++)); do
		w=${words[i]}
		if ((i == cword)); then
			ddash_cur=$ddash
			npos=${#_es_pos[@]}
		elif ((ddash)) || [[ $w != -?* ]]; then
			_es_pos+=("$w")
		elif [[ $w == -- ]]; then
			ddash=1
		elif [[ $w == --*=* ]]; then
			:
		elif [[ $w == --* ]]; then
			if _es_takes_arg "$cmd" "$w"; then
				((i + 1 == cword)) && opt=$w
				i=$((i + 1))
			elif [[ $cmd == es-lag && $w == --watch && ${words[i + 1]} == [0-9]* ]]; then
				((i + 1 == cword)) || i=$((i + 1))
			fi
		else
			# A cluster of short options: the first that takes a value
			# takes the rest of the word, or the next word.
			for ((j = 1; j < ${#w}; j++)); do
				c=-${w:j:1}
				if _es_takes_arg "$cmd" "$c"; then
					if ((j == ${#w} - 1)); then
						((i + 1 == cword)) && opt=$c
						i=$((i + 1))
					fi
					break
				fi
			done
		fi
	done
	ddash=$ddash_cur

	# Complete, in COMPREPLY, the whole of cur; strip below.
	if [[ -n $opt ]]; then
		_es_value "$cmd" "$opt" "$cur"
	elif ((!ddash)) && [[ $cur == --?*=* ]]; then
		local -a vals=()
		COMPREPLY=()
		_es_value "$cmd" "${cur%%=*}" "${cur#*=}"
		for w in "${COMPREPLY[@]}"; do
			vals+=("${cur%%=*}=$w")
		done
		COMPREPLY=("${vals[@]}")
	elif ((!ddash)) && [[ $cur == -* ]]; then
		if [[ $cmd == es-topic && $cword -ge 2 && " $_es_topic_subcommands " != *" $sub "* ]]; then
			:
		else
			_es_words_matching "$(_es_opts "$cmd" "$sub")" "$cur"
		fi
	else
		case $cmd in
		es-topic)
			if ((cword == 1)); then
				_es_words_matching "$_es_topic_subcommands" "$cur"
			elif ((npos == 0)); then
				case $sub in
				describe | check | alter) _es_lines "$cur" < <(_es_topics "$cur") ;;
				list)
					_es_files -d "$cur"
					;;
				esac
			fi
			;;
		es-produce)
			if ((npos == 0)); then
				_es_lines "$cur" < <(_es_topics "$cur")
			else
				_es_files -f "$cur"
			fi
			;;
		es-consume | es-replay)
			((npos)) || _es_lines "$cur" < <(_es_topics "$cur")
			;;
		es-lag | es-compact)
			_es_lines "$cur" < <(_es_topics "$cur")
			;;
		esac
	fi

	# Make each candidate replace only what readline replaces.
	if [[ -n $strip ]]; then
		for i in "${!COMPREPLY[@]}"; do
			COMPREPLY[i]=${COMPREPLY[i]#"$strip"}
		done
	fi
	eval "$restore"
	return 0
}

complete -F _es_complete es-topic es-produce es-consume es-replay es-lag es-compact
