/*
 * Byte-order helpers. Packet fields are read and written through memcpy so
 * that no buffer is ever cast to a wire struct (unaligned, aliasing-safe).
 * Callers check bounds first; these helpers do not.
 */
#ifndef CONEX_BYTEORDER_H
#define CONEX_BYTEORDER_H

#include <stdint.h>
#include <string.h>

static inline uint16_t cx_get_be16(const uint8_t *p)
{
	return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static inline uint32_t cx_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline uint64_t cx_get_be64(const uint8_t *p)
{
	return (uint64_t)cx_get_be32(p) << 32 | cx_get_be32(p + 4);
}

static inline void cx_put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void cx_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void cx_put_be64(uint8_t *p, uint64_t v)
{
	cx_put_be32(p, (uint32_t)(v >> 32));
	cx_put_be32(p + 4, (uint32_t)v);
}

static inline uint32_t cx_get_le32(const uint8_t *p)
{
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[1] << 8 | (uint32_t)p[0];
}

static inline void cx_put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

#endif
