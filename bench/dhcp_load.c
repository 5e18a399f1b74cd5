/* dhcp_load: PXE DHCPDISCOVERs with a fixed number outstanding, for
 * bench/dhcp_bench.sh and tests/integration/dhcp_storm.sh.
 *
 *   dhcp_load -i IFACE [-o OUTSTANDING] [-n REQUESTS] [-s FIRST] [-k KEYS]
 *             [-a ARCH] [-t TIMEOUT_MS] [-d DEADLINE_S] [-g] [-S ADDR] [-p PORT]
 *
 * Request i (0..n-1) is a DISCOVER from machine s + (i mod k) (k 0 = all
 * distinct): MAC 52:54:XX:XX:XX:XX and SMBIOS GUID (option 97) both derived
 * from the machine number, as bench/dhcp_bench.sh seeds them into pxed's
 * database; option 60 "PXEClient:Arch:0000A:UNDI:002001", option 93 ARCH,
 * secs 4.  Sent as firmware sends it: from 0.0.0.0:68 to 255.255.255.255:67
 * out of IFACE (or unicast to -S ADDR), the answer expected by broadcast
 * (or unicast) to port 68.  Every request is a new xid; one that has no
 * OFFER after TIMEOUT_MS (2000) is counted lost and not retried (a PXE ROM
 * would retry after 4 s, which is the point of counting it).  As soon as a
 * request is answered or lost the next one is sent, so exactly
 * OUTSTANDING (1) are in flight until the end.
 *
 * One line on stdout:
 *   sent=N answered=N lost=N late=N rate=R p50_ms=X p99_ms=X max_ms=X wall_s=X
 * rate = answers per second from the first send to the last answer; late =
 * answers that came after their request had been counted lost.  Exit 0
 * when every request was answered, 1 when some were lost, 2 on errors. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DHCP_MAGIC 0x63825363u
#define RX_BATCH 64

struct req {
	uint64_t sent_ns;
	uint64_t lat_ns;
	uint8_t state;            /* 0 unsent, 1 in flight, 2 answered, 3 lost */
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: dhcp_load -i IFACE [-o OUTSTANDING] [-n REQUESTS] [-s FIRST] [-k KEYS]\n"
		"                 [-a ARCH] [-t TIMEOUT_MS] [-d DEADLINE_S] [-S ADDR] [-p PORT]\n"
		"  PXE DISCOVERs with OUTSTANDING in flight; machine FIRST + (i mod KEYS)\n"
		"  (KEYS 0 = every request a new machine); prints answers/s, p50/p99, lost.\n");
}

/* Machine m's MAC and GUID; dhcp_bench.sh and dhcp_storm.sh seed the same. */
static void machine_ids(uint32_t m, uint8_t mac[6], uint8_t guid[16])
{
	mac[0] = 0x52;
	mac[1] = 0x54;
	mac[2] = (uint8_t)(m >> 24);
	mac[3] = (uint8_t)(m >> 16);
	mac[4] = (uint8_t)(m >> 8);
	mac[5] = (uint8_t)m;
	/* 8a3c9e1f-0000-4c1d-9a5e-0000MMMMMMMM in text; option 97 carries
	 * the first three fields little-endian (SMBIOS byte order, util.h). */
	static const uint8_t base[16] = { 0x1f, 0x9e, 0x3c, 0x8a, 0x00, 0x00, 0x1d, 0x4c,
					  0x9a, 0x5e, 0x00, 0x00, 0, 0, 0, 0 };
	memcpy(guid, base, 16);
	guid[12] = (uint8_t)(m >> 24);
	guid[13] = (uint8_t)(m >> 16);
	guid[14] = (uint8_t)(m >> 8);
	guid[15] = (uint8_t)m;
}

