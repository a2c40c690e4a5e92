#!/usr/bin/env bats
# demo.bats - `make demo`'s story, tests/demo.sh, runs to its end (within
# 120 s) and says what the story says: the notifier's deliveries and dead
# letters add up, the analytics counts are the log's, the rebuilt counter
# matches the log, es-compact compacts and compresses, es-topic check finds
# the compacted topic clean, and nothing is left behind.
#
# The expected numbers come from the demo's own data: its generator (the
# awk program that writes likes.jsonl) is taken from demo.sh and run here,
# so they hold for any awk (mawk and gawk draw different random numbers).

bats_require_minimum_version 1.5.0
load helper

@test "make demo: the likes story runs to its end and its numbers add up" {
	local demo=$ES_ROOT/tests/demo.sh
	sed -n "/^awk 'BEGIN {\$/,/^}' > likes.jsonl\$/p" "$demo" >gen.sh
	sh gen.sh
	[ "$(wc -l <likes.jsonl)" -eq 3000 ]
	# The notifier fails for good on the likes of user u013 among the first
	# 2000, which become dead letters; it notifies all the others, once.
	local dead posts created removed
	dead=$(head -n 2000 likes.jsonl | grep -c '"user_id":"u013"')
	posts=$(awk -F'"' '{ print $12 }' likes.jsonl | sort -u | wc -l)
	created=$(grep -c '"type":"LikeCreated"' likes.jsonl)
	removed=$(grep -c '"type":"LikeRemoved"' likes.jsonl)

	mkdir tmp
	TMPDIR=$PWD/tmp run --separate-stderr timeout 120 sh "$demo"
	if [ "$status" -ne 0 ]; then
		printf 'demo: exit status %s\n%s\n-- stderr:\n%s\n' "$status" "$output" "$stderr" >&2
		return 1
	fi
	[ -z "$stderr" ] || { echo "demo stderr: $stderr" >&2; return 1; }
	has() { grep -qxE -- "$1" <<<"$output" || { echo "demo: no line /$1/" >&2; return 1; }; }

	has "notified: $((2000 - dead)) likes; dead letters: $dead"
	[ "$dead" -gt 0 ]
	has " *$created \"type\":\"LikeCreated\""
	has " *$removed \"type\":\"LikeRemoved\""
	# The bug shows before the rebuild ...
	has 'p00 has [0-9]+ likes per the counter; the log says [0-9]+'
	local before
	before=$(grep -E '^p00 has ' <<<"$output")
	[[ $before =~ ^p00\ has\ ([0-9]+)\ .*says\ ([0-9]+)$ ]]
	[ "${BASH_REMATCH[1]}" -ne "${BASH_REMATCH[2]}" ]
	# ... and the rebuild fixes it.
	has "rebuilt: the counts now match the log for all $posts posts"
	has 'like-counts/0: segments [0-9]+ -> [0-9]+, records [0-9]+ -> [0-9]+, bytes [0-9.]+[KMG]?i?B -> [0-9.]+[KMG]?i?B; 0 segments deleted, [1-9][0-9]* records compacted, [1-9][0-9]* segments compressed'
	# The newest count per post survives compaction: round 3's.
	[ "$(grep -cE $'^p[0-9]{2} -?[0-9]+\tround3$' <<<"$output")" -eq 3 ]
	has 'like-counts: 1 partitions checked: 0 corrupt, 0 torn tail, 0 index'
	# It removes what it made.
	[ -z "$(ls -A tmp)" ]
}
