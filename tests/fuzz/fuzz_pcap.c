/*
 * libFuzzer harness for conex-dump's capture path: the pcap file and record
 * headers, the link layers, the packet reduction and the accounting, on an
 * input that is a whole pcap file.
 * Invariants: every record stays inside the input; the L3 offset stays
 * inside the record; a decoded packet's counted bytes are 0 or its IP
 * length, and L/E/C only with X; the TCP payload fits the IP packet; the
 * totals add up to the records read; per direction, payload with and
 * without X adds up, retransmitted bytes never exceed payload bytes.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acct.h"
#include "pcap.h"
#include "pkt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MAX_FLOWS = 64, MAX_RECORDS = 4096 };

static void check_pkt(enum cxd_l3 l3, const struct cxd_pkt *pk)
{
	int i;

	if (pk->family != (l3 == CXD_L3_IPV4 ? 4 : 6))
		__builtin_trap();
	for (i = 0; i < CXD_FLAGS; i++)
		if (pk->flag_bytes[i] && pk->flag_bytes[i] != pk->ip_bytes)
			__builtin_trap();
	for (i = CXD_FLAG_L; i < CXD_FLAGS; i++)
		if (pk->flag_bytes[i] && !pk->flag_bytes[CXD_FLAG_X])
			__builtin_trap();
	if (pk->flags & CXD_PKT_F_TCP) {
		if ((uint64_t)pk->payload_bytes + pk->tcp.hlen > pk->ip_bytes)
			__builtin_trap();
		if (pk->key.family != pk->family || pk->key.proto != 6)
			__builtin_trap();
	}
	if (pk->ecn > 3)
		__builtin_trap();
}

static void check_acct(struct cxd_acct *a, uint64_t records)
{
	const struct cxd_totals *t = cxd_acct_totals(a);
	const struct cxd_dir *dirs[MAX_FLOWS];
	uint32_t n, i;

	if (t->packets != records ||
	    t->non_ip + t->truncated + t->malformed + t->ipv4 + t->ipv6 != t->packets ||
	    t->tcp + t->non_tcp + t->fragments != t->ipv4 + t->ipv6 ||
	    t->non_tcp_marking > t->non_tcp)
		__builtin_trap();
	n = cxd_acct_list(a, dirs, MAX_FLOWS);
	if (n != cxd_acct_count(a))
		__builtin_trap();
	for (i = 0; i < n; i++) {
		const struct cxd_dir *d = dirs[i];

		if (d->payload_pkts_x + d->payload_pkts_no_x != d->payload_pkts ||
		    d->retx_bytes > d->payload_bytes ||
		    d->sig_pkts[CXD_FLAG_L] > d->sig_pkts[CXD_FLAG_X] ||
		    d->sig_pkts[CXD_FLAG_X] > d->pkts ||
		    d->c_first_n_pkts > d->first_n_done ||
		    d->ce_payload_bytes > d->payload_bytes ||
		    (i && dirs[i - 1]->first_pkt >= d->first_pkt))
			__builtin_trap();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct cx_siphash_key sk;
	struct cxd_pcap_file f;
	struct cxd_pcap_rec rec;
	struct cxd_acct *a;
	struct cxd_pkt pk;
	enum cxd_l3 l3;
	uint64_t records = 0;
	size_t off;
	int ret, l3off;

	ret = cxd_pcap_file_decode(data, size, &f);
	if (ret < 0)
		return 0;
	if (ret != CXD_PCAP_FILE_HDR_BYTES || f.version_major != 2 ||
	    f.linktype > 0xffff)
		__builtin_trap();
	a = cxd_acct_new(MAX_FLOWS, 3, &sk);
	if (!a)
		return 0;
	off = (size_t)ret;
	while (records < MAX_RECORDS) {
		ret = cxd_pcap_rec_decode(data + off, size - off, &f, &rec);
		if (ret < 0)
			break;
		if (ret != CXD_PCAP_REC_HDR_BYTES || rec.caplen > rec.origlen ||
		    rec.caplen > CXD_PCAP_CAPLEN_MAX)
			__builtin_trap();
		off += (size_t)ret;
		if (rec.caplen > size - off)
			break;
		l3off = cxd_link_decode(f.linktype, data + off, rec.caplen, &l3);
		if (l3off >= 0 && (size_t)l3off > rec.caplen)
			__builtin_trap();
		if (l3off < 0 && cxd_link_supported(f.linktype) && l3off == -ENOENT)
			__builtin_trap();
		if (l3off < 0) {
			ret = l3off == -ENODATA ? -ENODATA : -EBADMSG;
		} else {
			ret = cxd_pkt_decode(l3, data + off + l3off,
					     rec.caplen - (size_t)l3off, &pk);
			if (ret == 0)
				check_pkt(l3, &pk);
			else if (ret == -ENOENT && l3 != CXD_L3_OTHER)
				__builtin_trap();
		}
		cxd_acct_packet(a, ret, &pk);
		records++;
		off += rec.caplen;
		if (off > size)
			__builtin_trap();
	}
	check_acct(a, records);
	cxd_acct_free(a);
	return 0;
}