static size_t build_discover(uint8_t *p, uint32_t xid, uint32_t m, uint16_t arch)
{
	static const char vc[] = "PXEClient:Arch:00000:UNDI:002001";
	uint8_t mac[6], guid[16];
	size_t o = 240;

	machine_ids(m, mac, guid);
	memset(p, 0, 548);
	p[0] = 1;          /* BOOTREQUEST */
	p[1] = 1;          /* ethernet */
	p[2] = 6;
	memcpy(p + 4, &(uint32_t){ htonl(xid) }, 4);
	p[9] = 4;          /* secs: past any ResponseDelay of a few seconds */
	p[10] = 0x80;      /* broadcast flag, as PXE ROMs set it */
	memcpy(p + 28, mac, 6);
	memcpy(p + 236, &(uint32_t){ htonl(DHCP_MAGIC) }, 4);
	p[o++] = 53; p[o++] = 1; p[o++] = 1;                     /* DISCOVER */
	p[o++] = 57; p[o++] = 2; p[o++] = 0x04; p[o++] = 0xec;   /* max size 1260 */
	p[o++] = 93; p[o++] = 2; p[o++] = (uint8_t)(arch >> 8); p[o++] = (uint8_t)arch;
	p[o++] = 94; p[o++] = 3; p[o++] = 1; p[o++] = 2; p[o++] = 1;
	p[o++] = 97; p[o++] = 17; p[o++] = 0;
	memcpy(p + o, guid, 16); o += 16;
	p[o++] = 60; p[o++] = (uint8_t)(sizeof(vc) - 1);
	memcpy(p + o, vc, sizeof(vc) - 1);
	/* the arch digits of the vendor class follow option 93 */
	snprintf((char *)p + o + 15, 6, "%05u", (unsigned)arch);
	p[o + 20] = ':';
	o += sizeof(vc) - 1;
	p[o++] = 55; p[o++] = 4; p[o++] = 1; p[o++] = 43; p[o++] = 60; p[o++] = 66;
	p[o++] = 255;
	return o < 300 ? 300 : o;  /* BOOTP minimum, as firmware pads */
}

