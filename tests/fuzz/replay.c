/* replay.c - run a fuzz target over a corpus without libFuzzer, as TAP.
 * Usage: replay DIR|FILE...  (one TAP test per input file) */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int n;

static void one(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		printf("not ok %d - cannot open %s\n", ++n, path);
		return;
	}
	size_t cap = 1 << 16, len = 0;
	uint8_t *buf = malloc(cap);
	size_t got;
	while (buf && (got = fread(buf + len, 1, cap - len, f)) > 0) {
		len += got;
		if (len == cap)
			buf = realloc(buf, cap *= 2);
	}
	fclose(f);
	if (!buf) {
		printf("not ok %d - out of memory\n", ++n);
		return;
	}
	LLVMFuzzerTestOneInput(buf, len); /* a crash ends the run: failure */
	free(buf);
	printf("ok %d - %s\n", ++n, path);
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) != 0) {
			printf("not ok %d - no corpus %s\n", ++n, argv[i]);
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			one(argv[i]);
			continue;
		}
		DIR *d = opendir(argv[i]);
		struct dirent *e;
		char **names = NULL;
		size_t k = 0;
		while (d && (e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			names = realloc(names, (k + 1) * sizeof *names);
			size_t l = strlen(argv[i]) + strlen(e->d_name) + 2;
			names[k] = malloc(l);
			snprintf(names[k++], l, "%s/%s", argv[i], e->d_name);
		}
		if (d)
			closedir(d);
		qsort(names, k, sizeof *names, cmp);
		for (size_t j = 0; j < k; j++) {
			one(names[j]);
			free(names[j]);
		}
		free(names);
	}
	printf("1..%d\n", n);
	return 0;
}
