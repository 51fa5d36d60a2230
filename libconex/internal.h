/* Private helpers shared by libconex's modules; not installed. */
#ifndef CONEX_INTERNAL_H
#define CONEX_INTERNAL_H

#include <stddef.h>

#define CX_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define CX_MIN(a, b) ((a) < (b) ? (a) : (b))
#define CX_MAX(a, b) ((a) > (b) ? (a) : (b))

/*
 * Minimal check of a raw IPv4 header for modules that must not depend on
 * the full IPv4 view (checksum, ECN, ID codec): returns IHL*4 (>= 20),
 * -ENODATA if fewer bytes are present, -EBADMSG if version != 4 or IHL < 5.
 */
#include <errno.h>
#include <stdint.h>

static inline int cx_raw_ipv4_hlen(const uint8_t *p, size_t len)
{
	size_t hlen;

	if (len < 20)
		return -ENODATA;
	if (p[0] >> 4 != 4)
		return -EBADMSG;
	hlen = (size_t)(p[0] & 0x0f) * 4;
	if (hlen < 20)
		return -EBADMSG;
	if (hlen > len)
		return -ENODATA;
	return (int)hlen;
}

#endif
