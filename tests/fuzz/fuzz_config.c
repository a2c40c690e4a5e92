/* fuzz_config.c - libFuzzer: topic.yaml parsing, round trip, unit parsers */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "es.h"

static int same(const es_config *a, const es_config *b)
{
	return a->format == b->format && a->partitions == b->partitions &&
	       a->segment_bytes == b->segment_bytes &&
	       a->segment_age_ms == b->segment_age_ms &&
	       a->retention_ms == b->retention_ms &&
	       a->retention_bytes == b->retention_bytes &&
	       a->cleanup == b->cleanup &&
	       a->delete_retention_ms == b->delete_retention_ms &&
	       a->compression == b->compression &&
	       a->max_record_bytes == b->max_record_bytes && a->sync == b->sync;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	es_config c, back;
	es_error err;
	es_buf b = { 0 };
	char *s, *eq;
	int64_t ms;
	uint64_t n;

	if (es_config_parse((const char *)data, size, "topic.yaml", &c,
			    &err) == 0) {
		/* Whatever parses must render and read back unchanged. */
		if (es_config_format(&c, &b) != 0 ||
		    b.data[b.len] != '\0' ||
		    es_config_parse(b.data, b.len, "topic.yaml", &back,
				    &err) != 0 ||
		    !same(&c, &back))
			abort();
		es_buf_free(&b);
	}

	/* The same bytes as a command-line argument. */
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	es_parse_time(s, 1700000000000, &ms);
	es_parse_size(s, &n);
	es_parse_duration(s, &ms);
	eq = strchr(s, '=');
	if (eq) {
		*eq = '\0';
		es_config_default(&c);
		if (es_config_set(&c, s, eq + 1, &err) == 0) {
			if (es_config_format(&c, &b) != 0 ||
			    es_config_parse(b.data, b.len, "topic.yaml", &back,
					    &err) != 0 ||
			    !same(&c, &back))
				abort();
			es_buf_free(&b);
		}
	}
	free(s);
	return 0;
}
