/* decide: the rules that say, for one PXE request, boot / local / ignore.
 *
 * The DHCP responder and the HTTP boot-script handler both build a
 * struct pxe_facts and call the same decide function, so a machine can
 * never get two different answers for the same state. */
#pragma once
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/util.h"

struct pxed_conf;
struct store;

/* Client system architecture, option 93 (RFC 4578 §2.1, IANA registry). */
enum pxe_arch_class {
	PXE_ARCH_BIOS,       /* 0: x86 BIOS */
	PXE_ARCH_UEFI_X86,   /* 6: EFI IA32 */
	PXE_ARCH_UEFI_X64,   /* 7, 9: EFI x64 (9 = "EFI BC", used by x64 firmware) */
	PXE_ARCH_UEFI_ARM64, /* 11 */
	PXE_ARCH_UEFI_HTTP,  /* 16: x64 UEFI HTTP boot */
	PXE_ARCH_OTHER,      /* anything else */
};

/* Where a request came from; the decision is the same either way. */
enum pxe_via { PXE_VIA_DHCP, PXE_VIA_HTTP };

struct pxe_facts {
	uint8_t mac[MAC_LEN];      /* chaddr (DHCP) or ?mac= (HTTP) */
	bool has_guid;
	uint8_t guid[GUID_LEN];    /* SMBIOS GUID in text byte order (see util.h) */
	bool has_arch;
	uint16_t arch;             /* option 93 raw value */
	enum pxe_arch_class arch_class;
	bool is_ipxe;              /* user class "iPXE" (77) or option 175 */
	uint16_t secs;             /* DHCP secs field, for ResponseDelay */
	char ifname[IF_NAMESIZE];  /* interface the request arrived on, "" if unknown */
	enum pxe_via via;
};

enum decision_outcome {
	DECISION_BOOT,   /* a deployment applies: network boot */
	DECISION_LOCAL,  /* boot from the local disk at once */
	DECISION_IGNORE, /* not serviced: send nothing */
};

struct decision {
	enum decision_outcome outcome;
	char reason[192];          /* human words: why, for the log line and events */
	bool required;             /* the deployment's purpose */
	int64_t device_id;         /* 0 = unknown machine */
	char device_name[64];
	int64_t deployment_id;     /* 0 when none */
	char deployment_name[64];
	char image_name[64];
	char kernel[256];          /* paths relative to the content root */
	char initrd[256];
	char cmdline[512];
	char nbp[256];             /* image that is a boot program instead */
};

/* "boot", "local", "ignore" */
const char *decision_outcome_name(enum decision_outcome o);
/* "bios", "uefi-x86", "uefi-x64", "uefi-arm64", "uefi-http", "other" */
const char *pxe_arch_class_name(enum pxe_arch_class a);
enum pxe_arch_class pxe_arch_classify(uint16_t arch);

struct decider; /* owned by the decide module; see decide.c */

/* Decide for one request.  Pure with respect to the network: reads
 * settings and the store, never sends anything.  `commit` = true when the
 * answer is being handed to the client now (the HTTP boot script), which
 * records a required deployment's hand-out; the DHCP path passes false.
 * Always fills *out; returns 0, or a negative errno when the store failed
 * (then *out is an IGNORE with the reason). */
int decide(struct decider *d, const struct pxe_facts *f, bool commit, struct decision *out);

/* The one decision log line, prefixed "MAC, GUID: " (PRODUCT.md), e.g.
 *   52:54:00:12:34:56, 8a3c...: boot 'win11' (required deployment for
 *   device 'lab-01', not yet handed out) [dhcp DISCOVER on br0, arch bios, pxe]
 * `context` names the request ("dhcp DISCOVER", "dhcp REQUEST:4011",
 * "http /boot.ipxe"). */
void decision_log(const struct pxe_facts *f, const struct decision *d, const char *context);

int decider_new(const struct pxed_conf *conf, struct store *store, struct decider **out);
void decider_free(struct decider *d); /* accepts NULL */
