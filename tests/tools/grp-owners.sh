#!/bin/sh
# grp-owners.sh - who owns each partition of a consumer group, from outside.
# Usage: grp-owners.sh TOPIC GROUP
# Prints one line per partition, "P PID", PID being the process that holds
# TOPIC/groups/GROUP/P.lock (flock, LOCK_EX), or "-" when nobody does.
# It reads /proc/locks and never takes a lock itself, so it cannot disturb
# the members it watches. The pid is checked against the one the owner
# writes into the lock file; a mismatch (the owner has the lock but has not
# written its pid yet) prints the pid from /proc/locks.
set -eu
topic=$1 group=$2
dir=$topic/groups/$group
n=$(sed -n 's/^partitions: *\([0-9]*\).*/\1/p' "$topic/topic.yaml")
locks=$(cat /proc/locks)
p=0
while [ "$p" -lt "$n" ]; do
	f=$dir/$p.lock
	owner=-
	if [ -e "$f" ]; then
		id=$(stat -c '%D %i' "$f")
		set -- $id
		dev=$((0x$1))
		key=$(printf '%02x:%02x:%s' $(((dev >> 8) & 0xfff)) \
			$(((dev & 0xff) | ((dev >> 12) & 0xfff00))) "$2")
		owner=$(printf '%s\n' "$locks" |
			awk -v k="$key" '$2 == "FLOCK" && $6 == k && $4 == "WRITE" { print $5; exit }')
		[ -n "$owner" ] || owner=-
	fi
	echo "$p $owner"
	p=$((p + 1))
done
