#include "tftp/tftp_packet.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include "common/util.h"

/* A cursor over the packet: every read checks rem first. */
struct cursor {
	const uint8_t *p;
	size_t rem;
};

static int cur_u16(struct cursor *c, uint16_t *v)
{
	if (c->rem < 2)
		return -EBADMSG;
	*v = (uint16_t)(c->p[0] << 8 | c->p[1]);
	c->p += 2;
	c->rem -= 2;
	return 0;
}

/* A string must end with a NUL inside the packet (RFC 1350 §5: "a
 * string of netascii characters, terminated by a zero byte"). */
static int cur_str(struct cursor *c, const char **s, size_t *len)
{
	const uint8_t *nul = c->rem ? memchr(c->p, 0, c->rem) : NULL;
	if (!nul)
		return -EBADMSG;
	size_t n = (size_t)(nul - c->p);
	*s = (const char *)c->p;
	if (len)
		*len = n;
	c->p += n + 1;
	c->rem -= n + 1;
	return 0;
}

static int parse_request(struct cursor *c, struct tftp_packet *out)
{
	const char *mode;
	int r = cur_str(c, &out->filename, &out->filename_len);
	if (r < 0)
		return r;
	r = cur_str(c, &mode, NULL);
	if (r < 0)
		return r;
	/* RFC 2347 §"Request Packet": options follow the mode as
	 * name/value string pairs; option names are case-insensitive. */
	while (c->rem > 0) {
		const char *name, *value;
		if (cur_str(c, &name, NULL) < 0 || cur_str(c, &value, NULL) < 0)
			return -EBADMSG;
		if (name[0] == '\0')
			return -EBADMSG;
		if (out->n_opts == TFTP_MAX_OPTIONS)
			return -E2BIG;
		out->opts[out->n_opts].name = name;
		out->opts[out->n_opts].value = value;
		out->n_opts++;
	}
	/* Mode is case-insensitive (RFC 1350 §5: "in any combination of
	 * upper and lower case"). */
	if (strcasecmp(mode, "octet") == 0)
		out->mode = TFTP_MODE_OCTET;
	else if (strcasecmp(mode, "netascii") == 0)
		out->mode = TFTP_MODE_NETASCII;
	else
		return -EPROTONOSUPPORT;
	return 0;
}

static int parse_oack(struct cursor *c, struct tftp_packet *out)
{
	while (c->rem > 0) {
		const char *name, *value;
		if (cur_str(c, &name, NULL) < 0 || cur_str(c, &value, NULL) < 0)
			return -EBADMSG;
		if (out->n_opts == TFTP_MAX_OPTIONS)
			return -E2BIG;
		out->opts[out->n_opts].name = name;
		out->opts[out->n_opts].value = value;
		out->n_opts++;
	}
	return 0;
}

int tftp_parse(const uint8_t *buf, size_t len, struct tftp_packet *out)
{
	struct cursor c = { buf, len };
	memset(out, 0, sizeof(*out));
	out->error_msg = "";
	int r = cur_u16(&c, &out->opcode);
	if (r < 0)
		return r;
	switch (out->opcode) {
	case TFTP_RRQ:
	case TFTP_WRQ:
		return parse_request(&c, out);
	case TFTP_DATA:
		r = cur_u16(&c, &out->block);
		if (r < 0)
			return r;
		out->data = c.p;
		out->data_len = c.rem;
		return 0;
	case TFTP_ACK:
		/* Bytes after the block number are ignored on purpose, as
		 * tftp-hpa and OpenBSD tftpd do (both read only the 4-byte
		 * header): nothing in them is used, and refusing them would
		 * stall a client whose stack pads its ACKs. */
		return cur_u16(&c, &out->block);
	case TFTP_ERROR:
		r = cur_u16(&c, &out->error_code);
		if (r < 0)
			return r;
		/* A missing message (nothing after the code) is tolerated:
		 * the message is only informational and some embedded
		 * clients send a bare 4-byte ERROR.  A message without its
		 * NUL is not. */
		if (c.rem == 0)
			return 0;
		return cur_str(&c, &out->error_msg, NULL);
	case TFTP_OACK:
		return parse_oack(&c, out);
	default:
		return -EOPNOTSUPP;
	}
}

void tftp_parse_options(const struct tftp_packet *req, struct tftp_req_opts *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < req->n_opts; i++) {
		const char *n = req->opts[i].name, *v = req->opts[i].value;
		unsigned long long x = 0;
		int r;
		if (strcasecmp(n, "blksize") == 0 && !out->has_blksize) {
			/* RFC 2348: "valid values range between 8 and 65464" */
			r = parse_uint(v, TFTP_BLKSIZE_MIN, TFTP_BLKSIZE_MAX, &x);
			out->has_blksize = r == 0;
			out->blksize = (unsigned)x;
		} else if (strcasecmp(n, "timeout") == 0 && !out->has_timeout) {
			/* RFC 2349: "valid values range between 1 and 255 seconds" */
			r = parse_uint(v, TFTP_TIMEOUT_MIN, TFTP_TIMEOUT_MAX, &x);
			out->has_timeout = r == 0;
			out->timeout = (unsigned)x;
		} else if (strcasecmp(n, "tsize") == 0 && !out->has_tsize) {
			/* RFC 2349: a RRQ carries 0; the server answers the size. */
			r = parse_uint(v, 0, req->opcode == TFTP_RRQ ? 0 : UINT64_MAX, &x);
			out->has_tsize = r == 0;
			out->tsize = x;
		} else if (strcasecmp(n, "windowsize") == 0 && !out->has_windowsize) {
			/* RFC 7440 §3: "valid values range between 1 and 65535 blocks" */
			r = parse_uint(v, TFTP_WINDOWSIZE_MIN, TFTP_WINDOWSIZE_MAX, &x);
			out->has_windowsize = r == 0;
			out->windowsize = (unsigned)x;
		} else {
			out->n_ignored++;
			continue;
		}
		if (r < 0 && !out->invalid)
			out->invalid = n;
	}
}

