#!/bin/sh
# One TAP test per man page: mandoc -T lint must say nothing.
n=0
for m in "$@"; do
	n=$((n + 1))
	if [ ! -f "$m" ]; then echo "not ok $n - $m missing"; continue; fi
	out=$(mandoc -T lint -W warning "$m" 2>&1)
	if [ -z "$out" ]; then echo "ok $n - mandoc lint $m"
	else echo "not ok $n - mandoc lint $m"; echo "$out" | sed 's/^/# /'; fi
done
echo "1..$n"
