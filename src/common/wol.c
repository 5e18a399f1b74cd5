#include "common/wol.h"

#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void wol_build(const uint8_t mac[MAC_LEN], uint8_t out[WOL_PACKET_LEN])
{
	memset(out, 0xff, 6);
	for (int i = 0; i < 16; i++)
		memcpy(out + 6 + i * MAC_LEN, mac, MAC_LEN);
}

static bool listed(const char *list, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = list; (p = strstr(p, name)); p += n)
		if ((p == list || strchr(", \t", p[-1])) && (p[n] == '\0' || strchr(", \t", p[n])))
			return true;
	return false;
}

int wol_send(const char *ifaces, const uint8_t mac[MAC_LEN], char *sent_on, size_t len)
{
	uint8_t pkt[WOL_PACKET_LEN];
	struct ifaddrs *ifa, *i;
	int fd, one = 1, sent = 0, err = 0;
	size_t pos = 0;

	if (sent_on && len)
		sent_on[0] = '\0';
	wol_build(mac, pkt);
	if (getifaddrs(&ifa) < 0)
		return -errno;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one)) < 0) {
		err = -errno;
		goto out;
	}
	for (i = ifa; i; i = i->ifa_next) {
		struct sockaddr_in to;
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !(i->ifa_flags & IFF_UP) ||
		    !(i->ifa_flags & IFF_BROADCAST) || (i->ifa_flags & IFF_LOOPBACK) ||
		    !i->ifa_broadaddr)
			continue;
		if (ifaces && *ifaces && !listed(ifaces, i->ifa_name))
			continue;
		memcpy(&to, i->ifa_broadaddr, sizeof(to));
		to.sin_port = htons(WOL_PORT);
		if (sendto(fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
			err = -errno;
			continue;
		}
		sent++;
		if (sent_on && pos + strlen(i->ifa_name) + 2 < len)
			pos += (size_t)snprintf(sent_on + pos, len - pos, "%s%s", pos ? "," : "",
						i->ifa_name);
	}
out:
	if (fd >= 0)
		close(fd);
	freeifaddrs(ifa);
	return sent ? sent : err;
}
