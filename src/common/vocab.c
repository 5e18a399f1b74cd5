/* vocab: see vocab.h.  The tables below are the only place the names
 * live. */
#include "common/vocab.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/util.h"

/* Option 93 values pxed has a boot program for: RFC 4578 §2.1 and the
 * IANA "Processor Architecture Types" registry.  15 (x86 UEFI HTTP) and 19
 * (ARM 64-bit UEFI HTTP) are UEFI HTTP boot too, but pxed has no boot
 * program for them: "other", so they are not serviced with their number in
 * the reason. */
static const struct {
	uint16_t code;
	enum pxe_arch_class cls;
} arch_codes[] = {
	{ 0, PXE_ARCH_BIOS },        /* Intel x86PC */
	{ 6, PXE_ARCH_UEFI_X86 },    /* EFI IA32 */
	{ 7, PXE_ARCH_UEFI_X64 },    /* EFI BC (x64 in practice) */
	{ 9, PXE_ARCH_UEFI_X64 },    /* EFI x86-64 */
	{ 11, PXE_ARCH_UEFI_ARM64 }, /* ARM 64-bit UEFI */
	{ 16, PXE_ARCH_UEFI_HTTP },  /* x64 UEFI HTTP */
};

/* One row per class, in enum order. */
static const struct {
	enum pxe_arch_class cls;
	const char *name;
	bool targetable;        /* a deployment may target unknown machines of it */
	const char *image_arch; /* the image arch that runs on it (stored form) */
} arches[] = {
	{ PXE_ARCH_BIOS, "bios", true, "" },
	{ PXE_ARCH_UEFI_X86, "uefi-x86", true, "" },
	{ PXE_ARCH_UEFI_X64, "uefi-x64", true, "" },
	{ PXE_ARCH_UEFI_ARM64, "uefi-arm64", true, VOCAB_IMAGE_ARCH_ARM64 },
	{ PXE_ARCH_UEFI_HTTP, "uefi-http", false, "" },
	{ PXE_ARCH_OTHER, "other", false, "" },
};

/* Image arches as stored; the first is the default, stored as "". */
static const char *const image_arches[] = { "", VOCAB_IMAGE_ARCH_ARM64 };

static const char *const loaders[] = {
	[VOCAB_LOADER_IPXE] = "ipxe",
	[VOCAB_LOADER_GRUB] = "grub",
};

enum pxe_arch_class vocab_arch_classify(uint16_t arch)
{
	for (size_t i = 0; i < ARRAY_SIZE(arch_codes); i++)
		if (arch_codes[i].code == arch)
			return arch_codes[i].cls;
	return PXE_ARCH_OTHER;
}

const char *vocab_arch_name(enum pxe_arch_class a)
{
	for (size_t i = 0; i < ARRAY_SIZE(arches); i++)
		if (arches[i].cls == a)
			return arches[i].name;
	return "other";
}

static bool same(const char *a, const char *b, unsigned flags)
{
	return flags & VOCAB_ANY_CASE ? !strcasecmp(a, b) : !strcmp(a, b);
}

int vocab_arch_parse(const char *name, unsigned flags)
{
	for (size_t i = 0; name && i < ARRAY_SIZE(arches); i++)
		if (arches[i].targetable && same(name, arches[i].name, flags))
			return (int)arches[i].cls;
	return -EINVAL;
}

bool vocab_arch_targetable(int c)
{
	for (size_t i = 0; i < ARRAY_SIZE(arches); i++)
		if ((int)arches[i].cls == c)
			return arches[i].targetable;
	return false;
}

bool vocab_image_arch_valid(const char *s)
{
	for (size_t i = 0; s && i < ARRAY_SIZE(image_arches); i++)
		if (!strcmp(s, image_arches[i]))
			return true;
	return false;
}

bool vocab_image_arch_fits(const char *image_arch, int arch_class)
{
	const char *runs = "";
	for (size_t i = 0; i < ARRAY_SIZE(arches); i++)
		if ((int)arches[i].cls == arch_class)
			runs = arches[i].image_arch;
	return !strcmp(image_arch, runs);
}

const char *vocab_loader_name(enum vocab_loader l)
{
	return (size_t)l < ARRAY_SIZE(loaders) ? loaders[l] : "?";
}

int vocab_loader_parse(const char *name, unsigned flags)
{
	for (size_t i = 0; name && i < ARRAY_SIZE(loaders); i++)
		if (same(name, loaders[i], flags))
			return (int)i;
	return -EINVAL;
}

