#!/bin/sh
# demo.sh - the likes stream, end to end, on a data set made here:
# a Like API publishes LikeCreated/LikeRemoved events keyed by post_id; a
# counter and a (flaky) notifier consume them as groups; an analytics
# consumer comes later and reads history; es-lag watches; a wrong
# projection is rebuilt with es-replay; es-compact keeps the newest count
# per post. Run by `make demo`; tests/demo.bats runs it too.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
PATH="$top/bin:$PATH"
export PATH
work=$(mktemp -d "${TMPDIR:-/tmp}/es-demo.XXXXXX")
follower=
trap '[ -z "$follower" ] || kill "$follower" 2>/dev/null || true; rm -rf "$work"' EXIT INT TERM
cd "$work"
export ES_DIR="$work/topics"
mkdir -p "$ES_DIR" state

step() { printf '\n== %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; sh -c "$*"; }

# A day of likes: 3000 events over 40 posts (a few hot ones), one in ten a
# LikeRemoved of an earlier like. Deterministic: the same every run.
awk 'BEGIN {
	srand(42);
	for (i = 1; i <= 3000; i++) {
		p = int(40 * rand() ^ 3);          # skewed: low post ids are hot
		u = int(500 * rand());
		t = (rand() < 0.1) ? "LikeRemoved" : "LikeCreated";
		printf "{\"type\":\"%s\",\"event_id\":\"e%05d\",\"post_id\":\"p%02d\",\"user_id\":\"u%03d\"}\n", t, i, p, u;
	}
}' > likes.jsonl

# The counter projection: likes per post in state/counts, rewritten per
# batch. BUG: it counts LikeRemoved as a like too (fixed below).
cat > counter-buggy.sh <<'EOF'
#!/bin/sh
touch state/counts
awk -F'"' 'FILENAME == "state/counts" { c[$1] = $2; next } { c[$12]++ }
	END { for (p in c) print p "\t" c[p] }' FS='\t' state/counts FS='"' - |
	sort > state/counts.new && mv state/counts.new state/counts
EOF
cat > counter.sh <<'EOF'
#!/bin/sh
touch state/counts
awk 'FILENAME == "state/counts" { split($0, f, "\t"); c[f[1]] = f[2]; next }
	{ split($0, f, "\""); c[f[12]] += (f[4] == "LikeRemoved") ? -1 : 1 }
	END { for (p in c) print p "\t" c[p] }' state/counts - |
	sort > state/counts.new && mv state/counts.new state/counts
EOF
# The notifier: a flaky mail gateway (the first attempt of every fourth
# batch fails, a retry succeeds) and one user whose address bounces for good.
cat > notify.sh <<'EOF'
#!/bin/sh
if [ "$ES_ATTEMPT" = 1 ] && [ $((ES_FIRST_OFFSET / 50 % 4)) = 3 ]; then
	exit 1
fi
if grep -q '"user_id":"u013"'; then
	exit 2
fi
echo "$ES_COUNT" >> state/notified
EOF
chmod +x counter-buggy.sh counter.sh notify.sh

step "1. A topic of likes, 4 partitions, keyed by post_id"
run "es-topic create likes -p 4 --segment-bytes 64KiB"
run "head -2000 likes.jsonl | es-produce --key-field post_id likes"
run "es-topic describe likes | tail -5"

step "2. Two consumer groups process it at their own pace"
run "es-consume -g counter --exec ./counter-buggy.sh --batch 200 likes"
run "es-consume -g notify --exec ./notify.sh --batch 50 --retries 2 --backoff 10ms --dead-letter likes-dlq likes 2>&1 | head -3"
run "es-consume -F '%k %s\n' likes-dlq | head -2"
echo "notified: $(awk '{n += $1} END {print n}' state/notified) likes; dead letters: $(es-consume likes-dlq | wc -l)"

step "3. More likes arrive; the counter follows live, es-lag watches"
es-consume -g counter -f --exec ./counter-buggy.sh --batch 100 likes &
follower=$!
run "tail -n +2001 likes.jsonl | es-produce --key-field post_id likes"
run "es-lag likes"
# wait (bounded) for the live counter to catch up
i=0
while [ "$(es-lag likes | awk -F'\t' '$1 == "counter" && $6 != 0' | wc -l)" != 0 ] &&
	[ $i -lt 400 ]; do
	sleep 0.05; i=$((i + 1))
done
kill "$follower" 2>/dev/null; wait "$follower" 2>/dev/null || true; follower=
run "es-lag likes"

step "4. An analytics consumer comes later and reads the whole history"
run "es-consume -g analytics likes | grep -o '\"type\":\"[A-Za-z]*\"' | sort | uniq -c"

step "5. The counter was wrong (it counted removals as likes): rebuild it"
expected=$(awk -F'"' '{ c[$12] += ($4 == "LikeRemoved") ? -1 : 1 } END { for (p in c) print p "\t" c[p] }' likes.jsonl | sort)
echo "p00 has $(grep -P '^p00\t' state/counts | cut -f2) likes per the counter; the log says $(echo "$expected" | grep -P '^p00\t' | cut -f2)"
run "es-replay -g counter --to earliest likes"
run "rm state/counts && es-replay -g counter --to earliest --execute likes > /dev/null"
run "es-consume -g counter --exec ./counter.sh --batch 500 likes"
if [ "$(cat state/counts)" = "$expected" ]; then
	echo "rebuilt: the counts now match the log for all $(wc -l < state/counts) posts"
else
	echo "demo: the rebuilt counts do not match" >&2
	exit 1
fi

step "6. Publish the counts to a compacted topic; es-compact keeps the newest per post"
run "es-topic create like-counts --cleanup compact --compression zlib --segment-bytes 1KiB"
for round in 1 2 3; do
	sed "s/\$/	round$round/" state/counts | es-produce -K '	' like-counts
done
run "es-compact like-counts"
run "es-consume -K ' ' like-counts | head -3"
run "es-topic check like-counts"
printf '\nThe demo ran in %s; everything it made is removed on exit.\n' "$work"
