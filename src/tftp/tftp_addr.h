/* tftp_addr: a peer's or a local address, of any family.
 *
 * Transfers, admission and the sockets hold addresses as this pair, not
 * as sockaddr_in, so that another family (IPv6) needs changes only where
 * sockets are opened and where a family's control messages are read or
 * written.  Every address that reaches a log line goes through
 * tftp_addr_format(). */
#pragma once
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct tftp_addr {
	struct sockaddr_storage ss;
	socklen_t len;             /* of the family's sockaddr; 0 = none */
};

/* "192.0.2.1:1234" or "[2001:db8::1]:1234". */
#define TFTP_ADDR_STRLEN (INET6_ADDRSTRLEN + 8)

/* Copy an address the kernel gave (recvmsg): 0, or -EAFNOSUPPORT for a
 * family other than IPv4 and IPv6 or a length that does not match it. */
int tftp_addr_set(struct tftp_addr *out, const struct sockaddr *sa, socklen_t len);
/* The address and port, for logs; always NUL-terminated. */
void tftp_addr_format(const struct tftp_addr *a, char *out, size_t outlen);
/* The port, host order (0 for an unknown family). */
uint16_t tftp_addr_port(const struct tftp_addr *a);
/* Same host (family and address), ports not compared. */
bool tftp_addr_same_host(const struct tftp_addr *a, const struct tftp_addr *b);
/* Same host and port: the same TFTP TID (RFC 1350 §4). */
bool tftp_addr_equal(const struct tftp_addr *a, const struct tftp_addr *b);
