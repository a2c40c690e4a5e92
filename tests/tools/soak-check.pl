#!/usr/bin/perl
# soak-check.pl - check what the handlers of tests/soak.bats saw.
# Usage: soak-check.pl DUMP KILLS LOGDIR ACKS...
#   DUMP    `es-consume -F '%p %o %k %s\n'` of the whole topic at the end
#   KILLS   lines "KILL PID TIME" (microseconds), one per SIGKILLed member
#   LOGDIR  the b.* files soak-handler.sh wrote, one per handler run
#   ACKS    `es-produce --ack` output of each producer ("P<TAB>O" a line)
# Checks, printing each violation (the first 30, or $SOAK_CHECK_SHOW) and
# exiting 1 if any:
#   - every record of the topic, and every acknowledged one, was processed
#     at least once, and each handler saw the records as they are stored;
#   - no record was processed by two members at the same time;
#   - a record processed more than once was, every time but its last, in a
#     batch in flight at a kill: the last batch a killed member ran on that
#     partition;
#   - per partition, each batch starts right after the one before it, or,
#     after a batch in flight at a kill, at that batch's first offset (the
#     committed offset); the first starts at 0;
#   - per key, the producer's sequence numbers grow with the offset.
# Prints one summary line: "records N acked N batches N processed N
# duplicates N kills N in-flight N overlaps N".
use strict;
use warnings;

my ($dump, $kills, $logdir, @acks) = @ARGV;
my @bad;
sub bad { push @bad, $_[0] }

my (%rec, %lastseq, $nrec);
open(my $d, '<', $dump) or die "soak-check: $dump: $!\n";
while (<$d>) {
	chomp;
	my ($p, $o, $k, $v) = split / /, $_, 4;
	$rec{"$p $o"} = "$k $v";
	$nrec++;
	my ($seq) = $v =~ /:(\d+)$/ or do { bad("dump: odd record $_"); next };
	bad("key $k: seq $seq at $p $o after seq $lastseq{$k}")
		if defined $lastseq{$k} && $seq <= $lastseq{$k};
	$lastseq{$k} = $seq;
}
close $d;

my %killed;
open(my $kf, '<', $kills) or die "soak-check: $kills: $!\n";
while (<$kf>) {
	my (undef, $pid, $t) = split;
	$killed{$pid} = $t;
}
close $kf;

# The batches.
my @batches;
opendir(my $ld, $logdir) or die "soak-check: $logdir: $!\n";
for my $f (sort grep { /^b\./ } readdir $ld) {
	open(my $b, '<', "$logdir/$f") or die "soak-check: $f: $!\n";
	my $h = <$b>;
	defined $h && $h =~ /^B (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)$/
		or do { bad("$f: no batch line"); next };
	my %bt = (p => $1, first => $2, last => $3, count => $4, member => $5,
		  start => $6, end => $7, file => $f, offs => []);
	while (<$b>) {
		chomp;
		if (/^BAD /) { bad("$f: $_"); next }
		my (undef, $p, $o, $kv) = /^(R) (\d+) (\d+) (.*)$/ or do { bad("$f: odd line $_"); next };
		my $want = $rec{"$p $o"};
		bad("$f: record $p $o is '$kv', the topic has '" . ($want // 'nothing') . "'")
			unless defined $want && $want eq $kv;
		push @{$bt{offs}}, $o;
	}
	close $b;
	push @batches, \%bt;
}
closedir $ld;

# In flight at a kill: the last batch of a killed member on its partition
# (a dead member starts nothing, so its last batch was the one in hand; it
# may have started after the kill: a handler forked just before it).
my %lastof;
for my $bt (@batches) {
	my $k = "$bt->{member} $bt->{p}";
	$lastof{$k} = $bt if !$lastof{$k} || $bt->{start} > $lastof{$k}{start};
}
my $inflight = 0;
for my $bt (values %lastof) {
	if (defined $killed{$bt->{member}}) {
		$bt->{inflight} = 1;
		$inflight++;
	}
}

# Per record: how often, by whom, when.
my (%ev, $processed);
for my $bt (@batches) {
	for my $o (@{$bt->{offs}}) {
		push @{$ev{"$bt->{p} $o"}}, $bt;
		$processed++;
	}
}
my ($dups, $overlaps) = (0, 0);
for my $r (sort keys %ev) {
	my @e = sort { $a->{start} <=> $b->{start} } @{$ev{$r}};
	$dups += @e - 1;
	for my $i (0 .. $#e - 1) {
		bad("record $r processed again ($e[$i+1]{file}) after $e[$i]{file}, "
		    . "which was not in flight at a kill") unless $e[$i]{inflight};
		for my $j ($i + 1 .. $#e) {
			next if $e[$i]{member} == $e[$j]{member};
			if ($e[$j]{start} < $e[$i]{end}) {
				$overlaps++;
				bad("record $r processed by members $e[$i]{member} and "
				    . "$e[$j]{member} at the same time ($e[$i]{file}, $e[$j]{file})");
			}
		}
	}
}
for my $r (sort keys %rec) {
	bad("record $r was never processed") unless $ev{$r};
}
my $nacked = 0;
for my $a (@acks) {
	open(my $af, '<', $a) or die "soak-check: $a: $!\n";
	while (<$af>) {
		chomp;
		my ($p, $o) = split /\t/;
		$nacked++;
		bad("acknowledged record $p $o is not in the topic") unless $rec{"$p $o"};
	}
	close $af;
}

# Order per partition.
my %byp;
push @{$byp{$_->{p}}}, $_ for @batches;
for my $p (sort keys %byp) {
	my @bs = sort { $a->{start} <=> $b->{start} } @{$byp{$p}};
	bad("partition $p: the first batch starts at $bs[0]{first}") if $bs[0]{first} != 0;
	for my $i (1 .. $#bs) {
		my ($a, $b) = ($bs[$i - 1], $bs[$i]);
		next if $b->{first} == $a->{last} + 1;
		next if $a->{inflight} && $b->{first} == $a->{first};
		bad("partition $p: batch $b->{first}-$b->{last} ($b->{file}) after "
		    . "$a->{first}-$a->{last} ($a->{file})");
	}
}

printf "records %d acked %d batches %d processed %d duplicates %d kills %d in-flight %d overlaps %d\n",
	$nrec // 0, $nacked, scalar @batches, $processed // 0, $dups,
	scalar keys %killed, $inflight, $overlaps;
my ($n, $show) = (0, $ENV{SOAK_CHECK_SHOW} // 30);
for (@bad) {
	print STDERR "soak-check: $_\n" if ++$n <= $show;
}
print STDERR "soak-check: ... and ", @bad - $show, " more\n" if @bad > $show;
exit(@bad ? 1 : 0);
