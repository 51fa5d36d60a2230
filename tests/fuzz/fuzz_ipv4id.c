/*
 * IPv4 ID codec on arbitrary headers. The first input byte is the signal
 * octet to apply, the second an ECN codepoint, the rest a raw IPv4 header.
 * Invariants:
 * - decode agrees with an independent reading of RF/DF/MF/offset and ID;
 * - apply either refuses (fragment, reserved bits: header untouched) or
 *   produces a header that decodes as ConEx with exactly the bits applied;
 * - after apply (and after an ECN rewrite) the incrementally updated
 *   checksum equals a full recomputation, and the reported delta maps the
 *   old checksum to the new one.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <conex/byteorder.h>
#include <conex/csum.h>
#include <conex/ecn.h>
#include <conex/ipv4id.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_decode(const uint8_t *h, size_t len)
{
	struct cx_ipv4id d;
	uint16_t frag;
	int ret, want;

	ret = cx_ipv4id_decode(h, len, &d);
	if (ret < 0) {
		if (ret != -ENODATA && ret != -EBADMSG)
			__builtin_trap();
		return;
	}
	frag = cx_get_be16(h + 6);
	if (!(frag & 0x8000))
		want = CX_IPV4ID_NOT_CONEX;
	else if ((frag & 0x7fff) == 0x4000)
		want = CX_IPV4ID_CONEX;
	else
		want = CX_IPV4ID_ANOMALY;
	if (ret != want || d.state != want ||
	    d.bits != (want == CX_IPV4ID_CONEX ? (h[4] & 0xf0) : 0) ||
	    d.total_len != cx_get_be16(h + 2) ||
	    d.total_len < (h[0] & 0x0f) * 4)
		__builtin_trap();
	if (cx_ipv4id_flag_bytes(&d, CX_SIG_L) !=
	    (want == CX_IPV4ID_CONEX && (d.bits & CX_SIG_X) &&
	     (d.bits & CX_SIG_L) ? d.total_len : 0U))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cx_ipv4id d;
	uint8_t bits, *h, *before;
	uint16_t delta, old_hc, frag;
	size_t len;
	int ret, hc, ecn;

	if (size < 2)
		return 0;
	bits = data[0];
	ecn = data[1] & CX_ECN_MASK;
	len = size - 2;
	h = malloc(len ? len : 1);
	before = malloc(len ? len : 1);
	if (!h || !before)
		goto out;
	memcpy(h, data + 2, len);
	check_decode(h, len);

	/* Give the header a right checksum, then mark it. */
	hc = cx_csum_ipv4_compute(h, len);
	if (hc < 0)
		goto out;
	cx_put_be16(h + 10, (uint16_t)hc);
	old_hc = (uint16_t)hc;
	memcpy(before, h, len);
	frag = cx_get_be16(h + 6);
	delta = 0;
	ret = cx_ipv4id_apply(h, len, bits, &delta);
	if (ret < 0) {
		if (memcmp(h, before, len))
			__builtin_trap();
		if (ret == -EINVAL) {
			if (!(bits & CX_SIG_RES) && !(frag & 0x3fff))
				__builtin_trap();
			goto out;
		}
		/* Only a Total Length below the header length is left. */
		if (ret != -EBADMSG ||
		    cx_get_be16(h + 2) >= (h[0] & 0x0f) * 4)
			__builtin_trap();
		goto out;
	}
	if (ret != 0 || (bits & CX_SIG_RES) || (frag & 0x3fff))
		__builtin_trap();
	if (cx_csum_ipv4_verify(h, len) != 0 ||
	    cx_get_be16(h + 10) != cx_csum_ipv4_compute(h, len) ||
	    cx_csum_apply(old_hc, delta) != cx_get_be16(h + 10))
		__builtin_trap();
	if (cx_ipv4id_decode(h, len, &d) != CX_IPV4ID_CONEX || d.bits != bits)
		__builtin_trap();
	/* Bytes other than ID, flags/offset and checksum are untouched. */
	if (memcmp(h, before, 4) || memcmp(h + 8, before + 8, 2) ||
	    memcmp(h + 12, before + 12, len - 12))
		__builtin_trap();
	check_decode(h, len);

	if (cx_ecn_set_ipv4(h, len, (enum cx_ecn)ecn) != (before[1] & 3) ||
	    cx_ecn_get_ipv4(h, len) != ecn || cx_csum_ipv4_verify(h, len) ||
	    cx_ipv4id_decode(h, len, &d) != CX_IPV4ID_CONEX || d.bits != bits)
		__builtin_trap();
out:
	free(h);
	free(before);
	return 0;
}
