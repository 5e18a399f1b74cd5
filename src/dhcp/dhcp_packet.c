/* dhcp_packet: see dhcp_packet.h.
 *
 * Every read is preceded by its bound test on the remaining length (the
 * habit of OpenBSD dhcpleased's parse_dhcp()); options pxed interprets get
 * exact length rules, everything else is skipped by its length. */
#include "dhcp/dhcp_packet.h"

#include <errno.h>
#include <string.h>

static const uint8_t dhcp_cookie[DHCP_COOKIE_LEN] = { 99, 130, 83, 99 };

const char *dhcp_parse_strerror(int err)
{
	switch (err) {
	case DHCP_ERR_SHORT: return "short";
	case DHCP_ERR_OP: return "bad op";
	case DHCP_ERR_NOT_REQUEST: return "not a request";
	case DHCP_ERR_HWTYPE: return "not ethernet";
	case DHCP_ERR_COOKIE: return "no magic cookie";
	case DHCP_ERR_OPT_TRUNC: return "option truncated";
	case DHCP_ERR_NO_END: return "no end option";
	case DHCP_ERR_OPT_LEN: return "bad option length";
	case DHCP_ERR_OPT_DUP: return "duplicate option";
	case DHCP_ERR_OPT_TOO_LONG: return "option too long";
	case DHCP_ERR_OVERLOAD: return "bad overload";
	case DHCP_ERR_UUID_TYPE: return "bad uuid type";
	case DHCP_ERR_NO_MSG_TYPE: return "no message type";
	case DHCP_ERR_MSG_TYPE: return "bad message type";
	default: return "?";
	}
}

const char *dhcp_msg_type_name(uint8_t type)
{
	static const char *const names[] = {
		"UNKNOWN", "DISCOVER", "OFFER", "REQUEST", "DECLINE",
		"ACK", "NAK", "RELEASE", "INFORM",
	};
	return type < sizeof(names) / sizeof(names[0]) ? names[type] : "UNKNOWN";
}

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* RFC 3396 §6: several instances of one option are concatenated in order. */
static int blob_append(struct dhcp_blob *b, const uint8_t *v, size_t n)
{
	if ((size_t)b->len + n > sizeof(b->data))
		return DHCP_ERR_OPT_TOO_LONG;
	memcpy(b->data + b->len, v, n);
	b->len = (uint8_t)(b->len + n);
	b->present = true;
	return 0;
}

/* One option we interpret: check its length rule and store it. */
static int parse_option(struct dhcp_msg *m, uint8_t code, const uint8_t *v, size_t n,
			bool in_options_field)
{
	switch (code) {
	case DHCP_OPT_MSG_TYPE: /* RFC 2132 §9.6: length 1 */
		if (n != 1)
			return DHCP_ERR_OPT_LEN;
		if (m->msg_type)
			return DHCP_ERR_OPT_DUP;
		if (v[0] < DHCPDISCOVER || v[0] > DHCPINFORM)
			return DHCP_ERR_MSG_TYPE;
		m->msg_type = v[0];
		return 0;
	case DHCP_OPT_OVERLOAD: /* RFC 2132 §9.3: length 1, value 1..3 */
		if (n != 1)
			return DHCP_ERR_OPT_LEN;
		/* Only meaningful in the options field itself. */
		if (!in_options_field || m->overload)
			return DHCP_ERR_OVERLOAD;
		if (v[0] < 1 || v[0] > 3)
			return DHCP_ERR_OVERLOAD;
		m->overload = v[0];
		return 0;
	case DHCP_OPT_SERVER_ID: /* RFC 2132 §9.7: length 4 */
		if (n != 4)
			return DHCP_ERR_OPT_LEN;
		if (m->has_server_id)
			return DHCP_ERR_OPT_DUP;
		memcpy(&m->server_id.s_addr, v, 4);
		m->has_server_id = true;
		return 0;
	case DHCP_OPT_REQUESTED_IP: /* RFC 2132 §9.1: length 4 */
		if (n != 4)
			return DHCP_ERR_OPT_LEN;
		if (m->has_requested_ip)
			return DHCP_ERR_OPT_DUP;
		memcpy(&m->requested_ip.s_addr, v, 4);
		m->has_requested_ip = true;
		return 0;
	case DHCP_OPT_MAX_SIZE: /* RFC 2132 §9.10: length 2, minimum 576 */
		if (n != 2)
			return DHCP_ERR_OPT_LEN;
		if (m->max_size)
			return DHCP_ERR_OPT_DUP;
		m->max_size = get16(v);
		/* Below 576 is a client bug; treat as absent rather than trust it. */
		if (m->max_size < 576)
			m->max_size = 0;
		return 0;
	case DHCP_OPT_CLIENT_ARCH: /* RFC 4578 §2.1: a list of 16-bit types */
		if (n == 0 || n % 2 != 0)
			return DHCP_ERR_OPT_LEN;
		if (m->has_arch)
			return DHCP_ERR_OPT_DUP;
		m->arch = get16(v);
		m->n_arch = (uint8_t)(n / 2);
		m->has_arch = true;
		return 0;
	case DHCP_OPT_CLIENT_UUID: /* RFC 4578 §2.3: type 0 + 16 bytes */
		if (n != 17)
			return DHCP_ERR_OPT_LEN;
		if (v[0] != 0)
			return DHCP_ERR_UUID_TYPE;
		if (m->has_uuid)
			return DHCP_ERR_OPT_DUP;
		memcpy(m->uuid_wire, v + 1, 16);
		m->has_uuid = true;
		return 0;
	case DHCP_OPT_VENDOR_CLASS: /* RFC 2132 §9.13: minimum length 1 */
		if (n < 1)
			return DHCP_ERR_OPT_LEN;
		return blob_append(&m->vendor_class, v, n);
	case DHCP_OPT_CLIENT_ID: /* RFC 2132 §9.14: minimum length 2 */
		/* ...for the first instance; an RFC 3396 continuation may be
		 * shorter. */
		if (n < 2 && !m->client_id.present)
			return DHCP_ERR_OPT_LEN;
		return blob_append(&m->client_id, v, n);
	case DHCP_OPT_USER_CLASS:
		/* RFC 3004 §4 wants length-prefixed instances, but iPXE sends
		 * the bare string "iPXE" (see the SeaBIOS iPXE ROM capture).
		 * Only the non-empty rule is enforced here; the content is
		 * read tolerantly by dhcp_user_class_has(). */
		if (n < 1)
			return DHCP_ERR_OPT_LEN;
		return blob_append(&m->user_class, v, n);
	case DHCP_OPT_VENDOR:
		return blob_append(&m->vendor_opts, v, n);
	case DHCP_OPT_IPXE_ENCAP:
		return blob_append(&m->ipxe_encap, v, n);
	default:
		return 0; /* not interpreted: skipped by its length */
	}
}

