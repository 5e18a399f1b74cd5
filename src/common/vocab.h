/* vocab: the words pxed uses for machines, images and files, each defined
 * once.  Every module that names an architecture, an image's arch, a boot
 * loader family, or checks a name or a content path calls this module;
 * dhcp, tftp, http, decide, store, conf and pxectl depend on it, never the
 * reverse (it includes nothing of theirs).
 *
 * Adding an architecture class or a loader family is one row in a table in
 * vocab.c; the lists of allowed names in error messages are generated from
 * those tables (vocab_list()). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- architecture classes ---------------------------------------------- */

/* What pxed makes of a client's system architecture, option 93 (RFC 4578
 * §2.1, IANA "Processor Architecture Types").  The values of the classes a
 * deployment can target (vocab_arch_targetable) are stored in the database
 * as a deployment's unknown_arch: append new classes, never renumber. */
enum pxe_arch_class {
	PXE_ARCH_BIOS,       /* 0: x86 BIOS */
	PXE_ARCH_UEFI_X86,   /* 6: EFI IA32 */
	PXE_ARCH_UEFI_X64,   /* 7, 9: EFI x64 (9 = "EFI BC", used by x64 firmware) */
	PXE_ARCH_UEFI_ARM64, /* 11 */
	PXE_ARCH_UEFI_HTTP,  /* 16: x64 UEFI HTTP boot */
	PXE_ARCH_OTHER,      /* anything else */
};

/* The class of an option 93 value; PXE_ARCH_OTHER for any pxed has no
 * boot program for. */
enum pxe_arch_class vocab_arch_classify(uint16_t arch);
/* "bios", "uefi-x86", "uefi-x64", "uefi-arm64", "uefi-http"; "other" for
 * PXE_ARCH_OTHER and any value outside the enum. */
const char *vocab_arch_name(enum pxe_arch_class a);
/* The class a name says (exact, or any case with VOCAB_ANY_CASE), among
 * those a deployment may target (bios, uefi-x86, uefi-x64, uefi-arm64);
 * -EINVAL for any other name. */
int vocab_arch_parse(const char *name, unsigned flags);
/* Whether a deployment may target unknown machines of class c (an int:
 * stored values are checked with it too). */
bool vocab_arch_targetable(int c);

#define VOCAB_ANY_CASE 1u

/* ---- image arch ----------------------------------------------------------- */

/* An image's arch as stored: "" (x86: BIOS, UEFI x86 and x64) or
 * "uefi-arm64".  The stored form of the default is "", its word "x86". */
#define VOCAB_IMAGE_ARCH_ARM64 "uefi-arm64"
#define VOCAB_IMAGE_ARCH_DEFAULT_WORD "x86"
/* Whether s is an image arch as stored ("" included). */
bool vocab_image_arch_valid(const char *s);
/* Whether an image of arch image_arch runs on a machine of arch_class
 * (enum pxe_arch_class; -1 = the machine sent none, taken as x86). */
bool vocab_image_arch_fits(const char *image_arch, int arch_class);

/* ---- boot loader families ------------------------------------------------- */

enum vocab_loader { VOCAB_LOADER_IPXE, VOCAB_LOADER_GRUB };
/* "ipxe", "grub" */
const char *vocab_loader_name(enum vocab_loader l);
/* The family a name says (exact, or any case with VOCAB_ANY_CASE);
 * -EINVAL for any other, "" included. */
int vocab_loader_parse(const char *name, unsigned flags);

/* ---- lists for messages ---------------------------------------------------- */

enum vocab_kind {
	VOCAB_ARCH_TARGET,  /* the classes a deployment may target */
	VOCAB_IMAGE_ARCH,   /* the image arches besides the default "" */
	VOCAB_LOADER,       /* the loader families */
};
/* The names of kind in table order, joined by ", " and by last before the
 * final one: "bios, uefi-x86, uefi-x64 or uefi-arm64" with last " or ".
 * The length written, or -ENOBUFS (out then holds what fitted). */
int vocab_list(enum vocab_kind kind, const char *last, char *out, size_t len);

/* ---- names ------------------------------------------------------------------ */

#define VOCAB_NAME_MAX 63

/* What a name or path check found; VOCAB_OK = 0 for a good one. */
enum vocab_fault {
	VOCAB_OK = 0,
	VOCAB_EMPTY,        /* nothing, or (a path) an empty segment: "a//b", "a/" */
	VOCAB_TOO_LONG,
	VOCAB_NUL,          /* a NUL inside the counted length */
	VOCAB_CONTROL,      /* a control character (VOCAB_PATH_STORED tells it apart) */
	VOCAB_BAD_CHAR,     /* a byte outside the rule's characters */
	VOCAB_ABSOLUTE,     /* a path that starts with '/' */
	VOCAB_DOT_SEGMENT,  /* a path with a "." or ".." segment (VOCAB_PATH_STORED:
			     * ".." anywhere) */
};

/* The name of a device, image, deployment or collection: 1..63 bytes of
 * [A-Za-z0-9._-], so it needs no escaping in a log line, a URL, a CSV
 * field, an iPXE or GRUB script.  What the API, pxectl and the script
 * builders accept.
 *
 * VOCAB_NAME_STORED: the store's own check at its interface, wider: any
 * printable ASCII but space, quotes, '/' and '\\'.  The store has always
 * taken those (rows written by earlier versions, `pxectl store copy`), so
 * its check stays as wide; everything that writes through the API is held
 * to the narrow rule first. */
#define VOCAB_NAME_STORED 1u
/* s of len bytes (a C string: len = strnlen(s, VOCAB_NAME_MAX + 1)). */
enum vocab_fault vocab_name_check(const char *s, size_t len, unsigned flags);
/* The narrow rule for a C string (NULL is not valid). */
bool vocab_name_valid(const char *s);

/* ---- content paths ----------------------------------------------------- */

#define VOCAB_PATH_MAX 255

/* One rule for a path relative to the content root: segments separated
 * by '/', none of them "..", at most 255 bytes, no NUL.  Three places hold
 * it to different widths, kept as they were:
 *
 *  VOCAB_PATH_IMAGE: a path an image names (API, pxectl, script
 *    builders): 1..255 bytes of [A-Za-z0-9._+-/], no leading '/', no "."
 *    or ".." segment, no empty segment.
 *  VOCAB_PATH_STORED: the store's own check, wider: "" allowed (the field
 *    is optional), any byte but control characters, space and '\\', no
 *    leading '/', no ".." anywhere (so "a..b" too).  Kept wide for the
 *    same reason as VOCAB_NAME_STORED.
 *  VOCAB_PATH_REQUEST: the name a TFTP or HTTP client asks for, untrusted:
 *    one leading '/' is dropped (firmware and GRUB send "/grub/..."), then
 *    1..255 bytes of [A-Za-z0-9._+~,@=-/], no ".." segment; "." and empty
 *    segments are harmless beneath the root (openat2 RESOLVE_BENEATH
 *    resolves them) and some clients send them.  len is the length the
 *    packet counted, so an embedded NUL is caught. */
enum vocab_path_rule { VOCAB_PATH_IMAGE, VOCAB_PATH_STORED, VOCAB_PATH_REQUEST };
enum vocab_fault vocab_path_check(const char *s, size_t len, enum vocab_path_rule rule);
/* VOCAB_PATH_IMAGE for a C string (NULL is not valid). */
bool vocab_path_valid(const char *s);