static int put_u16(uint8_t *buf, size_t buflen, size_t *pos, uint16_t v)
{
	if (buflen - *pos < 2)
		return -ENOBUFS;
	buf[(*pos)++] = (uint8_t)(v >> 8);
	buf[(*pos)++] = (uint8_t)v;
	return 0;
}

static int put_str(uint8_t *buf, size_t buflen, size_t *pos, const char *s)
{
	size_t n = strlen(s) + 1; /* with its NUL */
	if (buflen - *pos < n)
		return -ENOBUFS;
	memcpy(buf + *pos, s, n);
	*pos += n;
	return 0;
}

static int as_len(size_t pos)
{
	return pos > 0x7fffffff ? -ENOBUFS : (int)pos;
}

int tftp_build_ack(uint8_t *buf, size_t buflen, uint16_t block)
{
	size_t pos = 0;
	if (put_u16(buf, buflen, &pos, TFTP_ACK) < 0 || put_u16(buf, buflen, &pos, block) < 0)
		return -ENOBUFS;
	return as_len(pos);
}

int tftp_build_data(uint8_t *buf, size_t buflen, uint16_t block, const void *data, size_t len)
{
	if (buflen < TFTP_HDR_LEN || buflen - TFTP_HDR_LEN < len)
		return -ENOBUFS;
	if (len && data != buf + TFTP_HDR_LEN)
		memmove(buf + TFTP_HDR_LEN, data, len);
	size_t pos = 0;
	put_u16(buf, buflen, &pos, TFTP_DATA);
	put_u16(buf, buflen, &pos, block);
	return as_len(TFTP_HDR_LEN + len);
}

int tftp_build_error(uint8_t *buf, size_t buflen, uint16_t code, const char *msg)
{
	size_t pos = 0;
	if (put_u16(buf, buflen, &pos, TFTP_ERROR) < 0 || put_u16(buf, buflen, &pos, code) < 0 ||
	    put_str(buf, buflen, &pos, msg ? msg : "") < 0)
		return -ENOBUFS;
	return as_len(pos);
}

int tftp_build_oack(uint8_t *buf, size_t buflen, const struct tftp_option *opts, size_t n)
{
	size_t pos = 0;
	if (put_u16(buf, buflen, &pos, TFTP_OACK) < 0)
		return -ENOBUFS;
	for (size_t i = 0; i < n; i++)
		if (put_str(buf, buflen, &pos, opts[i].name) < 0 ||
		    put_str(buf, buflen, &pos, opts[i].value) < 0)
			return -ENOBUFS;
	return as_len(pos);
}

int tftp_build_request(uint8_t *buf, size_t buflen, uint16_t opcode, const char *filename,
		       const char *mode, const struct tftp_option *opts, size_t n)
{
	size_t pos = 0;
	if (put_u16(buf, buflen, &pos, opcode) < 0 || put_str(buf, buflen, &pos, filename) < 0 ||
	    put_str(buf, buflen, &pos, mode) < 0)
		return -ENOBUFS;
	for (size_t i = 0; i < n; i++)
		if (put_str(buf, buflen, &pos, opts[i].name) < 0 ||
		    put_str(buf, buflen, &pos, opts[i].value) < 0)
			return -ENOBUFS;
	return as_len(pos);
}

size_t tftp_netascii_encode(const uint8_t *in, size_t in_len, size_t *in_used,
			    uint8_t *out, size_t out_len, int *pending)
{
	size_t i = 0, o = 0;
	while (o < out_len) {
		if (*pending >= 0) {
			out[o++] = (uint8_t)*pending;
			*pending = -1;
			continue;
		}
		if (i == in_len)
			break;
		uint8_t ch = in[i++];
		if (ch == '\n') {
			out[o++] = '\r';
			*pending = '\n';
		} else if (ch == '\r') {
			out[o++] = '\r';
			*pending = '\0';
		} else {
			out[o++] = ch;
		}
	}
	*in_used = i;
	return o;
}

const char *tftp_opcode_name(uint16_t opcode)
{
	switch (opcode) {
	case TFTP_RRQ: return "RRQ";
	case TFTP_WRQ: return "WRQ";
	case TFTP_DATA: return "DATA";
	case TFTP_ACK: return "ACK";
	case TFTP_ERROR: return "ERROR";
	case TFTP_OACK: return "OACK";
	default: return "unknown";
	}
}
