#!/bin/sh
# grp-commit.sh - the committed offsets of a consumer group, read from disk.
# Usage: grp-commit.sh TOPIC GROUP
# Prints one line per partition, "P OFFSET", or "P -" where the group has no
# commit. The commit file (es-format(5)) starts with "ESGC", a u32 version
# and the u64 offset, little-endian; anything else is reported and exit 1.
set -eu
topic=$1 group=$2
n=$(sed -n 's/^partitions: *\([0-9]*\).*/\1/p' "$topic/topic.yaml")
p=0
while [ "$p" -lt "$n" ]; do
	f=$topic/groups/$group/$p.commit
	if [ -e "$f" ]; then
		perl -e '
			open(my $f, "<:raw", $ARGV[0]) or die "grp-commit.sh: $ARGV[0]: $!\n";
			read($f, my $h, 16) == 16 or die "grp-commit.sh: $ARGV[0]: short\n";
			my ($magic, $ver, $lo, $hi) = unpack("a4 V V V", $h);
			$magic eq "ESGC" && $ver == 1 or die "grp-commit.sh: $ARGV[0]: not a commit file\n";
			print "$ARGV[1] ", $lo + $hi * 4294967296, "\n";
		' "$f" "$p"
	else
		echo "$p -"
	fi
	p=$((p + 1))
done
