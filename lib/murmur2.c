/* murmur2.c - Kafka's default partitioner, byte for byte: murmur2 as the
 * Java client computes it (seed 0x9747b28c), then toPositive and modulo, so
 * a topic mirrored into Kafka keeps its placement. */
#include "es.h"

uint32_t es_murmur2(const void *key, size_t len)
{
	const unsigned char *d = key;
	const uint32_t m = 0x5bd1e995;
	uint32_t h = 0x9747b28cu ^ (uint32_t)len;
	size_t i = 0;
	for (; i + 4 <= len; i += 4) {
		uint32_t k = (uint32_t)d[i] | (uint32_t)d[i + 1] << 8 |
			     (uint32_t)d[i + 2] << 16 | (uint32_t)d[i + 3] << 24;
		k *= m;
		k ^= k >> 24;
		k *= m;
		h *= m;
		h ^= k;
	}
	switch (len & 3) {
	case 3:
		h ^= (uint32_t)d[i + 2] << 16;
		/* fall through */
	case 2:
		h ^= (uint32_t)d[i + 1] << 8;
		/* fall through */
	case 1:
		h ^= d[i];
		h *= m;
	}
	h ^= h >> 13;
	h *= m;
	h ^= h >> 15;
	return h;
}

uint32_t es_partition_for_key(const void *key, size_t len, uint32_t n)
{
	return (es_murmur2(key, len) & 0x7fffffff) % n;
}
