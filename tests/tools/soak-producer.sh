#!/bin/bash
# soak-producer.sh - the input of one producer of tests/soak.bats.
# Usage: soak-producer.sh ID SECONDS RATE | es-produce -K = TOPIC
# Prints "kID-N=ID:SEQ" lines (SEQ from 1, the key N = SEQ % 16) at about
# RATE lines a second, for SECONDS; records of one key must come out in
# SEQ order.
set -eu
id=$1 secs=$2 rate=$3
step=$((rate / 20)) # lines per 50 ms
end=$((${EPOCHREALTIME/./} + secs * 1000000))
seq=0
while ((${EPOCHREALTIME/./} < end)); do
	for ((i = 0; i < step; i++)); do
		seq=$((seq + 1))
		printf 'k%s-%s=%s:%s\n' "$id" $((seq % 16)) "$id" "$seq"
	done
	sleep 0.05
done
