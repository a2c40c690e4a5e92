#!/usr/bin/env bats
# recipes.bats - run each recipe of es(7) for real.
#
# The recipes are the ".Bd -literal" blocks of the RECIPES section of
# man/es.7, read from the page itself (so what runs is what the reader
# copies), with its paths moved below a directory of the test ($T):
# /var/lib/ -> $T/var/lib/, /usr/local/bin -> $T/usr/local/bin (where the
# es commands are linked, as `make install` would put them),
# /etc/systemd/ -> $T/etc/systemd/. What cannot run here is replaced by
# the smallest honest stand-in: cron by running the crontab line's command
# with the crontab's environment, systemd by `systemd-analyze verify` and
# running the unit's ExecStart, systemctl by a stub that starts and stops
# that command, and kcat, as no Kafka broker runs here, by a stub that
# records its arguments and its input, which the test checks: the framing,
# and that es put each key where Kafka's partitioner (librdkafka's
# murmur2_random, the Java producer's default) would.

bats_require_minimum_version 1.5.0
load helper

setup() {
	es_setup
	PAGE=$ES_ROOT/man/es.7
	T=$BATS_TEST_TMPDIR/root
	mkdir -p "$T/usr/local/bin" "$T/var/lib/es" "$T/etc/systemd/system" "$T/run"
	ln -s "$ES_ROOT"/bin/es-* "$T/usr/local/bin/"
}

teardown() {
	local pid
	if [ -f "$T/run/likes-counter.pid" ]; then
		pid=$(cat "$T/run/likes-counter.pid")
		kill -KILL "$pid" 2>/dev/null || true
	fi
	es_teardown
}

# recipe TITLE N: the Nth literal block of the subsection TITLE of RECIPES,
# as the reader sees it (roff escapes undone by tools/mdoc.awk; any other
# escape, or a request inside a block, is an error).
recipe() {
	awk -v want="$1" -v nth="$2" -v what="a recipe" \
		-f "$BATS_TEST_DIRNAME/tools/mdoc.awk" -f /dev/stdin "$PAGE" <<'EOF'
	/^\.Sh / { inr = ($0 == ".Sh RECIPES"); next }
	!inr { next }
	/^\.Ss / { ss = substr($0, 5); k = 0; next }
	/^\.Bd -literal/ { k++; inb = (ss == want && k == nth); found += inb; next }
	/^\.Ed/ { inb = 0; next }
	inb {
		if (substr($0, 1, 1) == "." || substr($0, 1, 1) == "\047")
			fail("a request inside a recipe")
		print unescape($0)
	}
	END {
		if (bad) exit 1
		if (found != 1) {
			printf "es.7: no recipe %d in \"%s\"\n", nth, want > "/dev/stderr"
			exit 1
		}
	}
EOF
}

# The recipe's paths, below $T.
rooted() {
	sed -e "s|/var/lib/|$T/var/lib/|g" -e "s|/usr/local/bin|$T/usr/local/bin|g" \
		-e "s|/etc/systemd/|$T/etc/systemd/|g"
}

# parse_crontab FILE: its environment lines in cron_env, the command of its
# one schedule line in cron_cmd.
parse_crontab() {
	local line n=0
	cron_env=()
	cron_cmd=
	while IFS= read -r line; do
		[[ -z $line || $line == '#'* ]] && continue
		if [[ $line =~ ^[A-Za-z_][A-Za-z0-9_]*= ]]; then
			cron_env+=("$line")
		elif [[ $line =~ ^([0-9*/,-]+[[:space:]]+){5}(.+)$ ]]; then
			cron_cmd=${BASH_REMATCH[2]}
			n=$((n + 1))
		else
			echo "parse_crontab: not a crontab line: $line" >&2
			return 1
		fi
	done <"$1"
	[ "$n" -eq 1 ] || { echo "parse_crontab: $n schedule lines" >&2; return 1; }
}

# Run the crontab's command as cron does: /bin/sh -c, a bare environment.
run_cron() {
	env -i HOME="$T" LOGNAME=es SHELL=/bin/sh "${cron_env[@]}" /bin/sh -c "$cron_cmd"
}