int vocab_list(enum vocab_kind kind, const char *last, char *out, size_t len)
{
	const char *w[ARRAY_SIZE(arches) + ARRAY_SIZE(image_arches) + ARRAY_SIZE(loaders)];
	size_t n = 0, o = 0;

	switch (kind) {
	case VOCAB_ARCH_TARGET:
		for (size_t i = 0; i < ARRAY_SIZE(arches); i++)
			if (arches[i].targetable)
				w[n++] = arches[i].name;
		break;
	case VOCAB_IMAGE_ARCH:
		for (size_t i = 1; i < ARRAY_SIZE(image_arches); i++)
			w[n++] = image_arches[i];
		break;
	case VOCAB_LOADER:
		for (size_t i = 0; i < ARRAY_SIZE(loaders); i++)
			w[n++] = loaders[i];
		break;
	}
	if (len == 0)
		return -ENOBUFS;
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		const char *sep = i == 0 ? "" : i + 1 == n ? last : ", ";
		int k = snprintf(out + o, len - o, "%s%s", sep, w[i]);
		if (k < 0 || (size_t)k >= len - o)
			return -ENOBUFS;
		o += (size_t)k;
	}
	return (int)o;
}

/* ---- names ------------------------------------------------------------------ */

static bool is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool name_char(unsigned char c, unsigned flags)
{
	if (flags & VOCAB_NAME_STORED)
		return c > 0x20 && c < 0x7f && c != '\'' && c != '"' && c != '/' && c != '\\';
	return is_alnum(c) || c == '.' || c == '_' || c == '-';
}

enum vocab_fault vocab_name_check(const char *s, size_t len, unsigned flags)
{
	if (!s || len == 0)
		return VOCAB_EMPTY;
	if (len > VOCAB_NAME_MAX)
		return VOCAB_TOO_LONG;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\0')
			return VOCAB_NUL;
		if (!name_char((unsigned char)s[i], flags))
			return VOCAB_BAD_CHAR;
	}
	return VOCAB_OK;
}

bool vocab_name_valid(const char *s)
{
	return s && vocab_name_check(s, strnlen(s, VOCAB_NAME_MAX + 1), 0) == VOCAB_OK;
}

/* ---- content paths ----------------------------------------------------- */

static bool path_char(unsigned char c, enum vocab_path_rule rule)
{
	if (is_alnum(c) || c == '.' || c == '_' || c == '-' || c == '+')
		return true;
	return rule == VOCAB_PATH_REQUEST && c && strchr("~,@=", c);
}

/* VOCAB_PATH_STORED: see vocab.h. */
static enum vocab_fault path_check_stored(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return s[i] ? VOCAB_CONTROL : VOCAB_NUL;
	if (len && s[0] == '/')
		return VOCAB_ABSOLUTE;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\\' || s[i] == ' ')
			return VOCAB_BAD_CHAR;
		if (s[i] == '.' && i + 1 < len && s[i + 1] == '.')
			return VOCAB_DOT_SEGMENT;
	}
	return VOCAB_OK;
}

enum vocab_fault vocab_path_check(const char *s, size_t len, enum vocab_path_rule rule)
{
	size_t seg = 0; /* start of the current segment */

	if (!s)
		return VOCAB_EMPTY;
	/* A NUL first: the name the client meant is not this C string. */
	if (rule != VOCAB_PATH_STORED && memchr(s, '\0', len))
		return VOCAB_NUL;
	if (len > VOCAB_PATH_MAX)
		return VOCAB_TOO_LONG;
	if (rule == VOCAB_PATH_STORED)
		return path_check_stored(s, len);
	if (rule == VOCAB_PATH_REQUEST && len && s[0] == '/') {
		s++;
		len--;
	}
	if (len == 0)
		return VOCAB_EMPTY;
	if (s[0] == '/')
		return VOCAB_ABSOLUTE;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || s[i] == '/') {
			size_t n = i - seg;
			if (n == 2 && s[seg] == '.' && s[seg + 1] == '.')
				return VOCAB_DOT_SEGMENT;
			if (rule == VOCAB_PATH_IMAGE && n == 0)
				return VOCAB_EMPTY;
			if (rule == VOCAB_PATH_IMAGE && n == 1 && s[seg] == '.')
				return VOCAB_DOT_SEGMENT;
			seg = i + 1;
			continue;
		}
		if (!path_char((unsigned char)s[i], rule))
			return VOCAB_BAD_CHAR;
	}
	return VOCAB_OK;
}

bool vocab_path_valid(const char *s)
{
	return s && vocab_path_check(s, strnlen(s, VOCAB_PATH_MAX + 1), VOCAB_PATH_IMAGE) ==
			    VOCAB_OK;
}
