/* fuzz_locktable.c - libFuzzer: the /proc/locks parser. es-lag skips the
 * probe of every lock file the table does not list, so a misread line
 * could only ever hide a holder; here nothing may crash, and text without
 * a FLOCK line may list nothing at all. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "es-int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FILE *f = fmemopen(NULL, size + 1, "w+");
	if (!f)
		return 0;
	if (size && fwrite(data, 1, size, f) != size)
		abort();
	rewind(f);
	es_locktable *lt = NULL;
	int rc = es_locktable_parse(f, &lt);
	fclose(f);
	if (rc) {
		if (lt)
			abort();
		return 0;
	}
	if (!lt)
		abort();
	int flock = memmem(data, size, "FLOCK", 5) != NULL;
	/* Every number in the text, as an inode the table might claim. */
	for (size_t i = 0; i < size;) {
		if (data[i] < '0' || data[i] > '9') {
			i++;
			continue;
		}
		uint64_t v = 0;
		while (i < size && data[i] >= '0' && data[i] <= '9')
			v = v * 10 + (uint64_t)(data[i++] - '0');
		if (es_locktable_has(lt, v) && !flock)
			abort();
	}
	es_locktable_free(lt);
	return 0;
}