/* Walk one option area.  The options field must be closed by END
 * (RFC 2131 §4.1 / RFC 2132 §3.2); an overloaded file or sname field may
 * simply run to its end, padded. */
static int parse_area(struct dhcp_msg *m, const uint8_t *p, size_t rem,
		      bool in_options_field)
{
	while (rem > 0) {
		uint8_t code = p[0];
		p++, rem--;
		if (code == DHCP_OPT_PAD)
			continue;
		if (code == DHCP_OPT_END)
			return 0; /* trailing bytes after END are padding */
		if (rem < 1)
			return DHCP_ERR_OPT_TRUNC;
		size_t n = p[0];
		p++, rem--;
		if (rem < n)
			return DHCP_ERR_OPT_TRUNC;
		int r = parse_option(m, code, p, n, in_options_field);
		if (r < 0)
			return r;
		p += n, rem -= n;
	}
	return in_options_field ? DHCP_ERR_NO_END : 0;
}

static void copy_field(char *dst, const uint8_t *src, size_t n)
{
	/* Bounded: a field without NUL is cut at its size; dst has n+1. */
	size_t i = 0;
	while (i < n && src[i])
		i++;
	memcpy(dst, src, i);
	dst[i] = '\0';
}

int dhcp_parse(const uint8_t *buf, size_t len, struct dhcp_msg *m)
{
	const uint8_t *p = buf;
	int r;

	memset(m, 0, sizeof(*m));
	if (!buf || len < DHCP_MIN_LEN)
		return DHCP_ERR_SHORT;

	/* RFC 2131 §2, fixed header; len >= DHCP_MIN_LEN covers all reads. */
	m->hdr.op = p[0];
	m->hdr.htype = p[1];
	m->hdr.hlen = p[2];
	m->hdr.hops = p[3];
	m->hdr.xid = get32(p + 4);
	m->hdr.secs = get16(p + 8);
	m->hdr.flags = get16(p + 10);
	memcpy(&m->hdr.ciaddr.s_addr, p + 12, 4);
	memcpy(&m->hdr.yiaddr.s_addr, p + 16, 4);
	memcpy(&m->hdr.siaddr.s_addr, p + 20, 4);
	memcpy(&m->hdr.giaddr.s_addr, p + 24, 4);
	memcpy(m->hdr.chaddr, p + 28, DHCP_CHADDR_LEN);

	if (m->hdr.op != BOOTREQUEST && m->hdr.op != BOOTREPLY)
		return DHCP_ERR_OP;
	if (m->hdr.htype != DHCP_HTYPE_ETHER || m->hdr.hlen != 6)
		return DHCP_ERR_HWTYPE;
	if (memcmp(p + DHCP_FIXED_LEN, dhcp_cookie, DHCP_COOKIE_LEN) != 0)
		return DHCP_ERR_COOKIE;

	r = parse_area(m, p + DHCP_MIN_LEN, len - DHCP_MIN_LEN, true);
	if (r < 0)
		return r;

	/* RFC 2131 §4.1: with option 52, "file" and then "sname" carry
	 * options; they are then not names. */
	const uint8_t *sname = p + 44, *file = p + 108;
	if (m->overload & 1) {
		r = parse_area(m, file, DHCP_FILE_LEN, false);
		if (r < 0)
			return r;
	} else
		copy_field(m->hdr.file, file, DHCP_FILE_LEN);
	if (m->overload & 2) {
		r = parse_area(m, sname, DHCP_SNAME_LEN, false);
		if (r < 0)
			return r;
	} else
		copy_field(m->hdr.sname, sname, DHCP_SNAME_LEN);

	if (m->msg_type == 0)
		return DHCP_ERR_NO_MSG_TYPE;
	return 0;
}

