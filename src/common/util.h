/* util: small pure helpers shared by every module (identifiers, numbers). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAC_LEN 6
#define GUID_LEN 16
#define MAC_STR_LEN 18  /* "aa:bb:cc:dd:ee:ff" + NUL */
#define GUID_STR_LEN 37 /* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" + NUL */

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Parse a MAC in the usual notations: aa:bb:cc:dd:ee:ff, aa-bb-cc-dd-ee-ff,
 * aabb.ccdd.eeff and aabbccddeeff (any case).  0 or -EINVAL. */
int mac_parse(const char *s, uint8_t mac[MAC_LEN]);
/* Lower-case colon form. */
void mac_format(const uint8_t mac[MAC_LEN], char out[MAC_STR_LEN]);

/* SMBIOS GUID as text, 8-4-4-4-12 hex digits (any case, optional braces).
 * The 16 bytes are kept in the text's order.  0 or -EINVAL. */
int guid_parse(const char *s, uint8_t guid[GUID_LEN]);
void guid_format(const uint8_t guid[GUID_LEN], char out[GUID_STR_LEN]);

/* Option 97 carries the SMBIOS UUID with its first three fields in
 * little-endian order (PXE spec 2.1, SMBIOS 2.6 §7.2.1); text form shows
 * them big-endian, as dmidecode and QEMU's -smbios uuid= do.  These convert
 * between the wire's 16 bytes and the text-order bytes used everywhere else. */
void guid_from_wire(const uint8_t wire[GUID_LEN], uint8_t guid[GUID_LEN]);
void guid_to_wire(const uint8_t guid[GUID_LEN], uint8_t wire[GUID_LEN]);

/* strtonum-style bounded number parse: the whole string must be a decimal
 * number within [min, max].  0, -EINVAL (not a number) or -ERANGE. */
int parse_uint(const char *s, unsigned long long min, unsigned long long max,
	       unsigned long long *out);

/* Parse a boolean the way INI users write it: yes/no, true/false, on/off,
 * 1/0 (any case).  0 or -EINVAL. */
int parse_bool(const char *s, bool *out);

/* Copy with truncation check: 0, or -ENAMETOOLONG when src does not fit. */
int str_copy(char *dst, size_t dstlen, const char *src);

/* Monotonic clock in milliseconds / microseconds. */
uint64_t now_ms(void);
uint64_t now_us(void);

/* ---- URLs --------------------------------------------------------------- */

struct sockaddr_storage;

/* The authority of a URL naming address a: "192.0.2.1:8080", or an IPv6
 * literal in brackets, "[2001:db8::1]:8080" (RFC 3986 §3.2.2: a ':' in the
 * host would otherwise read as the port separator).  An IPv4-mapped IPv6
 * address is written as the IPv4 address it carries.  port 0 leaves out
 * ":PORT".  Every URL pxed builds with its own address in it goes through
 * here.  The length written, -EAFNOSUPPORT for a family other than
 * AF_INET/AF_INET6, or -ENOBUFS. */
int url_host_format(const struct sockaddr_storage *a, uint16_t port, char *out, size_t len);

/* The authority of a URL to pxed's HTTP side: the [http] Address setting
 * when it names one address (HTTP bound to one address listens there
 * only), else reached, the address the client reached pxed on.  As
 * url_host_format(). */
int url_http_host(const char *http_address, const struct sockaddr_storage *reached,
		  uint16_t port, char *out, size_t len);
