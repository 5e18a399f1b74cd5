/* dhcp_packet: the DHCP/BOOTP wire format, parsed and built as pure
 * functions (bytes in, struct out; struct in, bytes out).  No sockets, no
 * globals, no allocation: the parser copies what it interprets into a
 * fixed-size struct, so nothing points back into the datagram.
 *
 * Wire format: RFC 2131 §2 (fixed header, 236 bytes), RFC 2131 §3 and
 * RFC 2132 §2 (magic cookie 99.130.83.99, then TLV options), RFC 2132 §9.3
 * (option overload), RFC 3396 (a long option split into several instances
 * is concatenated), RFC 4578 (PXE options 93, 94, 97). */
#pragma once
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DHCP_FIXED_LEN   236 /* op .. file, RFC 2131 §2 */
#define DHCP_COOKIE_LEN  4
#define DHCP_MIN_LEN     (DHCP_FIXED_LEN + DHCP_COOKIE_LEN)
/* RFC 2131 §2: a client must accept 576-byte messages, i.e. 312 bytes of
 * options; BOOTP relays and old PXE ROMs expect at least 300 bytes. */
#define DHCP_MIN_REPLY_LEN 300
#define DHCP_MAX_LEN     1500
#define DHCP_SNAME_LEN   64
#define DHCP_FILE_LEN    128
#define DHCP_CHADDR_LEN  16

#define BOOTREQUEST 1
#define BOOTREPLY   2
#define DHCP_HTYPE_ETHER 1
#define DHCP_FLAG_BROADCAST 0x8000

/* RFC 2132 §9.6 message types */
enum dhcp_msg_type {
	DHCPDISCOVER = 1,
	DHCPOFFER = 2,
	DHCPREQUEST = 3,
	DHCPDECLINE = 4,
	DHCPACK = 5,
	DHCPNAK = 6,
	DHCPRELEASE = 7,
	DHCPINFORM = 8,
};

/* Option codes pxed reads or writes. */
enum dhcp_option {
	DHCP_OPT_PAD = 0,
	DHCP_OPT_VENDOR = 43,       /* RFC 2132 §8.4; PXE vendor options */
	DHCP_OPT_REQUESTED_IP = 50,
	DHCP_OPT_OVERLOAD = 52,     /* RFC 2132 §9.3 */
	DHCP_OPT_MSG_TYPE = 53,
	DHCP_OPT_SERVER_ID = 54,
	DHCP_OPT_MAX_SIZE = 57,
	DHCP_OPT_VENDOR_CLASS = 60, /* "PXEClient:Arch:xxxxx:UNDI:yyyzzz" */
	DHCP_OPT_CLIENT_ID = 61,
	DHCP_OPT_USER_CLASS = 77,   /* RFC 3004; iPXE sends plain "iPXE" */
	DHCP_OPT_CLIENT_ARCH = 93,  /* RFC 4578 §2.1 */
	DHCP_OPT_CLIENT_NDI = 94,   /* RFC 4578 §2.2 */
	DHCP_OPT_CLIENT_UUID = 97,  /* RFC 4578 §2.3 */
	DHCP_OPT_IPXE_ENCAP = 175,  /* iPXE's encapsulated options */
	DHCP_OPT_END = 255,
};

/* Parse rejections, one code per check so the responder can count them
 * and a log line points at one rule.  All negative. */
enum dhcp_parse_error {
	DHCP_ERR_SHORT = -1,        /* shorter than header + cookie */
	DHCP_ERR_OP = -2,           /* op neither BOOTREQUEST nor BOOTREPLY */
	DHCP_ERR_NOT_REQUEST = -3,  /* op is BOOTREPLY where a request was due */
	DHCP_ERR_HWTYPE = -4,       /* not htype 1 / hlen 6 (Ethernet) */
	DHCP_ERR_COOKIE = -5,       /* no magic cookie: plain BOOTP or junk */
	DHCP_ERR_OPT_TRUNC = -6,    /* option header or value runs past the end */
	DHCP_ERR_NO_END = -7,       /* options field not closed by END */
	DHCP_ERR_OPT_LEN = -8,      /* wrong length for an option we interpret */
	DHCP_ERR_OPT_DUP = -9,      /* fixed-size option repeated */
	DHCP_ERR_OPT_TOO_LONG = -10, /* concatenated option (RFC 3396) over 255 */
	DHCP_ERR_OVERLOAD = -11,    /* bad option 52 value */
	DHCP_ERR_UUID_TYPE = -12,   /* option 97 type byte not 0 */
	DHCP_ERR_NO_MSG_TYPE = -13, /* no option 53 (plain BOOTP) */
	DHCP_ERR_MSG_TYPE = -14,    /* option 53 out of range */
	DHCP_ERR_COUNT_ = 14,       /* number of codes above */
};

