#!/usr/bin/perl
# compact-check.pl - the producer and the model of tests/compact-crash.bats.
#
# Two topics in the current directory:
#   kt  cleanup compact: line i is "k(i*7919 % KEYS):v<i>-<pad>", every
#       29th a tombstone "k..:" (es-produce -Z -K :); the policy keeps the
#       newest record of each key
#   dt  cleanup delete, retention_bytes: line i is "n<i>-<pad>", keyless;
#       the policy keeps the newest part of each partition, without holes
#
#   compact-check.pl produce T   run es-produce --ack on T (acks in T.acks),
#                                feeding it lines until SIGTERM; then close
#                                its input and exit with its exit status
#   compact-check.pl check T [final]
#                                the invariants below, against T.acks (the
#                                i-th ack line is input line i); prints what
#                                is wrong and exits 1, or prints a summary
#   compact-check.pl caughtup T  exit 0 when T.follow holds the last acked
#                                record of every partition
#
# check: `es-consume` of T exits 0; inside a partition offsets increase;
# every record read, and every line es-consume -f printed into T.follow,
# that was acknowledged is the record acknowledged at that offset (key,
# value, tombstone); kt: for every key, its newest acknowledged record, or
# a newer record of the key, is there; dt: the offsets read are dense, and
# every acknowledged record from the first offset read on is there; three
# records read back one by one with es-consume -o N -n 1. With "final":
# everything read was acknowledged, and kt's closed segments hold no
# record that a later record of its key supersedes.
use strict;
use warnings;

my $KEYS = 300;
my $PAD = "x" x 40;
my ($cmd, $t, $final) = @ARGV;
die "usage: compact-check.pl produce|check|caughtup TOPIC [final]\n" unless $t;

# Input line i of topic t: (key or undef, value or undef for a tombstone).
sub model {
	my ($t, $i) = @_;
	if ($t eq "kt") {
		my $k = "k" . ($i * 7919 % $KEYS);
		return ($k, $i % 29 == 0 ? undef : "v$i-$PAD");
	}
	return (undef, "n$i-$PAD");
}

