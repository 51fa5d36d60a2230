/*
 * SipHash-2-4 as specified in §2 of the paper: four 64-bit words of state
 * initialised from the key and the constants "somepseudorandomlygeneratedbytes",
 * two SipRounds per 8-byte message word, the last word padded with the
 * message length mod 256 in its top byte, then four finalisation rounds.
 */
#include <conex/byteorder.h>
#include <conex/siphash.h>

static inline uint64_t rotl64(uint64_t x, unsigned int b)
{
	return (x << b) | (x >> (64 - b));
}

struct sip_state {
	uint64_t v0, v1, v2, v3;
};

static inline void sip_round(struct sip_state *s)
{
	s->v0 += s->v1;
	s->v1 = rotl64(s->v1, 13);
	s->v1 ^= s->v0;
	s->v0 = rotl64(s->v0, 32);
	s->v2 += s->v3;
	s->v3 = rotl64(s->v3, 16);
	s->v3 ^= s->v2;
	s->v0 += s->v3;
	s->v3 = rotl64(s->v3, 21);
	s->v3 ^= s->v0;
	s->v2 += s->v1;
	s->v1 = rotl64(s->v1, 17);
	s->v1 ^= s->v2;
	s->v2 = rotl64(s->v2, 32);
}

static inline void sip_compress(struct sip_state *s, uint64_t m)
{
	s->v3 ^= m;
	sip_round(s);
	sip_round(s);
	s->v0 ^= m;
}

static inline uint64_t get_le64(const uint8_t *p)
{
	return (uint64_t)cx_get_le32(p + 4) << 32 | cx_get_le32(p);
}

void cx_siphash_key_init(struct cx_siphash_key *key,
			 const uint8_t bytes[CX_SIPHASH_KEY_BYTES])
{
	key->k0 = get_le64(bytes);
	key->k1 = get_le64(bytes + 8);
}

uint64_t cx_siphash(const struct cx_siphash_key *key, const void *data,
		    size_t len)
{
	const uint8_t *p = data;
	const uint8_t *end = p + (len & ~(size_t)7);
	struct sip_state s = {
		.v0 = key->k0 ^ 0x736f6d6570736575ULL,
		.v1 = key->k1 ^ 0x646f72616e646f6dULL,
		.v2 = key->k0 ^ 0x6c7967656e657261ULL,
		.v3 = key->k1 ^ 0x7465646279746573ULL,
	};
	uint64_t last = (uint64_t)(len & 0xff) << 56;
	size_t i;

	for (; p != end; p += 8)
		sip_compress(&s, get_le64(p));
	for (i = 0; i < (len & 7); i++)
		last |= (uint64_t)p[i] << (8 * i);
	sip_compress(&s, last);

	s.v2 ^= 0xff;
	sip_round(&s);
	sip_round(&s);
	sip_round(&s);
	sip_round(&s);
	return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}
