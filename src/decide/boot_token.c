/* boot_token: see boot_token.h. */
#include "decide/boot_token.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

enum slot_state { SLOT_FREE, SLOT_BUSY, SLOT_SPENT };

struct token_slot {
	uint8_t token[BOOT_TOKEN_BYTES];
	bool used;                 /* holds a token (issued once at least) */
	enum slot_state state;
	uint64_t expires_ms;
	uint8_t mac[MAC_LEN];
	bool has_guid;
	uint8_t guid[GUID_LEN];
	bool has_arch;
	uint16_t arch;
};

struct boot_tokens {
	struct token_slot *slot;
	size_t max;
	size_t next;               /* the slot the next token goes into (oldest) */
	struct boot_token_stats st;
};

int boot_tokens_new(size_t max, struct boot_tokens **out)
{
	struct boot_tokens *t;

	if (max < 1)
		max = 1;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->slot = calloc(max, sizeof(*t->slot));
	if (!t->slot) {
		free(t);
		return -ENOMEM;
	}
	t->max = max;
	*out = t;
	return 0;
}

void boot_tokens_free(struct boot_tokens *t)
{
	if (!t)
		return;
	explicit_bzero(t->slot, t->max * sizeof(*t->slot));
	free(t->slot);
	free(t);
}

static void hex_encode(const uint8_t *in, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int hex_decode(const char *text, uint8_t out[BOOT_TOKEN_BYTES])
{
	if (strnlen(text, 2 * BOOT_TOKEN_BYTES + 1) != 2 * BOOT_TOKEN_BYTES)
		return -EINVAL;
	for (size_t i = 0; i < BOOT_TOKEN_BYTES; i++) {
		int hi = hex_value(text[2 * i]), lo = hex_value(text[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* Constant time over the token, so that the time of a refusal says
 * nothing about how much of a guess was right. */
static bool token_equal(const uint8_t *a, const uint8_t *b)
{
	uint8_t d = 0;
	for (size_t i = 0; i < BOOT_TOKEN_BYTES; i++)
		d |= a[i] ^ b[i];
	return d == 0;
}

static struct token_slot *token_find(struct boot_tokens *t, const uint8_t tok[BOOT_TOKEN_BYTES])
{
	struct token_slot *found = NULL;
	for (size_t i = 0; i < t->max; i++)
		if (t->slot[i].used && token_equal(t->slot[i].token, tok) && !found)
			found = &t->slot[i];
	return found;
}

int boot_token_issue(struct boot_tokens *t, const struct pxe_facts *f, uint64_t now_ms,
		     uint64_t lifetime_ms, char out[BOOT_TOKEN_STR_LEN])
{
	struct token_slot *s = &t->slot[t->next];
	uint8_t tok[BOOT_TOKEN_BYTES];

	if (getrandom(tok, sizeof(tok), 0) != (ssize_t)sizeof(tok))
		return -EIO;
	if (s->used && s->state == SLOT_FREE && s->expires_ms > now_ms)
		t->st.forgotten++;
	memset(s, 0, sizeof(*s));
	memcpy(s->token, tok, sizeof(tok));
	s->used = true;
	s->state = SLOT_FREE;
	s->expires_ms = now_ms + lifetime_ms;
	memcpy(s->mac, f->mac, MAC_LEN);
	s->has_guid = f->has_guid;
	if (f->has_guid)
		memcpy(s->guid, f->guid, GUID_LEN);
	s->has_arch = f->has_arch;
	s->arch = f->arch;
	t->next = (t->next + 1) % t->max;
	t->st.issued++;
	hex_encode(tok, sizeof(tok), out);
	explicit_bzero(tok, sizeof(tok));
	return 0;
}

static enum boot_token_status refuse(struct boot_tokens *t, enum boot_token_status st)
{
	t->st.refused[st]++;
	return st;
}

enum boot_token_status boot_token_check(struct boot_tokens *t, const char *text,
					struct pxe_facts *f, uint64_t now_ms,
					uint64_t lifetime_ms, bool claim)
{
	uint8_t tok[BOOT_TOKEN_BYTES];
	struct token_slot *s;

	if (!text || !*text)
		return refuse(t, BOOT_TOKEN_MISSING);
	if (hex_decode(text, tok) < 0)
		return refuse(t, BOOT_TOKEN_MALFORMED);
	s = token_find(t, tok);
	if (!s)
		return refuse(t, BOOT_TOKEN_UNKNOWN);
	if (memcmp(s->mac, f->mac, MAC_LEN) ||
	    (f->has_guid && (!s->has_guid || memcmp(s->guid, f->guid, GUID_LEN))) ||
	    (f->has_arch && (!s->has_arch || s->arch != f->arch)))
		return refuse(t, BOOT_TOKEN_OTHER_MACHINE);
	if (s->state == SLOT_SPENT)
		return refuse(t, BOOT_TOKEN_SPENT);
	if (now_ms >= s->expires_ms)
		return refuse(t, BOOT_TOKEN_EXPIRED);
	if (s->state == SLOT_BUSY)
		return refuse(t, BOOT_TOKEN_BUSY);
	f->has_guid = s->has_guid;
	memcpy(f->guid, s->guid, GUID_LEN);
	f->has_arch = s->has_arch;
	f->arch = s->arch;
	f->arch_class = s->has_arch ? vocab_arch_classify(s->arch) : PXE_ARCH_OTHER;
	s->expires_ms = now_ms + lifetime_ms;
	if (claim)
		s->state = SLOT_BUSY;
	return BOOT_TOKEN_OK;
}

void boot_token_release(struct boot_tokens *t, const char *text, bool spent)
{
	uint8_t tok[BOOT_TOKEN_BYTES];
	struct token_slot *s;

	if (!text || hex_decode(text, tok) < 0 || !(s = token_find(t, tok)))
		return;
	if (s->state != SLOT_BUSY)
		return;
	if (!spent) {
		s->state = SLOT_FREE;
		return;
	}
	t->st.spent++;
	for (size_t i = 0; i < t->max; i++) {
		struct token_slot *o = &t->slot[i];
		if (o->used && !memcmp(o->mac, s->mac, MAC_LEN))
			o->state = SLOT_SPENT;
	}
}

void boot_tokens_stats(const struct boot_tokens *t, struct boot_token_stats *out)
{
	*out = t->st;
}

const char *boot_token_status_name(enum boot_token_status s)
{
	switch (s) {
	case BOOT_TOKEN_OK: return "valid";
	case BOOT_TOKEN_MISSING: return "missing";
	case BOOT_TOKEN_MALFORMED: return "malformed";
	case BOOT_TOKEN_UNKNOWN: return "unknown";
	case BOOT_TOKEN_EXPIRED: return "expired";
	case BOOT_TOKEN_OTHER_MACHINE: return "issued for another machine";
	case BOOT_TOKEN_SPENT: return "already used";
	case BOOT_TOKEN_BUSY: return "in use";
	default: return "?";
	}
}
