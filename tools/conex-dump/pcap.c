/*
 * Classic pcap savefile parsing (see pcap.h for the layout). The writer's
 * byte order is whatever its host used: the magic, read both ways, says
 * which, and whether the sub-second field counts micro- or nanoseconds.
 */
#include <errno.h>

#include <conex/byteorder.h>

#include "pcap.h"

#define MAGIC_USEC	0xa1b2c3d4U
#define MAGIC_NSEC	0xa1b23c4dU

#define ETH_HDR_BYTES	14
#define VLAN_TAG_BYTES	4
#define VLAN_MAX_TAGS	2	/* 802.1ad outer + 802.1Q inner (QinQ) */
#define SLL_HDR_BYTES	16	/* protocol at 14 */
#define SLL2_HDR_BYTES	20	/* protocol at 0 */

#define ETHERTYPE_IPV4	0x0800
#define ETHERTYPE_IPV6	0x86dd
#define ETHERTYPE_VLAN	0x8100
#define ETHERTYPE_QINQ	0x88a8

static uint32_t get32(const struct cxd_pcap_file *f, const uint8_t *p)
{
	return f->le ? cx_get_le32(p) : cx_get_be32(p);
}

static uint16_t get16(bool le, const uint8_t *p)
{
	return le ? (uint16_t)(p[0] | p[1] << 8) : cx_get_be16(p);
}

int cxd_pcap_file_decode(const uint8_t *p, size_t len,
			 struct cxd_pcap_file *out)
{
	uint32_t be, le;
	struct cxd_pcap_file f = { 0 };

	if (!p || !out)
		return -EINVAL;
	if (len < CXD_PCAP_FILE_HDR_BYTES)
		return -ENODATA;
	be = cx_get_be32(p);
	le = cx_get_le32(p);
	if (be == MAGIC_USEC || be == MAGIC_NSEC) {
		f.nsec = be == MAGIC_NSEC;
	} else if (le == MAGIC_USEC || le == MAGIC_NSEC) {
		f.le = true;
		f.nsec = le == MAGIC_NSEC;
	} else {
		return -EBADMSG;	/* pcapng (0x0a0d0d0a) lands here too */
	}
	f.version_major = get16(f.le, p + 4);
	f.version_minor = get16(f.le, p + 6);
	if (f.version_major != 2)
		return -EBADMSG;
	f.snaplen = get32(&f, p + 16);
	/* The upper bits of the field are FCS length and flags (pcap spec §4). */
	f.linktype = get32(&f, p + 20) & 0xffffU;
	*out = f;
	return CXD_PCAP_FILE_HDR_BYTES;
}

int cxd_pcap_rec_decode(const uint8_t *p, size_t len,
			const struct cxd_pcap_file *f, struct cxd_pcap_rec *out)
{
	uint32_t sec, frac, caplen, origlen;

	if (!p || !f || !out)
		return -EINVAL;
	if (len < CXD_PCAP_REC_HDR_BYTES)
		return -ENODATA;
	sec = get32(f, p);
	frac = get32(f, p + 4);
	caplen = get32(f, p + 8);
	origlen = get32(f, p + 12);
	if (frac >= (f->nsec ? 1000000000U : 1000000U))
		return -EBADMSG;
	/*
	 * caplen is what the file holds: a value past libpcap's bound is a
	 * corrupt file, not a big packet, and would make the reader swallow
	 * the rest of it as one record.
	 */
	if (caplen > CXD_PCAP_CAPLEN_MAX || caplen > origlen)
		return -EBADMSG;
	out->ts_ns = (uint64_t)sec * 1000000000U +
		     (f->nsec ? frac : (uint64_t)frac * 1000U);
	out->caplen = caplen;
	out->origlen = origlen;
	return CXD_PCAP_REC_HDR_BYTES;
}

bool cxd_link_supported(uint32_t linktype)
{
	return linktype == CXD_LINKTYPE_ETHERNET || linktype == CXD_LINKTYPE_RAW ||
	       linktype == CXD_LINKTYPE_LINUX_SLL ||
	       linktype == CXD_LINKTYPE_LINUX_SLL2;
}

static int by_ethertype(uint16_t type, size_t off, enum cxd_l3 *l3)
{
	if (type == ETHERTYPE_IPV4)
		*l3 = CXD_L3_IPV4;
	else if (type == ETHERTYPE_IPV6)
		*l3 = CXD_L3_IPV6;
	else
		*l3 = CXD_L3_OTHER;
	return (int)off;
}

static int ethernet(const uint8_t *p, size_t len, enum cxd_l3 *l3)
{
	size_t off = ETH_HDR_BYTES;
	uint16_t type;
	int i;

	if (len < ETH_HDR_BYTES)
		return -ENODATA;
	type = cx_get_be16(p + 12);
	for (i = 0; i < VLAN_MAX_TAGS; i++) {
		if (type != ETHERTYPE_VLAN && type != ETHERTYPE_QINQ)
			break;
		/* TCI then the inner type. */
		if (VLAN_TAG_BYTES > len - off)
			return -ENODATA;
		type = cx_get_be16(p + off + 2);
		off += VLAN_TAG_BYTES;
	}
	return by_ethertype(type, off, l3);
}

int cxd_link_decode(uint32_t linktype, const uint8_t *p, size_t len,
		    enum cxd_l3 *l3)
{
	if (!p || !l3)
		return -EINVAL;
	switch (linktype) {
	case CXD_LINKTYPE_ETHERNET:
		return ethernet(p, len, l3);
	case CXD_LINKTYPE_RAW:
		if (len < 1)
			return -ENODATA;
		*l3 = p[0] >> 4 == 4 ? CXD_L3_IPV4 :
		      p[0] >> 4 == 6 ? CXD_L3_IPV6 : CXD_L3_OTHER;
		return 0;
	case CXD_LINKTYPE_LINUX_SLL:
		if (len < SLL_HDR_BYTES)
			return -ENODATA;
		return by_ethertype(cx_get_be16(p + 14), SLL_HDR_BYTES, l3);
	case CXD_LINKTYPE_LINUX_SLL2:
		if (len < SLL2_HDR_BYTES)
			return -ENODATA;
		return by_ethertype(cx_get_be16(p), SLL2_HDR_BYTES, l3);
	default:
		return -ENOENT;
	}
}
