#!/bin/sh
# Run every test suite, show its TAP, and end with "N passed, N failed".
# A suite that dies without reporting a failure counts as one failed test.
passed=0 failed=0
log=build/check.log
: > "$log"

run() { # name, command...
	name=$1; shift
	out=build/check-$name.tap
	"$@" > "$out" 2>&1
	rc=$?
	cat "$out"
	p=$(grep -c '^ok ' "$out")
	f=$(grep -c '^not ok ' "$out")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "not ok - $name exited with status $rc"
		f=1
	fi
	passed=$((passed + p)); failed=$((failed + f))
	echo "# $name: $p passed, $f failed" | tee -a "$log"
}

for u in $UNITS; do
	run "$u" "build/unit/$u"
	run "$u-asan-ubsan" "build/unit-san/$u"
done
for f in $FUZZERS; do
	run "$f-corpus" "build/fuzz-replay/$f" "tests/fuzz/corpus/$f"
done
run man-lint sh tests/man-lint.sh $MANS
run bats bats --tap tests/
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