if ($cmd eq "produce") {
	my $stop = 0;
	$SIG{TERM} = $SIG{INT} = sub { $stop = 1 };
	my @args = $t eq "kt" ? ("-Z", "-K", ":") : ();
	open(my $acks, ">", "$t.acks") or die "$t.acks: $!";
	my $pid = open(my $p, "|-") // die "fork: $!";
	if (!$pid) {
		open(STDOUT, ">&", $acks) or die;
		exec("es-produce", "--ack", @args, $t) or die "es-produce: $!";
	}
	close $acks;
	select((select($p), $| = 1)[0]);
	$SIG{PIPE} = "IGNORE";
	for (my $i = 0; !$stop; $i++) {
		my ($k, $v) = model($t, $i);
		my $line = defined $k ? "$k:" . ($v // "") : $v;
		last unless print $p "$line\n";
		select(undef, undef, undef, 0.01) if $i % 4 == 3; # < 400 a second
	}
	close $p;
	exit($? >> 8 || ($? & 127 ? 128 + ($? & 127) : 0));
}

# The acknowledged records: %ack{"p o"} = line number.
sub acks {
	my ($t) = @_;
	my (%ack, @last);
	open(my $f, "<", "$t.acks") or die "$t.acks: $!";
	my $i = 0;
	while (my $l = <$f>) {
		last unless $l =~ /^(\d+)\t(\d+)\n\z/;
		$ack{"$1 $2"} = $i++;
		$last[$1] = $2 if !defined $last[$1] || $2 > $last[$1];
	}
	return (\%ack, \@last, $i);
}

if ($cmd eq "caughtup") {
	my ($ack, $last) = acks($t);
	my %seen;
	open(my $f, "<", "$t.follow") or exit 1;
	while (<$f>) { $seen{"$1 $2"} = 1 if /^(\d+) (\d+) / }
	for my $p (0 .. $#$last) {
		exit 1 if defined $last->[$p] && !$seen{"$p $last->[$p]"};
	}
	exit 0;
}

die "unknown command $cmd\n" unless $cmd eq "check";
my ($ack, $last, $nacked) = acks($t);
my @err;
sub bad { push @err, "$t: @_"; die join("\n", @err) . "\n" if @err >= 10 }

# A line "P O SIZE KEY VALUE" against the model; returns (p, o, key, value).
sub parse {
	my ($l, $where) = @_;
	chomp $l;
	my ($p, $o, $s, $k, $v) = split / /, $l, 5;
	if (!defined $v || $p !~ /^\d+$/ || $o !~ /^\d+$/) {
		bad("$where: not a record line: '$l'");
		return;
	}
	$v = undef if $s == -1;
	$k = undef if $t eq "dt";
	my $i = $ack->{"$p $o"};
	if (defined $i) {
		my ($mk, $mv) = model($t, $i);
		bad("$where: $p/$o is '" . ($k // "-") . "'='" . ($v // "null") .
		    "', acknowledged as '" . ($mk // "-") . "'='" . ($mv // "null") . "'")
			if ($k // "") ne ($mk // "") || defined $v != defined $mv ||
			   (defined $v && $v ne $mv);
	} elsif ($final) {
		bad("$where: $p/$o was never acknowledged");
	}
	return ($p, $o, $k, $v);
}

# The records, read now.
my $fmt = '%p %o %S %k %s\n';
open(my $d, "-|", "es-consume", "-F", $fmt, $t) or die;
my (%recs, @prev, @first, %newest, @dumped);
while (my $l = <$d>) {
	my ($p, $o, $k, $v) = parse($l, "read") or next;
	bad("read: partition $p: offset $o after $prev[$p]") if defined $prev[$p] && $o <= $prev[$p];
	$first[$p] //= $o;
	bad("read: partition $p: a hole before $o (after $prev[$p])")
		if $t eq "dt" && defined $prev[$p] && $o != $prev[$p] + 1;
	$prev[$p] = $o;
	$recs{"$p $o"} = 1;
	push @dumped, [$p, $o, $l];
	$newest{"$p $k"} = $o if defined $k;
}
close $d or bad("es-consume exited " . ($? >> 8));

# What the policy keeps must be there.
my %maxack;
for my $po (keys %$ack) {
	my ($p, $o) = split / /, $po;
	my ($k) = model($t, $ack->{$po});
	if ($t eq "kt") {
		$maxack{"$p $k"} = $o if !defined $maxack{"$p $k"} || $o > $maxack{"$p $k"};
	} elsif (!defined $first[$p] || $o >= $first[$p]) {
		bad("partition $p: acknowledged record $o (from " . ($first[$p] // "-") .
		    " on) is missing") unless $recs{$po};
	}
}
for my $pk (keys %maxack) {
	my $n = $newest{$pk};
	bad("partition/key $pk: its newest acknowledged record, at $maxack{$pk}, is gone" .
	    (defined $n ? " (newest read: $n)" : " (none read)"))
		unless defined $n && $n >= $maxack{$pk};
}

# Point reads.
for my $j (1 .. 3) {
	last unless @dumped;
	my ($p, $o, $l) = @{$dumped[int(rand(@dumped))]};
	my $got = `es-consume -p $p -o $o -n 1 -F '$fmt' $t`;
	bad("es-consume -p $p -o $o -n 1: '" . ($got =~ s/\n\z//r) . "', not '" .
	    ($l =~ s/\n\z//r) . "'") if $got ne $l;
}

# The follower.
my ($nf, @fprev) = (0);
if (open(my $f, "<", "$t.follow")) {
	while (my $l = <$f>) {
		last unless $l =~ /\n\z/;
		my ($p, $o) = parse($l, "follower") or next;
		bad("follower: partition $p: offset $o after $fprev[$p]")
			if defined $fprev[$p] && $o <= $fprev[$p];
		$fprev[$p] = $o;
		$nf++;
	}
}

# Finished: nothing superseded is left in a closed segment.
if ($final && $t eq "kt") {
	for my $p (0 .. $#prev) {
		opendir(my $dh, "$t/$p") or die;
		my ($active) = sort { $b <=> $a } map { /^(\d{20})\.z?log$/ ? $1 + 0 : () } readdir $dh;
		for my $r (@dumped) {
			my ($rp, $o, $l) = @$r;
			next unless $rp == $p && $o < $active;
			my (undef, undef, undef, $k) = split / /, $l, 5;
			bad("partition $p: $o in a closed segment is superseded by $newest{\"$p $k\"}")
				if $newest{"$p $k"} > $o;
		}
	}
}

die join("\n", @err) . "\n" if @err;
printf "%s: %d acknowledged, %d read, %d printed by the follower\n", $t, $nacked,
	scalar @dumped, $nf;
