/*
 * Classic pcap files (the libpcap savefile format, "tcpdump -w"): the
 * 24-octet file header, the 16-octet record header, and the link-layer
 * headers conex-dump understands. Pure: no I/O, the caller reads the file.
 *
 * File header (byte order given by the magic):
 *   0 magic | 4 major 2 | 6 minor 4 | 8 thiszone | 12 sigfigs |
 *  16 snaplen | 20 linktype (low 16 bits; the upper bits hold FCS info)
 * Record header:
 *   0 ts_sec | 4 ts_usec or ts_nsec | 8 caplen | 12 origlen, then caplen octets.
 */
#ifndef CXD_PCAP_H
#define CXD_PCAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	CXD_PCAP_FILE_HDR_BYTES = 24,
	CXD_PCAP_REC_HDR_BYTES = 16,
	/* libpcap's own bound on a record (MAXIMUM_SNAPLEN). */
	CXD_PCAP_CAPLEN_MAX = 262144,
};

/* Link types (tcpdump.org "LINK-LAYER HEADER TYPES"). */
enum {
	CXD_LINKTYPE_ETHERNET = 1,
	CXD_LINKTYPE_RAW = 101,
	CXD_LINKTYPE_LINUX_SLL = 113,
	CXD_LINKTYPE_LINUX_SLL2 = 276,
};

struct cxd_pcap_file {
	bool le;		/* fields are little-endian in the file */
	bool nsec;		/* ts_usec field holds nanoseconds */
	uint16_t version_major;
	uint16_t version_minor;
	uint32_t snaplen;
	uint32_t linktype;	/* low 16 bits of the field */
};

struct cxd_pcap_rec {
	uint64_t ts_ns;
	uint32_t caplen;	/* octets present in the file */
	uint32_t origlen;	/* octets the packet had on the wire */
};

/*
 * Decode the file header. Returns 24, -ENODATA (len < 24), -EBADMSG
 * (unknown magic, e.g. pcapng, or major version != 2), -EINVAL (NULL).
 */
int cxd_pcap_file_decode(const uint8_t *p, size_t len,
			 struct cxd_pcap_file *out);

/*
 * Decode one record header at p. Returns 16 (the caplen octets of the
 * packet follow), -ENODATA (len < 16), -EBADMSG (caplen above
 * CXD_PCAP_CAPLEN_MAX, caplen > origlen, or sub-second field out of
 * range), -EINVAL.
 */
int cxd_pcap_rec_decode(const uint8_t *p, size_t len,
			const struct cxd_pcap_file *f, struct cxd_pcap_rec *out);

/* The network layer found behind the link-layer header. */
enum cxd_l3 {
	CXD_L3_OTHER = 0,	/* ARP, LLDP, ...: not IP */
	CXD_L3_IPV4 = 4,
	CXD_L3_IPV6 = 6,
};

/*
 * Find the network-layer header of one captured frame. Ethernet may carry
 * up to two VLAN tags (802.1Q, 802.1ad); RAW is IPv4 or IPv6 by the version
 * nibble. Returns the offset of the L3 header (<= len) with *l3 set,
 * -ENODATA if the link header is cut short, -ENOENT for an unsupported
 * linktype, -EINVAL.
 */
int cxd_link_decode(uint32_t linktype, const uint8_t *p, size_t len,
		    enum cxd_l3 *l3);

/* True if conex-dump knows the linktype. */
bool cxd_link_supported(uint32_t linktype);

#endif
