/* tftp_packet: pure parse and build of TFTP packets (RFC 1350) with the
 * option extension (RFC 2347) and the blksize (RFC 2348), timeout and tsize
 * (RFC 2349) and windowsize (RFC 7440) options.  No sockets, no globals, no
 * allocation: parsed strings point into the caller's buffer, and are
 * guaranteed NUL-terminated inside it. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum tftp_opcode {
	TFTP_RRQ = 1,
	TFTP_WRQ = 2,
	TFTP_DATA = 3,
	TFTP_ACK = 4,
	TFTP_ERROR = 5,
	TFTP_OACK = 6, /* RFC 2347 */
};

/* RFC 1350 §5 error codes, plus RFC 2347's 8. */
enum tftp_error {
	TFTP_ERR_UNDEF = 0,
	TFTP_ERR_NOT_FOUND = 1,
	TFTP_ERR_ACCESS = 2,
	TFTP_ERR_DISK_FULL = 3,
	TFTP_ERR_ILLEGAL_OP = 4,
	TFTP_ERR_UNKNOWN_TID = 5,
	TFTP_ERR_EXISTS = 6,
	TFTP_ERR_NO_USER = 7,
	TFTP_ERR_OPTION = 8,
};

enum tftp_mode { TFTP_MODE_NETASCII, TFTP_MODE_OCTET };

#define TFTP_HDR_LEN 4          /* opcode + block number */
#define TFTP_DEFAULT_BLKSIZE 512 /* RFC 1350 */
#define TFTP_BLKSIZE_MIN 8      /* RFC 2348 */
#define TFTP_BLKSIZE_MAX 65464  /* RFC 2348 */
#define TFTP_TIMEOUT_MIN 1      /* RFC 2349 §"Timeout Interval Option" */
#define TFTP_TIMEOUT_MAX 255
#define TFTP_WINDOWSIZE_MIN 1   /* RFC 7440 §3 */
#define TFTP_WINDOWSIZE_MAX 65535
/* Options kept from one request; more is refused as malformed.  RFC 2347
 * defines four options in use; 16 leaves room for vendor ones (e.g.
 * "multicast", "rollover", "utimeout") without letting a packet make us
 * walk an unbounded list. */
#define TFTP_MAX_OPTIONS 16

struct tftp_option {
	const char *name;  /* NUL-terminated, inside the packet */
	const char *value; /* NUL-terminated, inside the packet */
};

struct tftp_packet {
	uint16_t opcode;
	/* RRQ/WRQ */
	const char *filename;
	size_t filename_len;
	enum tftp_mode mode;
	/* RRQ/WRQ/OACK options in packet order */
	struct tftp_option opts[TFTP_MAX_OPTIONS];
	size_t n_opts;
	/* DATA/ACK */
	uint16_t block;
	const uint8_t *data;
	size_t data_len;
	/* ERROR */
	uint16_t error_code;
	const char *error_msg; /* NUL-terminated, or "" when the peer sent none */
};

/* Parse one datagram.  Returns 0, or:
 *   -EBADMSG      truncated or malformed (missing NUL, odd option list, ...)
 *   -EOPNOTSUPP   unknown opcode
 *   -EPROTONOSUPPORT  RRQ/WRQ with a mode other than netascii/octet
 *                 ("mail" is obsolete, RFC 1350 §1); out->filename is set
 *   -E2BIG        more than TFTP_MAX_OPTIONS options
 * On error *out may be partly filled. */
int tftp_parse(const uint8_t *buf, size_t len, struct tftp_packet *out);

/* The options of a request as pxed understands them.
 *
 * Unknown options are ignored (left out of the OACK), as RFC 2347 requires
 * ("must not cause an ERROR packet"); they are counted in n_ignored.
 * A known option with a value its RFC does not allow is a malformed
 * request: *invalid names it and the server refuses with ERROR 8 (RFC
 * 2347's "terminate transfer due to option negotiation"), so the client
 * learns what it did wrong instead of silently getting the defaults.  The
 * ranges: blksize 8..65464 (RFC 2348), timeout 1..255 (RFC 2349), tsize 0
 * in a RRQ (RFC 2349: "a size of 0 is specified in the request"; any number
 * in a WRQ), windowsize 1..65535 (RFC 7440).  A value inside its range but
 * above our limit is not an error: the OACK answers the limit (RFC 2348,
 * RFC 7440).  The first occurrence of a repeated option wins. */
struct tftp_req_opts {
	bool has_blksize, has_timeout, has_tsize, has_windowsize;
	unsigned blksize;    /* RFC 2348: 8..65464 */
	unsigned timeout;    /* RFC 2349: seconds, 1..255 */
	uint64_t tsize;      /* RFC 2349: 0 in a RRQ */
	unsigned windowsize; /* RFC 7440: 1..65535 */
	unsigned n_ignored;  /* unknown options and repeats */
	const char *invalid; /* the first known option with a bad value, or NULL */
};
void tftp_parse_options(const struct tftp_packet *req, struct tftp_req_opts *out);

/* Builders: write into buf (buflen bytes), return the packet length, or
 * -ENOBUFS when it does not fit (never truncate). */
int tftp_build_ack(uint8_t *buf, size_t buflen, uint16_t block);
/* data may point at buf + TFTP_HDR_LEN (read in place): then no copy. */
int tftp_build_data(uint8_t *buf, size_t buflen, uint16_t block,
		    const void *data, size_t len);
int tftp_build_error(uint8_t *buf, size_t buflen, uint16_t code, const char *msg);
int tftp_build_oack(uint8_t *buf, size_t buflen, const struct tftp_option *opts, size_t n);
/* RRQ/WRQ, for tests and tools. */
int tftp_build_request(uint8_t *buf, size_t buflen, uint16_t opcode, const char *filename,
		       const char *mode, const struct tftp_option *opts, size_t n);

/* netascii (RFC 1350 §1: ASCII with the Telnet modifications, i.e. the
 * NVT end-of-line rules of RFC 764): LF -> CR LF, CR -> CR NUL.  Converts from in into out until out is full
 * or in is used up; *in_used gets the input bytes consumed.  *pending is
 * the second byte of a pair that did not fit in out (-1 for none); it is
 * emitted first on the next call, so a pair can straddle two blocks.
 * Returns the bytes written to out. */
size_t tftp_netascii_encode(const uint8_t *in, size_t in_len, size_t *in_used,
			    uint8_t *out, size_t out_len, int *pending);

const char *tftp_opcode_name(uint16_t opcode);
