/* conf: pxed's settings.  One struct holds every setting; conf_load() fills
 * it from embedded defaults and then an INI file (inih), rejecting unknown
 * keys and bad values with "FILE:LINE: reason".  conf_print_block() writes
 * the settings block in the shape of ConfigMgr's smspxe.log. */
#pragma once
#include <limits.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define CONF_MAX_IFACES 32
#define CONF_ERR_LEN 512

enum bind_policy { BIND_EXCLUDE = 0, BIND_INCLUDE = 1 };

struct pxed_conf {
	char source[PATH_MAX]; /* the file read, or "" for embedded defaults */

	/* [pxe]: the seed's settings block, same names and meaning */
	bool is_active;             /* IsActive: answer PXE clients at all */
	bool support_unknown;       /* SupportUnknownMachines */
	char mac_ignore_file[PATH_MAX]; /* MACIgnoreListFile, "" = none */
	unsigned response_delay;    /* ResponseDelay, seconds vs. the client's secs */
	unsigned cache_expire;      /* CacheExpire, seconds; 0 = no cache */
	enum bind_policy bind_policy; /* BindPolicy */
	char bind_ifaces[CONF_MAX_IFACES][IF_NAMESIZE]; /* BindInterfaces */
	unsigned n_bind_ifaces;
	char pxe_guid[40];          /* PXEGUID: this server's identity */
	char pxe_password[256];     /* PXEPassword: never logged or printed */
	char boot_bios[128];        /* BootProgramBIOS: NBP for BIOS clients */
	char boot_uefi_x64[128];    /* BootProgramUEFIx64: NBP for UEFI x64 */
	char boot_program_dir[PATH_MAX]; /* BootProgramDir: where NBPs live */
	uint16_t dhcp_port;         /* ProxyDHCP port (67) */
	uint16_t pxe_port;          /* PXE boot server port (4011) */

	/* [tftp] */
	char tftp_root[PATH_MAX];   /* Root: content served by TFTP and HTTP */
	uint16_t tftp_port;         /* Port (69) */
	unsigned tftp_max_block_size; /* MaxBlockSize, RFC 2348 cap */
	unsigned tftp_max_window_size; /* MaxWindowSize, RFC 7440 cap */
	unsigned tftp_max_transfers;  /* MaxTransfers at once */

	/* [http] */
	uint16_t http_port;         /* Port: the seed's "HTTP Port" */
	char http_address[64];      /* Address to bind; "" = all */

	/* [store] */
	char store_url[PATH_MAX];   /* URL: sqlite:PATH */
	char state_dir[PATH_MAX];   /* StateDir: database and runtime state */
	unsigned event_retention_days; /* EventRetentionDays: prune older events; 0 = keep */

	/* [log] */
	char log_level[16];         /* Level: error, warn, info, debug */
};

/* Fill *c with the embedded defaults. */
void conf_defaults(struct pxed_conf *c);

/* Load defaults, then the file at path (NULL = defaults only).  On failure
 * returns a negative errno and writes "FILE:LINE: reason" into err; *c is
 * then unspecified, so load into a scratch struct and copy on success. */
int conf_load(struct pxed_conf *c, const char *path, char err[CONF_ERR_LEN]);

/* Write the settings block, secrets as <non empty>/<empty>. */
void conf_print_block(const struct pxed_conf *c, FILE *out);

/* Whether the interface name passes BindPolicy. */
bool conf_iface_allowed(const struct pxed_conf *c, const char *ifname);