# parse_unit FILE: the assignments of its Environment= lines in unit_env, the
# words of its ExecStart= in unit_exec (no quoting, no % specifiers, no
# escapes: what systemd would do with them is not emulated here).
parse_unit() {
	local line
	unit_env=()
	unit_exec=()
	while IFS= read -r line; do
		case $line in
		Environment=*) unit_env+=("${line#Environment=}") ;;
		ExecStart=*)
			line=${line#ExecStart=}
			if [[ $line == *[%\"\'\\]* ]]; then
				echo "parse_unit: ExecStart needs systemd's parsing: $line" >&2
				return 1
			fi
			read -ra unit_exec <<<"$line"
			;;
		esac
	done <"$1"
	((${#unit_exec[@]})) || { echo "parse_unit: no ExecStart" >&2; return 1; }
}

# gen_likes FROM TO: like events FROM to TO-1, the same every run; posts
# p01 to p07, spread over both partitions of a topic of two.
gen_likes() {
	awk -v from="$1" -v to="$2" 'BEGIN {
		for (i = from; i < to; i++) {
			t = (i % 9 == 4) ? "LikeRemoved" : "LikeCreated"
			printf "{\"type\":\"%s\",\"event_id\":\"e%04d\",\"post_id\":\"p%02d\",\"user_id\":\"u%03d\"}\n",
				t, i, 1 + (i * 5 + i % 3) % 7, i % 13
		}
	}'
}

# The likes per post of these events, "POST COUNT" sorted.
count_events() {
	awk -F'"' '{ n[$12] += ($4 == "LikeRemoved") ? -1 : 1 }
		END { for (p in n) print p, n[p] }' "$@" | LC_ALL=C sort
}

# The files of the projection: one per partition, named by its number.
projection_files() {
	local f
	for f in "$T"/var/lib/likes/*; do
		[[ ${f##*/} =~ ^[0-9]+$ ]] && printf '%s\n' "$f"
	done
	return 0
}

# The projection that count-likes keeps, "POST COUNT" sorted.
projection() {
	projection_files | xargs -r cat | grep -v '^@next ' | LC_ALL=C sort
}

# Whether count-likes has counted N records, over all partitions.
counted() {
	local f sum=0 w n
	for f in $(projection_files); do
		while read -r w n; do
			[ "$w" = @next ] && sum=$((sum + n))
		done <"$f"
	done
	[ "$sum" -eq "$1" ]
}

# The recipe's count-likes and unit, in place; unit_env and unit_exec set.
install_follower() {
	recipe "A follower under systemd" 1 | rooted >"$T/usr/local/bin/count-likes"
	chmod +x "$T/usr/local/bin/count-likes"
	recipe "A follower under systemd" 2 | rooted >"$T/etc/systemd/system/likes-counter.service"
	mkdir -p "$T/var/lib/likes"
	parse_unit "$T/etc/systemd/system/likes-counter.service"
	make_topic "$T/var/lib/es/likes" -p 2
}

@test "RECIPES holds these recipes, each one run by a test below" {
	run awk '/^\.Sh / { inr = ($0 == ".Sh RECIPES"); next }
		inr && /^\.Ss / { ss = substr($0, 5) }
		inr && /^\.Bd -literal/ { print ss }' "$PAGE"
	[ "$status" -eq 0 ]
	[ "$output" = "A consumer run from cron
A follower under systemd
A follower under systemd
Rebuilding a projection
Lag for Prometheus
Lag for Prometheus
Mirroring a topic into Kafka" ]
}

@test "recipe: a consumer run from cron, twice, then overlapping" {
	recipe "A consumer run from cron" 1 | rooted >crontab
	parse_crontab crontab
	[[ $cron_cmd == "es-consume -g welcome "* ]]
	# send-welcome records what it sends; while $T/hold exists, it holds
	# its batch (at most 10 s), as a slow run would.
	cat >"$T/usr/local/bin/send-welcome" <<-EOF
		#!/bin/sh
		echo "\$ES_PARTITION \$ES_FIRST_OFFSET" >>'$T/batches'
		if [ -e '$T/hold' ]; then
			: >'$T/held'
			i=0
			while [ -e '$T/hold' ] && [ \$i -lt 200 ]; do sleep 0.05; i=\$((i + 1)); done
		fi
		cat >>'$T/sent'
	EOF
	chmod +x "$T/usr/local/bin/send-welcome"
	local topic=$T/var/lib/es/signups
	make_topic "$topic" -p 2
	for u in ann bob cy dee eve; do echo "$u@example.org:{\"user\":\"$u\"}"; done >signups
	es-produce -K : "$topic" <signups

	run --separate-stderr run_cron
	[ "$status" -eq 0 ] && [ -z "$output" ] && [ -z "$stderr" ]
	[ "$(sort "$T/sent")" = "$(cut -d: -f2- signups | sort)" ]

	for u in fay gus hal; do echo "$u@example.org:{\"user\":\"$u\"}"; done >>signups
	tail -n 3 signups | es-produce -K : "$topic"
	run --separate-stderr run_cron
	[ "$status" -eq 0 ] && [ -z "$stderr" ]
	[ "$(sort "$T/sent")" = "$(cut -d: -f2- signups | sort)" ]
	[ "$(es-lag -J -g welcome "$topic" | jq -c '.topics[0].groups[0] | [.lag, .members]')" = "[0,0]" ]

	# A run that starts while the last one still goes exits 0 at once,
	# handing nothing: the partitions are the other run's.
	for u in ida jo; do echo "$u@example.org:{\"user\":\"$u\"}"; done >>signups
	tail -n 2 signups | es-produce -K : "$topic"
	: >"$T/hold"
	bg_start run_cron >first.out 2>first.err
	local first=$bg_pid
	wait_for 10 test -e "$T/held"
	local batches
	batches=$(wc -l <"$T/batches")
	run --separate-stderr run_cron
	[ "$status" -eq 0 ] && [ -z "$stderr" ]
	[ "$(wc -l <"$T/batches")" -eq "$batches" ]
	rm "$T/hold"
	wait_for 10 stopped "$first"
	wait "$first"
	[ "$(sort "$T/sent")" = "$(cut -d: -f2- signups | sort)" ]
	[ "$(wc -l <"$T/sent")" -eq 10 ]
}

@test "recipe: a follower under systemd: the unit verifies, its ExecStart follows" {
	install_follower
	local unit=$T/etc/systemd/system/likes-counter.service
	if command -v systemd-analyze >/dev/null && systemd-analyze --version >/dev/null 2>&1; then
		run systemd-analyze verify "$unit"
		[ "$status" -eq 0 ] || { echo "$output" >&2; return 1; }
		[ -z "$output" ] || { echo "$output" >&2; return 1; }
		# It does check: a unit with a command that cannot run fails.
		sed 's|^ExecStart=[^ ]*|ExecStart=/nonexistent/es-consume|' "$unit" >"$BATS_TEST_TMPDIR/bad.service"
		run systemd-analyze verify "$BATS_TEST_TMPDIR/bad.service"
		[ "$status" -ne 0 ]
	else
		echo "# systemd-analyze cannot run here: the unit is only parsed" >&3
	fi
	grep -qx 'KillMode=mixed' "$unit"
	grep -qx 'Type=exec' "$unit"

	bg_start env -i PATH=/usr/bin:/bin "${unit_env[@]}" "${unit_exec[@]}" >follower.out 2>follower.err
	local follower=$bg_pid
	gen_likes 0 200 >likes1
	gen_likes 200 300 >likes2
	es-produce --key-field post_id "$T/var/lib/es/likes" <likes1
	wait_for 20 counted 200
	es-produce --key-field post_id "$T/var/lib/es/likes" <likes2
	wait_for 20 counted 300
	[ "$(projection)" = "$(count_events likes1 likes2)" ]
	# Both partitions took part.
	[ -f "$T/var/lib/likes/0" ] && [ -f "$T/var/lib/likes/1" ]

	# systemctl stop: SIGTERM; the follower commits and dies by it, which
	# systemd takes as a clean stop.
	bg_stop "$follower" TERM
	[ "$bg_status" -eq 143 ]
	[ ! -s follower.out ] && [ ! -s follower.err ]
	[ "$(es-lag -J -g counter "$T/var/lib/es/likes" | jq -c '.topics[0].groups[0] | [.lag, .members]')" = "[0,0]" ]
}

@test "recipe: count-likes counts a batch handed again once" {
	recipe "A follower under systemd" 1 | rooted >count-likes
	mkdir -p "$T/var/lib/likes"
	gen_likes 0 10 >b1
	gen_likes 5 15 >b2
	handle() { ES_PARTITION=0 ES_FIRST_OFFSET=$1 sh count-likes <"$2"; }
	handle 0 b1
	local once
	once=$(cat "$T/var/lib/likes/0")
	handle 0 b1
	[ "$(cat "$T/var/lib/likes/0")" = "$once" ]
	# A batch that overlaps what was counted, as after a crash before the
	# commit, when more records had come.
	handle 5 b2
	gen_likes 0 15 >all
	[ "$(projection)" = "$(count_events all)" ]
	grep -qx '@next 15' "$T/var/lib/likes/0"
	handle 0 b1
	grep -qx '@next 15' "$T/var/lib/likes/0"
	[ "$(projection)" = "$(count_events all)" ]
}

@test "recipe: rebuilding a projection with es-replay" {
	install_follower
	# systemctl, for likes-counter alone: start runs the unit's ExecStart
	# in the background; stop sends SIGTERM and waits (10 s at most).
	cat >"$T/usr/local/bin/systemctl" <<-EOF
		#!/bin/bash
		pidf='$T/run/likes-counter.pid'
		running() {
			local s=
			[[ -r /proc/\$1/stat ]] && read -r _ _ s _ </proc/\$1/stat
			[[ -n \$s && \$s != Z ]]
		}
		case "\$*" in
		"start likes-counter")
			env -i PATH=/usr/bin:/bin $(printf '%q ' "${unit_env[@]}" "${unit_exec[@]}") \
				</dev/null >>'$T/run/out' 2>>'$T/run/err' 3>&- &
			echo \$! >"\$pidf"
			;;
		"stop likes-counter")
			pid=\$(cat "\$pidf")
			kill -TERM "\$pid"
			for ((i = 0; i < 200; i++)); do
				running "\$pid" || exit 0
				sleep 0.05
			done
			echo "systemctl: likes-counter did not stop" >&2
			exit 1
			;;
		*) echo "systemctl: not for this test: \$*" >&2; exit 1 ;;
		esac
	EOF
	chmod +x "$T/usr/local/bin/systemctl"
	export PATH="$T/usr/local/bin:$PATH"

	systemctl start likes-counter
	gen_likes 0 300 >likes
	es-produce --key-field post_id "$T/var/lib/es/likes" <likes
	wait_for 20 counted 300
	[ "$(projection)" = "$(count_events likes)" ]
	# A bug zeroes the counts: only a rebuild brings them back.
	projection_files | xargs sed -i 's/^\(p[0-9]*\) .*/\1 0/'
	[ "$(projection)" != "$(count_events likes)" ]

	recipe "Rebuilding a projection" 1 | rooted >rebuild.sh
	run --separate-stderr sh -e rebuild.sh
	[ "$status" -eq 0 ] || { echo "$output $stderr" >&2; return 1; }
	[ -z "$stderr" ]
	# Two plans: the first only shown, the second applied.
	[ "$(grep -c '^PARTITION  *COMMITTED-NOW' <<<"$output")" -eq 2 ]
	grep -q '(plan only: add --execute to apply)$' <<<"$output"
	wait_for 20 counted 300
	[ "$(projection)" = "$(count_events likes)" ]
	systemctl stop likes-counter
	[ ! -s "$T/run/err" ]
}

