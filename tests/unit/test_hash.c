/* test_hash.c - murmur2 and the default partitioner against Kafka's own
 * vectors, CRC-32C against the standard check value and RFC 3720 */
#include <stdint.h>
#include <string.h>

#include "check.h"

/* Kafka's UtilsTest.testMurmur2 vectors: placement must match Kafka's
 * Java client byte for byte, so these are the contract, not our output. */
static const struct {
	const char *key;
	int32_t hash;
} kafka[] = {
	{"21", -973932308},
	{"foobar", -790332482},
	{"a-little-bit-long-string", -985981536},
	{"a-little-bit-longer-string", -1486304829},
	{"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
	{"abc", 479470107},
};

static void test_murmur2_kafka_vectors(void)
{
	for (size_t i = 0; i < sizeof kafka / sizeof *kafka; i++) {
		int32_t h = (int32_t)es_murmur2(kafka[i].key,
						 strlen(kafka[i].key));
		if (h != kafka[i].hash)
			printf("# murmur2(\"%s\") = %d, want %d\n",
			       kafka[i].key, h, kafka[i].hash);
		CHECK(h == kafka[i].hash);
	}
}

static void test_murmur2_does_not_read_past_len(void)
{
	/* The tail handling must use len, not the NUL: "abcX" cut to 3 bytes
	 * hashes as "abc". */
	CHECK((int32_t)es_murmur2("abcX", 3) == 479470107);
}

/* (h & 0x7fffffff) % N, worked out by hand from the vectors above. */
static const struct {
	const char *key;
	uint32_t p3, p8, p12;
} parts[] = {
	{"21", 0, 4, 0},
	{"foobar", 0, 6, 6},
	{"a-little-bit-long-string", 2, 0, 8},
	{"a-little-bit-longer-string", 2, 3, 11},
	{"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", 2, 5, 5},
	{"abc", 0, 3, 3},
};

static void test_partition_for_key(void)
{
	for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) {
		const char *k = parts[i].key;
		size_t n = strlen(k);
		CHECK(es_partition_for_key(k, n, 3) == parts[i].p3);
		CHECK(es_partition_for_key(k, n, 8) == parts[i].p8);
		CHECK(es_partition_for_key(k, n, 12) == parts[i].p12);
		CHECK(es_partition_for_key(k, n, 1) == 0);
	}
	/* A negative hash must be made positive by masking, not abs(). */
	CHECK(es_partition_for_key("foobar", 6, 50) == 16);
	CHECK(es_partition_for_key("21", 2, 50) == 40);
	CHECK(es_partition_for_key("abc", 3, 50) == 7);
}

static void test_crc32c_check_value(void)
{
	CHECK(es_crc32c(0, "123456789", 9) == 0xE3069283u);
	CHECK(es_crc32c(0, "", 0) == 0);
	CHECK(es_crc32c(0, NULL, 0) == 0);
}

static void test_crc32c_rfc3720(void)
{
	unsigned char b[32];

	memset(b, 0, sizeof b);
	CHECK(es_crc32c(0, b, sizeof b) == 0x8A9136AAu);
	memset(b, 0xff, sizeof b);
	CHECK(es_crc32c(0, b, sizeof b) == 0x62A8AB43u);
	for (int i = 0; i < 32; i++)
		b[i] = (unsigned char)i;
	CHECK(es_crc32c(0, b, sizeof b) == 0x46DD794Eu);
	for (int i = 0; i < 32; i++)
		b[i] = (unsigned char)(31 - i);
	CHECK(es_crc32c(0, b, sizeof b) == 0x113FDB5Cu);
}

/* Bytes that are the same on every run. */
static void fill_bytes(unsigned char *buf, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		buf[i] = (unsigned char)(seed >> 16);
	}
}

static void test_crc32c_incremental(void)
{
	/* Records are checked in streamed pieces (valid_record_after), so
	 * every split, at every alignment, must give the one-shot value. */
	unsigned char buf[200];
	fill_bytes(buf, sizeof buf, 12345);
	for (size_t start = 0; start < 9; start++) {
		size_t n = sizeof buf - start;
		uint32_t whole = es_crc32c(0, buf + start, n);
		int bad = 0;
		for (size_t cut = 0; cut <= n; cut++) {
			uint32_t c = es_crc32c(0, buf + start, cut);
			c = es_crc32c(c, buf + start + cut, n - cut);
			bad += c != whole;
		}
		CHECK(bad == 0);
	}
	CHECK(es_crc32c(es_crc32c(0, "12345", 5), "6789", 4) == 0xE3069283u);
	/* Three pieces, odd sizes, across the 8-byte stride of the fast path. */
	CHECK(es_crc32c(es_crc32c(es_crc32c(0, "1", 1), "234567", 6), "89", 2) ==
	      0xE3069283u);
}

/* Every length and alignment against the bit-at-a-time definition, so
 * that the fast path's 8-, 4-, 2- and 1-byte steps are each checked. */
static void test_crc32c_reference(void)
{
	unsigned char buf[220];
	fill_bytes(buf, sizeof buf, 777);
	int bad = 0;
	for (size_t start = 0; start < 9; start++)
		for (size_t n = 0; start + n <= sizeof buf; n++) {
			uint32_t c = 0xFFFFFFFFu;
			for (size_t i = 0; i < n; i++) {
				c ^= buf[start + i];
				for (int k = 0; k < 8; k++)
					c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1)));
			}
			bad += es_crc32c(0, buf + start, n) != ~c;
		}
	CHECK(bad == 0);
}

int main(void)
{
	RUN(test_murmur2_kafka_vectors);
	RUN(test_murmur2_does_not_read_past_len);
	RUN(test_partition_for_key);
	RUN(test_crc32c_check_value);
	RUN(test_crc32c_rfc3720);
	RUN(test_crc32c_incremental);
	RUN(test_crc32c_reference);
	return DONE();
}
