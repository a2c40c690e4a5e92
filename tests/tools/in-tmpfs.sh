#!/bin/sh
# in-tmpfs.sh - run a command with a private tmpfs of SIZE mounted at DIR,
# in a mount namespace of its own (unshare -m), so that nothing leaks out
# and the mount goes away with the command. Needs root.
#
# Usage: in-tmpfs.sh SIZE DIR CMD [ARG...]
# Exit status: the command's; 2 if the tmpfs cannot be mounted.
set -eu
[ $# -ge 3 ] || { echo "usage: in-tmpfs.sh SIZE DIR CMD [ARG...]" >&2; exit 2; }
mkdir -p "$2"
exec unshare -m --propagation private sh -c '
	mount -t tmpfs -o "size=$1" es-test "$2" || exit 2
	shift 2
	exec "$@"' sh "$@"
