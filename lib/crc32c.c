/* crc32c.c - CRC-32C (Castagnoli), with the SSE4.2 instruction when the CPU
 * has it: records are checksummed on every write and every read, so this is
 * on the hot path of both. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "es.h"

static uint32_t crc32c_soft(uint32_t crc, const unsigned char *p, size_t n)
{
	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1)));
	}
	return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t
crc32c_hw(uint32_t crc, const unsigned char *p, size_t n)
{
	uint64_t c = crc;
	while (n >= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		c = __builtin_ia32_crc32di(c, v);
		p += 8;
		n -= 8;
	}
	/* The last 0-7 bytes in at most three steps, not seven: each step
	 * waits for the one before. */
	uint32_t c32 = (uint32_t)c;
	if (n & 4) {
		uint32_t v;
		memcpy(&v, p, 4);
		c32 = __builtin_ia32_crc32si(c32, v);
		p += 4;
	}
	if (n & 2) {
		uint16_t v;
		memcpy(&v, p, 2);
		c32 = __builtin_ia32_crc32hi(c32, v);
		p += 2;
	}
	if (n & 1)
		c32 = __builtin_ia32_crc32qi(c32, *p);
	return c32;
}
#endif

uint32_t es_crc32c(uint32_t crc, const void *p, size_t n)
{
	crc = ~crc;
#if defined(__x86_64__)
	if (__builtin_cpu_supports("sse4.2"))
		return ~crc32c_hw(crc, p, n);
#endif
	return ~crc32c_soft(crc, p, n);
}
