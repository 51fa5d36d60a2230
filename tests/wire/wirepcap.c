/*
 * cx-wirepcap: writes a pcap (LINKTYPE_RAW) of TCP packets carrying ConEx
 * markings built by libconex: IPv6 packets with the CDO inserted by
 * cx_cdo_insert() (with and without a Hop-by-Hop header in front), and IPv4
 * packets encoded by cx_ipv4id_apply(), including the ID+i that segmentation
 * offload writes into later segments. For each frame it prints one line
 *
 *     <frame> <4|6> <bits hex> <tcp sport> <tcp payload bytes> <hbh 0|1>
 *
 * so that tests/pytest/test_wire.py can hold tshark's decoding against what
 * was meant. Checksums are computed with libconex too; tshark verifies them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <conex/byteorder.h>
#include <conex/cdo.h>
#include <conex/csum.h>
#include <conex/ipv4id.h>
#include <conex/signal.h>

#define PAYLOAD_BYTES 100
#define TCP_HDR_BYTES 32	/* 20 + NOP NOP Timestamps */
#define LINKTYPE_RAW 101

static const uint8_t src6[16] = { 0x20, 0x01, 0x00, 0x02, 0, 0, 0, 1,
				  0, 0, 0, 0, 0, 0, 0, 0x10 };
static const uint8_t dst6[16] = { 0x20, 0x01, 0x00, 0x02, 0, 0, 0, 2,
				  0, 0, 0, 0, 0, 0, 0, 0x10 };
static const uint8_t src4[4] = { 198, 18, 1, 10 };
static const uint8_t dst4[4] = { 198, 18, 2, 10 };

static const uint8_t signal_sets[] = {
	CX_SIG_X,
	CX_SIG_X | CX_SIG_L,
	CX_SIG_X | CX_SIG_E,
	CX_SIG_X | CX_SIG_C,
	CX_SIG_X | CX_SIG_L | CX_SIG_E,
	CX_SIG_X | CX_SIG_L | CX_SIG_C,
	CX_SIG_X | CX_SIG_L | CX_SIG_E | CX_SIG_C,
};

/* TCP header with timestamps and a payload at p; checksum left zero. */
static size_t put_tcp(uint8_t *p, uint16_t sport, uint32_t seq)
{
	memset(p, 0, TCP_HDR_BYTES + PAYLOAD_BYTES);
	cx_put_be16(p, sport);
	cx_put_be16(p + 2, 5201);
	cx_put_be32(p + 4, seq);
	cx_put_be32(p + 8, 1);
	p[12] = (TCP_HDR_BYTES / 4) << 4;
	p[13] = 0x18;				/* PSH, ACK */
	cx_put_be16(p + 14, 512);
	p[20] = 1;				/* NOP */
	p[21] = 1;				/* NOP */
	p[22] = 8;				/* Timestamps, RFC 7323 §3 */
	p[23] = 10;
	cx_put_be32(p + 24, 1000 + seq);
	cx_put_be32(p + 28, 999);
	for (size_t i = 0; i < PAYLOAD_BYTES; i++)
		p[TCP_HDR_BYTES + i] = (uint8_t)('a' + i % 26);
	return TCP_HDR_BYTES + PAYLOAD_BYTES;
}

static void tcp_csum(uint8_t *tcp, size_t l4_bytes, uint32_t pseudo)
{
	cx_put_be16(tcp + 16, cx_csum_finish(cx_csum_partial(tcp, l4_bytes,
							      pseudo)));
}

/* IPv6 + optional Hop-by-Hop (PadN only) + TCP, then the CDO inserted. */
static int build6(uint8_t *buf, size_t cap, uint8_t bits, int hbh,
		  uint16_t sport)
{
	size_t l3 = 40 + (hbh ? 8 : 0);
	size_t l4 = put_tcp(buf + l3, sport, 100);
	int n;

	memset(buf, 0, l3);
	buf[0] = 0x60;
	buf[1] = 0x20;				/* ECT(0) in the Traffic Class */
	cx_put_be16(buf + 4, (uint16_t)(l3 - 40 + l4));
	buf[6] = hbh ? 0 : 6;
	buf[7] = 64;
	memcpy(buf + 8, src6, 16);
	memcpy(buf + 24, dst6, 16);
	if (hbh) {
		buf[40] = 6;			/* Next Header: TCP */
		buf[41] = 0;			/* 8 octets */
		buf[42] = 1;			/* PadN, 4 octets of data */
		buf[43] = 4;
	}
	tcp_csum(buf + l3, l4, cx_csum_pseudo6(src6, dst6, 6, (uint32_t)l4));
	n = cx_cdo_insert(buf, l3 + l4, cap, bits);
	if (n < 0)
		fprintf(stderr, "cx-wirepcap: cx_cdo_insert: %s\n", strerror(-n));
	return n;
}

