/* A minimal pcap reader for the DHCP tests: classic pcap file header and
 * records, Ethernet + IPv4 + UDP, no libpcap.  Test-only, header-only. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCAP_MAX_UDP 64

struct pcap_udp {
	uint8_t *data; /* exact-size heap copy, so ASan sees any over-read */
	size_t len;
	uint32_t src_ip, dst_ip; /* network order */
	uint16_t sport, dport;   /* host order */
};

struct pcap_capture {
	struct pcap_udp pkt[PCAP_MAX_UDP];
	size_t n;
};

static uint32_t pcap_rd32(const uint8_t *p, int swap)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return swap ? __builtin_bswap32(v) : v;
}

/* 0 on success, -1 on a file that is not what we expect. */
static int pcap_load(const char *path, struct pcap_capture *cap)
{
	FILE *fp = fopen(path, "rb");
	uint8_t gh[24], rh[16], *rec;
	int swap;

	memset(cap, 0, sizeof(*cap));
	if (!fp)
		return -1;
	if (fread(gh, 1, sizeof(gh), fp) != sizeof(gh))
		goto fail;
	if (pcap_rd32(gh, 0) == 0xa1b2c3d4 || pcap_rd32(gh, 0) == 0xa1b23c4d)
		swap = 0;
	else if (pcap_rd32(gh, 1) == 0xa1b2c3d4 || pcap_rd32(gh, 1) == 0xa1b23c4d)
		swap = 1;
	else
		goto fail;
	if (pcap_rd32(gh + 20, swap) != 1) /* LINKTYPE_ETHERNET */
		goto fail;
	while (fread(rh, 1, sizeof(rh), fp) == sizeof(rh)) {
		uint32_t incl = pcap_rd32(rh + 8, swap);
		if (incl > 65536)
			goto fail;
		rec = malloc(incl ? incl : 1);
		if (fread(rec, 1, incl, fp) != incl) {
			free(rec);
			goto fail;
		}
		/* Ethernet II, IPv4, UDP, unfragmented */
		if (incl >= 14 + 20 + 8 && rec[12] == 0x08 && rec[13] == 0x00 &&
		    (rec[14] >> 4) == 4 && rec[14 + 9] == 17) {
			size_t ihl = (size_t)(rec[14] & 0xf) * 4;
			size_t ip_len = (size_t)rec[16] << 8 | rec[17];
			size_t off = 14 + ihl;
			if (ihl >= 20 && ip_len <= incl - 14 && off + 8 <= 14 + ip_len &&
			    cap->n < PCAP_MAX_UDP) {
				size_t ulen = (size_t)rec[off + 4] << 8 | rec[off + 5];
				uint16_t sp = (uint16_t)(rec[off] << 8 | rec[off + 1]);
				uint16_t dp = (uint16_t)(rec[off + 2] << 8 | rec[off + 3]);
				/* DHCP and PXE boot server ports only */
				bool dhcp = sp == 67 || sp == 68 || sp == 4011 ||
					    dp == 67 || dp == 68 || dp == 4011;
				if (dhcp && ulen >= 8 && off + ulen <= 14 + ip_len) {
					struct pcap_udp *u = &cap->pkt[cap->n++];
					u->len = ulen - 8;
					u->data = malloc(u->len ? u->len : 1);
					memcpy(u->data, rec + off + 8, u->len);
					memcpy(&u->src_ip, rec + 14 + 12, 4);
					memcpy(&u->dst_ip, rec + 14 + 16, 4);
					u->sport = (uint16_t)(rec[off] << 8 | rec[off + 1]);
					u->dport = (uint16_t)(rec[off + 2] << 8 | rec[off + 3]);
				}
			}
		}
		free(rec);
	}
	fclose(fp);
	return 0;
fail:
	fclose(fp);
	return -1;
}

static void pcap_free(struct pcap_capture *cap)
{
	for (size_t i = 0; i < cap->n; i++)
		free(cap->pkt[i].data);
	cap->n = 0;
}