/* Short name of a parse error ("short", "cookie", ...), "?" otherwise. */
const char *dhcp_parse_strerror(int err);

/* Fixed header, host byte order for numbers, network order for addresses. */
struct dhcp_header {
	uint8_t op;
	uint8_t htype;
	uint8_t hlen;
	uint8_t hops;
	uint32_t xid;
	uint16_t secs;
	uint16_t flags;
	struct in_addr ciaddr;
	struct in_addr yiaddr;
	struct in_addr siaddr;
	struct in_addr giaddr;
	uint8_t chaddr[DHCP_CHADDR_LEN];
	char sname[DHCP_SNAME_LEN + 1]; /* NUL-terminated; "" when overloaded */
	char file[DHCP_FILE_LEN + 1];   /* NUL-terminated; "" when overloaded */
};

/* A variable-length option, concatenated per RFC 3396 when repeated. */
struct dhcp_blob {
	bool present;
	uint8_t len;
	uint8_t data[255];
};

struct dhcp_msg {
	struct dhcp_header hdr;
	uint8_t msg_type;               /* option 53 */
	uint8_t overload;               /* option 52: 1 file, 2 sname, 3 both */
	bool has_server_id;
	struct in_addr server_id;       /* option 54 */
	bool has_requested_ip;
	struct in_addr requested_ip;    /* option 50 */
	uint16_t max_size;              /* option 57, 0 = absent */
	bool has_arch;
	uint16_t arch;                  /* option 93, first entry */
	uint8_t n_arch;                 /* entries in option 93 */
	bool has_uuid;
	uint8_t uuid_wire[16];          /* option 97 after the type byte, wire order */
	struct dhcp_blob vendor_class;  /* 60 */
	struct dhcp_blob user_class;    /* 77, raw (see dhcp_user_class_has) */
	struct dhcp_blob client_id;     /* 61 */
	struct dhcp_blob vendor_opts;   /* 43 */
	struct dhcp_blob ipxe_encap;    /* 175 */
};

/* Parse a BOOTREQUEST or BOOTREPLY.  0 or a dhcp_parse_error. */
int dhcp_parse(const uint8_t *buf, size_t len, struct dhcp_msg *out);
/* As dhcp_parse, and a DHCP client message: op BOOTREQUEST, option 53
 * present.  What the responder uses. */
int dhcp_parse_request(const uint8_t *buf, size_t len, struct dhcp_msg *out);

/* Whether option 77 names the given user class.  Accepts the RFC 3004
 * form (length-prefixed instances) and the plain string iPXE sends. */
bool dhcp_user_class_has(const struct dhcp_msg *m, const char *name);

/* "DISCOVER", "REQUEST", ... or "UNKNOWN". */
const char *dhcp_msg_type_name(uint8_t type);

/* Builder: fixed header, cookie, options, END, padded to
 * DHCP_MIN_REPLY_LEN.  Every call returns -ENOBUFS rather than truncate,
 * keeping room for END; the buffer is then unusable. */
struct dhcp_builder {
	uint8_t *buf;
	size_t cap;
	size_t len;
	int err; /* first error, sticky */
};

/* Write hdr (sname/file must fit their fields: -ENAMETOOLONG). */
int dhcp_build_start(struct dhcp_builder *b, uint8_t *buf, size_t cap,
		     const struct dhcp_header *hdr);
/* One option; len > 255 is -EINVAL (pxed never needs RFC 3396 splits). */
int dhcp_build_option(struct dhcp_builder *b, uint8_t code, const void *data, size_t len);
/* END and padding; returns the message length or the first error. */
int dhcp_build_finish(struct dhcp_builder *b);
