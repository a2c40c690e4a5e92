# mdoc.awk - roff escapes undone as mandoc renders them, for the tests that
# run what a man page shows: \e is a backslash, \- a minus and \& nothing.
# Any other escape is an error: what a test runs must be what the reader
# sees. Loaded ahead of a program (awk -v what=... -f mdoc.awk -f PROG);
# what names the block in the error ("an example", "a recipe").
function fail(msg) {
	printf "%s:%d: %s\n", FILENAME, FNR, msg > "/dev/stderr"
	bad = 1
	exit 1
}
function unescape(s,    out, c, i) {
	out = ""
	while ((i = index(s, "\\")) > 0) {
		out = out substr(s, 1, i - 1)
		c = substr(s, i + 1, 1)
		if (c == "e") out = out "\\"
		else if (c == "-") out = out "-"
		else if (c != "&") fail("unsupported escape \\" c " in " what)
		s = substr(s, i + 2)
	}
	return out s
}
