#!/bin/sh
# grp-commit.sh - the committed offsets of a consumer group, read from disk.
# Usage: grp-commit.sh TOPIC GROUP
# Prints one line per partition, "P OFFSET", or "P -" where the group has no
# commit. The commits file (es-format(5)) holds partition P's two slots of
# 4096 bytes at byte P * 8192, each "ESGC", a u32 version, the u64 offset,
# ..., a u32 sequence at byte 44; the newest slot is the one with the higher
# sequence, and a region with no slot that says ESGC has no commit.
set -eu
topic=$1 group=$2
n=$(sed -n 's/^partitions: *\([0-9]*\).*/\1/p' "$topic/topic.yaml")
f=$topic/groups/$group/commits
[ -e "$f" ] || f=/dev/null
perl -e '
	my ($path, $n) = @ARGV;
	open(my $f, "<:raw", $path) or die "grp-commit.sh: $path: $!\n";
	for my $p (0 .. $n - 1) {
		seek($f, $p * 8192, 0);
		my $b = "";
		read($f, $b, 8192);
		$b .= "\0" x (8192 - length $b);
		my ($best, $seq);
		for my $k (0, 1) {
			my $s = substr($b, $k * 4096, 4096);
			my ($magic, $ver, $lo, $hi) = unpack("a4 V V V", $s);
			next unless $magic eq "ESGC" && $ver == 1;
			my $q = unpack("V", substr($s, 44, 4));
			($best, $seq) = ($lo + $hi * 4294967296, $q)
				if !defined $seq || $q > $seq;
		}
		print "$p ", (defined $best ? $best : "-"), "\n";
	}
' "$f" "$n"
