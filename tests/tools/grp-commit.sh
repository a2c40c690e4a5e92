#!/bin/sh
# grp-commit.sh - the committed offsets of a consumer group, read from disk.
# Usage: grp-commit.sh TOPIC GROUP
# Prints one line per partition, "P OFFSET", or "P -" where the group has no
# commit. The commit file (es-format(5)) has two slots of 4096 bytes, each
# "ESGC", a u32 version, the u64 offset, ..., a u32 sequence at byte 44; the
# newest slot is the one with the higher sequence. Anything else is
# reported and exit 1.
set -eu
topic=$1 group=$2
n=$(sed -n 's/^partitions: *\([0-9]*\).*/\1/p' "$topic/topic.yaml")
p=0
while [ "$p" -lt "$n" ]; do
	f=$topic/groups/$group/$p.commit
	if [ -e "$f" ]; then
		perl -e '
			open(my $f, "<:raw", $ARGV[0]) or die "grp-commit.sh: $ARGV[0]: $!\n";
			read($f, my $b, 8192) == 8192 or die "grp-commit.sh: $ARGV[0]: short\n";
			my ($best, $seq);
			for my $k (0, 1) {
				my $s = substr($b, $k * 4096, 4096);
				my ($magic, $ver, $lo, $hi) = unpack("a4 V V V", $s);
				next unless $magic eq "ESGC" && $ver == 1;
				my $q = unpack("V", substr($s, 44, 4));
				($best, $seq) = ($lo + $hi * 4294967296, $q)
					if !defined $seq || $q > $seq;
			}
			defined $best or die "grp-commit.sh: $ARGV[0]: not a commit file\n";
			print "$ARGV[1] $best\n";
		' "$f" "$p"
	else
		echo "$p -"
	fi
	p=$((p + 1))
done