@test "recipe: lag for Prometheus, from cron; the alerting rules" {
	recipe "Lag for Prometheus" 1 | rooted >crontab
	parse_crontab crontab
	local dir=$T/var/lib/prometheus/node-exporter file
	mkdir -p "$dir" "$T/var/lib/es/team"
	file=$dir/es.prom
	make_topic "$T/var/lib/es/likes" -p 2
	make_topic "$T/var/lib/es/team/orders"
	printf 'a:1\nb:2\nd:3\na:4\nd:5\nb:6\n' | es-produce -K : "$T/var/lib/es/likes"
	es-consume -g counter -n 4 "$T/var/lib/es/likes" >/dev/null
	es-consume -g notify "$T/var/lib/es/likes" >/dev/null
	echo x | es-produce "$T/var/lib/es/team/orders"
	es-consume -g billing "$T/var/lib/es/team/orders" >/dev/null

	run --separate-stderr run_cron
	[ "$status" -eq 0 ] && [ -z "$output" ] && [ -z "$stderr" ]
	[ "$(ls -A "$dir")" = es.prom ]

	# The text exposition format, strictly: HELP, TYPE, then samples of
	# that metric.
	local name='[a-zA-Z_:][a-zA-Z0-9_:]*' label='[a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*"'
	local num='-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?'
	local line typed= n=0
	while IFS= read -r line; do
		n=$((n + 1))
		if [[ $line =~ ^#\ HELP\ ($name)\ .+$ ]]; then
			continue
		elif [[ $line =~ ^#\ TYPE\ ($name)\ (gauge|counter)$ ]]; then
			typed=${BASH_REMATCH[1]}
		elif [[ $line =~ ^($name)(\{$label(,$label)*\})?\ $num$ ]]; then
			[ "${BASH_REMATCH[1]}" = "$typed" ] ||
				{ echo "es.prom:$n: $line: not after its TYPE" >&2; return 1; }
		else
			echo "es.prom:$n: not the exposition format: $line" >&2
			return 1
		fi
	done <"$file"
	[ "$n" -gt 20 ]
	if command -v promtool >/dev/null; then
		run promtool check metrics <"$file"
		[ "$status" -eq 0 ] || { echo "$output" >&2; return 1; }
	fi
	grep -qx 'es_consumer_lag_records{topic="likes",group="counter",partition="[01]"} [12]' "$file"
	[ "$(grep '^es_consumer_lag_records{topic="likes"' "$file" | awk '{ s += $2 } END { print s }')" -eq 2 ]
	grep -qx 'es_consumer_lag_records{topic="team/orders",group="billing",partition="0"} 0' "$file"

	# The rules: valid, and about metrics and statuses that es-lag writes.
	recipe "Lag for Prometheus" 2 >rules.yml
	if command -v promtool >/dev/null; then
		run promtool check rules rules.yml
		[ "$status" -eq 0 ] || { echo "$output" >&2; return 1; }
		grep -q 'SUCCESS: 4 rules found' <<<"$output"
	fi
	local m
	for m in $(grep -o 'es_[a-z_]*' rules.yml | sort -u); do
		grep -q "^$m{" "$file" || { echo "no metric $m in es.prom" >&2; return 1; }
	done
	for m in $(grep -o 'status="[A-Z-]*"' rules.yml | sort -u); do
		grep -q "^es_consumer_status{.*$m} [01]$" "$file" ||
			{ echo "no $m in es.prom" >&2; return 1; }
	done
}

@test "recipe: mirroring a topic into Kafka with kcat keeps the placement" {
	recipe "Mirroring a topic into Kafka" 1 | rooted >mirror.sh
	[ "$(wc -l <mirror.sh)" -eq 1 ]
	# kcat, without a broker: record the arguments of each run and the
	# lines it reads, after the partition of the batch.
	mkdir "$T/kcat"
	cat >"$T/usr/local/bin/kcat" <<-EOF
		#!/bin/sh
		printf '%s\n' "\$@" >'$T/kcat/args.'"\$ES_PARTITION.\$ES_FIRST_OFFSET"
		awk -v p="\$ES_PARTITION" '{ print p "\t" \$0 }' >>'$T/kcat/in'
	EOF
	chmod +x "$T/usr/local/bin/kcat"
	local topic=$T/var/lib/es/likes i
	make_topic "$topic" -p 4
	for ((i = 0; i < 40; i++)); do
		echo "user-$((i % 17)):{\"n\":$i,\"text\":\"like number $i\"}"
	done >records
	echo 'user-3:' >>records # a tombstone, with -Z
	es-produce -K : -Z "$topic" <records

	bg_start env -i PATH="$T/usr/local/bin:/usr/bin:/bin" sh -c "$(cat mirror.sh)" >mirror.out 2>mirror.err
	local mirror=$bg_pid
	wait_for 20 lines_at_least 41 "$T/kcat/in"
	for ((i = 40; i < 45; i++)); do echo "user-$i:{\"n\":$i}"; done | es-produce -K : "$topic"
	wait_for 20 lines_at_least 46 "$T/kcat/in"
	bg_stop "$mirror" TERM
	[ "$bg_status" -eq 143 ]
	[ ! -s mirror.out ] && [ ! -s mirror.err ]

	# Every run of kcat had these arguments: produce, to that broker and
	# topic, key and value split at a tab (kcat reads '\t' as one), empty
	# as null, and the Java producer's partitioner.
	local want f
	want=$(printf '%s\n' -P -b kafka1:9092 -t likes -K '\t' -Z -X partitioner=murmur2_random)
	for f in "$T"/kcat/args.*; do
		[ "$(cat "$f")" = "$want" ] || { echo "$f:"; cat "$f"; return 1; } >&2
	done
	# Each line: key, tab, value; each key in the partition Kafka gives it.
	[ "$(wc -l <"$T/kcat/in")" -eq 46 ]
	local p key value
	while IFS=$'\t' read -r p key value; do
		[[ $key == user-* ]] || { echo "bad line: $p $key $value" >&2; return 1; }
		[ "$p" -eq "$(kafka_partition "$key" 4)" ] ||
			{ echo "$key: es partition $p, Kafka's $(kafka_partition "$key" 4)" >&2; return 1; }
	done <"$T/kcat/in"
	grep -qxP '\d\tuser-3\t' "$T/kcat/in"
	# Nothing lost, nothing twice, in order within each partition.
	for p in 0 1 2 3; do
		[ "$(awk -F'\t' -v p="$p" '$1 == p' "$T/kcat/in" | cut -f2-)" = \
			"$(es-consume -p "$p" -F '%k\t%s\n' "$topic")" ]
	done
}