/* IPv4 + TCP, ID = id0 (as TSO leaves it), then the ConEx encoding. */
static int build4(uint8_t *buf, size_t cap, uint8_t bits, uint16_t sport,
		  uint16_t low12)
{
	size_t l4;
	uint16_t delta;
	int ret;

	if (cap < 20 + TCP_HDR_BYTES + PAYLOAD_BYTES)
		return -ENOSPC;
	l4 = put_tcp(buf + 20, sport, 100);
	memset(buf, 0, 20);
	buf[0] = 0x45;
	buf[1] = 0x02;				/* ECT(0) */
	cx_put_be16(buf + 2, (uint16_t)(20 + l4));
	cx_put_be16(buf + 4, 0x1234);
	buf[8] = 64;
	buf[9] = 6;
	memcpy(buf + 12, src4, 4);
	memcpy(buf + 16, dst4, 4);
	cx_put_be16(buf + 10, (uint16_t)cx_csum_ipv4_compute(buf, 20));
	tcp_csum(buf + 20, l4, cx_csum_pseudo4(src4, dst4, 6, (uint16_t)l4));
	ret = cx_ipv4id_apply(buf, 20, bits, &delta);
	if (ret < 0) {
		fprintf(stderr, "cx-wirepcap: cx_ipv4id_apply: %s\n",
			strerror(-ret));
		return ret;
	}
	if (low12) {
		/* Segment i of a TSO burst: the NIC/GSO writes ID + i. */
		uint16_t old = cx_get_be16(buf + 4);
		uint16_t id = (uint16_t)((old & 0xf000) | (low12 & 0x0fff));

		cx_put_be16(buf + 4, id);
		cx_put_be16(buf + 10, cx_csum_update16(cx_get_be16(buf + 10),
						       old, id));
	}
	return (int)(20 + l4);
}

static int put_record(FILE *f, const uint8_t *p, size_t len, uint32_t n)
{
	uint8_t rec[16];

	cx_put_le32(rec, 1700000000U + n);	/* ts_sec */
	cx_put_le32(rec + 4, 0);		/* ts_usec */
	cx_put_le32(rec + 8, (uint32_t)len);
	cx_put_le32(rec + 12, (uint32_t)len);
	return fwrite(rec, 1, 16, f) == 16 && fwrite(p, 1, len, f) == len ?
	       0 : -EIO;
}

int main(int argc, char **argv)
{
	uint8_t hdr[24], buf[2048];
	uint32_t frame = 0;
	FILE *f;
	int n;

	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: cx-wirepcap FILE.pcap\n"
			"Writes ConEx-marked IPv6 (CDO) and IPv4 (ID reuse) TCP "
			"packets built by libconex,\nand prints what each frame "
			"should decode to.\n");
		return 2;
	}
	f = fopen(argv[1], "wb");
	if (!f) {
		perror(argv[1]);
		return 1;
	}
	/* pcap global header, microsecond resolution, little-endian. */
	cx_put_le32(hdr, 0xa1b2c3d4U);
	hdr[4] = 2, hdr[5] = 0, hdr[6] = 4, hdr[7] = 0;
	memset(hdr + 8, 0, 8);
	cx_put_le32(hdr + 16, 65535);
	cx_put_le32(hdr + 20, LINKTYPE_RAW);
	if (fwrite(hdr, 1, sizeof(hdr), f) != sizeof(hdr))
		goto err_write;

	for (int hbh = 0; hbh <= 1; hbh++) {
		for (size_t i = 0; i < sizeof(signal_sets); i++) {
			uint16_t sport = (uint16_t)(40000 + frame);

			n = build6(buf, sizeof(buf), signal_sets[i], hbh, sport);
			if (n < 0)
				goto err_build;
			if (put_record(f, buf, (size_t)n, ++frame) < 0)
				goto err_write;
			printf("%u 6 %02x %u %d %d\n", frame, signal_sets[i],
			       sport, PAYLOAD_BYTES, hbh);
		}
	}
	for (uint16_t low12 = 0; low12 <= 0x0fff; low12 += 0x0fff) {
		for (size_t i = 0; i < sizeof(signal_sets); i++) {
			uint16_t sport = (uint16_t)(40000 + frame);

			n = build4(buf, sizeof(buf), signal_sets[i], sport, low12);
			if (n < 0)
				goto err_build;
			if (put_record(f, buf, (size_t)n, ++frame) < 0)
				goto err_write;
			printf("%u 4 %02x %u %d 0\n", frame, signal_sets[i],
			       sport, PAYLOAD_BYTES);
		}
	}
	if (fclose(f) != 0) {
		perror(argv[1]);
		return 1;
	}
	return 0;

err_write:
	perror(argv[1]);
	fclose(f);
	return 1;
err_build:
	fclose(f);
	return 1;
}
