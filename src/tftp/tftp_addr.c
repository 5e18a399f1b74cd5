#include "tftp/tftp_addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"

int tftp_addr_set(struct tftp_addr *out, const struct sockaddr *sa, socklen_t len)
{
	memset(out, 0, sizeof(*out));
	if (len < sizeof(sa_family_t))
		return -EAFNOSUPPORT;
	if ((sa->sa_family == AF_INET && len != sizeof(struct sockaddr_in)) ||
	    (sa->sa_family == AF_INET6 && len != sizeof(struct sockaddr_in6)) ||
	    (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
		return -EAFNOSUPPORT;
	memcpy(&out->ss, sa, len);
	out->len = len;
	return 0;
}

void tftp_addr_format(const struct tftp_addr *a, char *out, size_t outlen)
{
	/* The one way pxed writes an address and port (IPv6 in brackets). */
	if (url_host_format(&a->ss, tftp_addr_port(a), out, outlen) < 0)
		snprintf(out, outlen, "(address family %u)", (unsigned)a->ss.ss_family);
}

uint16_t tftp_addr_port(const struct tftp_addr *a)
{
	if (a->ss.ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
	if (a->ss.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
	return 0;
}

bool tftp_addr_same_host(const struct tftp_addr *a, const struct tftp_addr *b)
{
	if (a->ss.ss_family != b->ss.ss_family)
		return false;
	if (a->ss.ss_family == AF_INET)
		return ((const struct sockaddr_in *)&a->ss)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)&b->ss)->sin_addr.s_addr;
	if (a->ss.ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)&a->ss)->sin6_addr,
			      &((const struct sockaddr_in6 *)&b->ss)->sin6_addr,
			      sizeof(struct in6_addr)) == 0;
	return false;
}

bool tftp_addr_equal(const struct tftp_addr *a, const struct tftp_addr *b)
{
	return tftp_addr_same_host(a, b) && tftp_addr_port(a) == tftp_addr_port(b);
}
