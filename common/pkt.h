/*
 * Parse one queued packet (a header-only copy) into the audit module's
 * input: flow key, ConEx signal (IPv6 CDO anywhere in the chain, IPv4 ID
 * encoding), ECN, TCP sequence and payload, and the odd cases the audit
 * must classify (multicast CDO, non-first fragment, RF on a non-atomic
 * IPv4 packet). The audit decides; this only reads.
 */
#ifndef CXD_PKT_H
#define CXD_PKT_H

#include <stddef.h>
#include <stdint.h>

#include <conex/audit.h>

/*
 * p: the packet from its IP header, cap_len bytes of it present; pkt_len:
 * the whole packet (a GSO packet whole). Fills everything in *out except
 * now_ns and rand, which are the caller's. Returns 0; 1 when the TCP
 * header was malformed and only its ports were used; -ENODATA if a header
 * the audit needs lies beyond cap_len; -EBADMSG for malformed IP or TCP
 * headers; -EPROTONOSUPPORT for a version other than 4 or 6.
 */
int cxd_pkt_parse(const uint8_t *p, size_t cap_len, uint32_t pkt_len,
		  struct cx_audit_pkt *out);

#endif