int dhcp_parse_request(const uint8_t *buf, size_t len, struct dhcp_msg *m)
{
	int r = dhcp_parse(buf, len, m);
	if (r < 0)
		return r;
	if (m->hdr.op != BOOTREQUEST)
		return DHCP_ERR_NOT_REQUEST;
	return 0;
}

bool dhcp_user_class_has(const struct dhcp_msg *m, const char *name)
{
	const struct dhcp_blob *uc = &m->user_class;
	size_t nl = strlen(name);

	if (!uc->present || nl == 0)
		return false;
	/* iPXE: the bare string, no RFC 3004 length prefix. */
	if (uc->len == nl && memcmp(uc->data, name, nl) == 0)
		return true;
	/* RFC 3004 §4: UC_Len_i followed by that many bytes, repeated. */
	size_t off = 0;
	while (off < uc->len) {
		size_t n = uc->data[off++];
		if (n == 0 || n > (size_t)uc->len - off)
			return false;
		if (n == nl && memcmp(uc->data + off, name, nl) == 0)
			return true;
		off += n;
	}
	return false;
}

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);  p[3] = (uint8_t)v;
}

int dhcp_build_start(struct dhcp_builder *b, uint8_t *buf, size_t cap,
		     const struct dhcp_header *h)
{
	b->buf = buf;
	b->cap = cap;
	b->len = 0;
	b->err = 0;
	/* Room for header, cookie and the END option. */
	if (!buf || cap < DHCP_MIN_LEN + 1)
		return b->err = -ENOBUFS;
	size_t sl = strnlen(h->sname, sizeof(h->sname));
	size_t fl = strnlen(h->file, sizeof(h->file));
	if (sl >= DHCP_SNAME_LEN || fl >= DHCP_FILE_LEN)
		return b->err = -ENAMETOOLONG; /* keep the terminating NUL */

	memset(buf, 0, DHCP_MIN_LEN);
	buf[0] = h->op;
	buf[1] = h->htype;
	buf[2] = h->hlen;
	buf[3] = h->hops;
	put32(buf + 4, h->xid);
	put16(buf + 8, h->secs);
	put16(buf + 10, h->flags);
	memcpy(buf + 12, &h->ciaddr.s_addr, 4);
	memcpy(buf + 16, &h->yiaddr.s_addr, 4);
	memcpy(buf + 20, &h->siaddr.s_addr, 4);
	memcpy(buf + 24, &h->giaddr.s_addr, 4);
	memcpy(buf + 28, h->chaddr, DHCP_CHADDR_LEN);
	memcpy(buf + 44, h->sname, sl);
	memcpy(buf + 108, h->file, fl);
	memcpy(buf + DHCP_FIXED_LEN, dhcp_cookie, DHCP_COOKIE_LEN);
	b->len = DHCP_MIN_LEN;
	return 0;
}

int dhcp_build_option(struct dhcp_builder *b, uint8_t code, const void *data, size_t len)
{
	if (b->err)
		return b->err;
	if (len > 255 || code == DHCP_OPT_PAD || code == DHCP_OPT_END)
		return b->err = -EINVAL;
	/* code + len + value, and one byte kept for END. */
	if (b->cap - b->len < 2 + len + 1)
		return b->err = -ENOBUFS;
	b->buf[b->len++] = code;
	b->buf[b->len++] = (uint8_t)len;
	if (len)
		memcpy(b->buf + b->len, data, len);
	b->len += len;
	return 0;
}

int dhcp_build_finish(struct dhcp_builder *b)
{
	if (b->err)
		return b->err;
	if (b->cap - b->len < 1)
		return b->err = -ENOBUFS;
	b->buf[b->len++] = DHCP_OPT_END;
	/* Pad to the BOOTP minimum when the buffer allows; a shorter
	 * buffer still gets a complete, valid message. */
	while (b->len < DHCP_MIN_REPLY_LEN && b->len < b->cap)
		b->buf[b->len++] = DHCP_OPT_PAD;
	return (int)b->len;
}