/* The xid of an OFFER, or -1 for anything else. */
static int64_t offer_xid(const uint8_t *p, size_t len)
{
	uint32_t magic, xid;
	size_t o = 240;

	if (len < 240 || p[0] != 2)
		return -1;
	memcpy(&magic, p + 236, 4);
	if (ntohl(magic) != DHCP_MAGIC)
		return -1;
	while (o < len && p[o] != 255) {
		if (p[o] == 0) {
			o++;
			continue;
		}
		if (o + 2 > len || o + 2 + p[o + 1] > len)
			return -1;
		if (p[o] == 53 && p[o + 1] == 1) {
			if (p[o + 2] != 2)
				return -1;
			memcpy(&xid, p + 4, 4);
			return ntohl(xid);
		}
		o += 2u + p[o + 1];
	}
	return -1;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	const char *iface = NULL, *server = NULL;
	unsigned long outstanding = 1, n = 1000, first = 0, keys = 0, timeout_ms = 2000;
	unsigned long deadline_s = 120, port = 67, arch = 0;
	int c, fd, one = 1;

	while ((c = getopt(argc, argv, "i:o:n:s:k:a:t:d:S:p:h")) != -1) {
		switch (c) {
		case 'i': iface = optarg; break;
		case 'o': outstanding = strtoul(optarg, NULL, 10); break;
		case 'n': n = strtoul(optarg, NULL, 10); break;
		case 's': first = strtoul(optarg, NULL, 10); break;
		case 'k': keys = strtoul(optarg, NULL, 10); break;
		case 'a': arch = strtoul(optarg, NULL, 10); break;
		case 't': timeout_ms = strtoul(optarg, NULL, 10); break;
		case 'd': deadline_s = strtoul(optarg, NULL, 10); break;
		case 'S': server = optarg; break;
		case 'p': port = strtoul(optarg, NULL, 10); break;
		default: usage(); return c == 'h' ? 0 : 2;
		}
	}
	if (!iface || outstanding < 1 || outstanding > 65536 || n < 1 || n > 50000000 ||
	    arch > 0xffff || port < 1 || port > 0xffff || timeout_ms < 1) {
		usage();
		return 2;
	}

	struct sockaddr_in me = { .sin_family = AF_INET, .sin_port = htons(68) };
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_BROADCAST) };
	if (server && inet_pton(AF_INET, server, &to.sin_addr) != 1) {
		fprintf(stderr, "dhcp_load: bad address %s\n", server);
		return 2;
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int rcvbuf = 8 << 20;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, iface, (socklen_t)strlen(iface)) < 0 ||
	    bind(fd, (struct sockaddr *)&me, sizeof(me)) < 0) {
		fprintf(stderr, "dhcp_load: socket on %s port 68: %s\n", iface, strerror(errno));
		return 2;
	}
	/* Our own losses must not count as the server's. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));

	struct req *rq = calloc(n, sizeof(*rq));
	uint32_t *fifo = calloc(n, sizeof(*fifo)); /* in-flight, in send order */
	uint64_t *lat = calloc(n, sizeof(*lat));
	if (!rq || !fifo || !lat) {
		fprintf(stderr, "dhcp_load: out of memory\n");
		return 2;
	}
	unsigned long next = 0, head = 0, tail = 0, inflight = 0;
	unsigned long answered = 0, lost = 0, late = 0;
	uint64_t t0 = now_ns(), tlast = t0, tmo = (uint64_t)timeout_ms * 1000000u;
	uint64_t end = t0 + (uint64_t)deadline_s * 1000000000u;
	uint8_t pkt[548];

	while (next < n || inflight) {
		uint64_t now = now_ns();
		if (now > end)
			break;
		while (inflight < outstanding && next < n) {
			uint32_t m = (uint32_t)(first + (keys ? next % keys : next));
			size_t len = build_discover(pkt, (uint32_t)next, m, (uint16_t)arch);
			if (sendto(fd, pkt, len, 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
				if (errno == EAGAIN || errno == ENOBUFS)
					break; /* our own queue is full: poll, then go on */
				fprintf(stderr, "dhcp_load: sendto: %s\n", strerror(errno));
				return 2;
			}
			rq[next].sent_ns = now_ns();
			rq[next].state = 1;
			fifo[tail++] = (uint32_t)next;
			next++;
			inflight++;
		}
		/* Expire the oldest first: they were sent first. */
		now = now_ns();
		while (head < tail) {
			struct req *r = &rq[fifo[head]];
			if (r->state == 1 && now - r->sent_ns < tmo)
				break;
			if (r->state == 1) {
				r->state = 3;
				lost++;
				inflight--;
			}
			head++;
		}
		int wait_ms = 1;
		if (head < tail) {
			uint64_t due = rq[fifo[head]].sent_ns + tmo;
			wait_ms = due > now ? (int)((due - now) / 1000000u) + 1 : 0;
		}
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		if (inflight >= outstanding || next >= n) {
			if (poll(&pfd, 1, wait_ms > 100 ? 100 : wait_ms) < 0 && errno != EINTR)
				return 2;
		}
		for (int b = 0; b < RX_BATCH; b++) {
			ssize_t len = recv(fd, pkt, sizeof(pkt), 0);
			if (len < 0)
				break;
			int64_t x = offer_xid(pkt, (size_t)len);
			if (x < 0 || (uint64_t)x >= next)
				continue;
			struct req *r = &rq[x];
			if (r->state == 3) {
				late++;
				r->state = 4;
			}
			if (r->state != 1)
				continue;
			r->state = 2;
			tlast = now_ns();
			r->lat_ns = tlast - r->sent_ns;
			lat[answered++] = r->lat_ns;
			inflight--;
		}
	}
	lost += inflight; /* still in flight at the deadline */
	qsort(lat, answered, sizeof(*lat), cmp_u64);
	double wall = (double)(tlast - t0) / 1e9;
	double p50 = answered ? (double)lat[(answered - 1) / 2] / 1e6 : 0;
	double p99 = answered ? (double)lat[(size_t)((answered - 1) * 0.99)] / 1e6 : 0;
	double mx = answered ? (double)lat[answered - 1] / 1e6 : 0;
	printf("sent=%lu answered=%lu lost=%lu late=%lu rate=%.0f p50_ms=%.3f p99_ms=%.3f "
	       "max_ms=%.3f wall_s=%.3f\n", next, answered, lost, late,
	       wall > 0 ? (double)answered / wall : 0, p50, p99, mx, wall);
	free(rq);
	free(fifo);
	free(lat);
	close(fd);
	return lost ? 1 : 0;
}
