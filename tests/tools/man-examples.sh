#!/bin/sh
# man-examples.sh - print the EXAMPLES of an mdoc page as a transcript to
# replay: "$ COMMAND" lines and the output lines that follow each.
#
# A transcript is a ".Bd -literal" block inside ".Sh EXAMPLES"; in it, a
# line "$ command" is a command, and the lines after it, up to the next
# command or the end of the block, are its standard output. Roff escapes
# are undone as mandoc renders them (mdoc.awk); any other escape, and
# output before a block's first command, are errors: what the test runs
# must be what the reader sees.
#
# Output, one record a line:  C<TAB>command  O<TAB>output line  E (block end)
# Exit 1, with a message on stderr, for a page that breaks these rules.
[ $# -eq 1 ] || { echo "usage: man-examples.sh PAGE" >&2; exit 64; }
awk -v what="an example" -f "$(dirname "$0")/mdoc.awk" -f /dev/stdin "$1" <<'EOF'
/^\.Sh / { inex = ($0 == ".Sh EXAMPLES"); next }
!inex { next }
/^\.Bd -literal/ { inblock = 1; cmds = 0; next }
/^\.Ed/ { if (inblock) print "E"; inblock = 0; next }
!inblock { next }
/^\$ / { cmds++; n++; print "C\t" unescape(substr($0, 3)); next }
{
	if (!cmds) fail("output before the first command of a block")
	if ($0 ~ /^\./) fail("a request inside an example block")
	print "O\t" unescape($0)
}
END {
	if (bad) exit 1
	if (!n) { printf "%s: no examples\n", FILENAME > "/dev/stderr"; exit 1 }
}
EOF
