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

#include "common/vocab.h"

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
	/* BootLoaderUEFIx64 / BootLoaderUEFIarm64: "ipxe" or "grub", the boot
	 * loader family plain PXE firmware of that class gets (conf_loader_grub). */
	char loader_uefi_x64[8];
	char loader_uefi_arm64[8];
	char shim_dir[PATH_MAX];    /* ShimDir: Debian's shim-signed files */
	char grub_dir[PATH_MAX];    /* GrubDir: Debian's GRUB images and modules */
	uint16_t dhcp_port;         /* ProxyDHCP port (67) */
	uint16_t pxe_port;          /* PXE boot server port (4011) */
	unsigned boot_token_lifetime; /* BootTokenLifetime: seconds a script URL's token lives */
	unsigned boot_tokens;       /* BootTokens: tokens kept at once (oldest forgotten) */
	unsigned unknown_machines_per_minute; /* UnknownMachinesPerMinute: devices recorded; 0 = no cap */
	unsigned dhcp_rcvbuf_kib;   /* DHCPReceiveBuffer: socket receive buffer, KiB */
	unsigned dhcp_max_pending;  /* DHCPMaxPending: requests waiting for the database */
	unsigned wake_max_devices;  /* WakeMaxDevices: machines one wake request may name */
	unsigned wake_relay_prefix; /* WakeRelayPrefix: prefix length of relayed subnets, 0 = no directed broadcast */
	char wake_interfaces[256];  /* WakeInterfaces: Wake-on-LAN broadcast out of these; "" = all up IPv4 broadcast interfaces */

	/* [tftp] */
	char tftp_root[PATH_MAX];   /* Root: content served by TFTP and HTTP */
	uint16_t tftp_port;         /* Port (69) */
	unsigned tftp_max_block_size; /* MaxBlockSize, RFC 2348 cap */
	unsigned tftp_max_window_size; /* MaxWindowSize, RFC 7440 cap */
	unsigned tftp_max_transfers;  /* MaxTransfers at once */
	unsigned tftp_workers;      /* Workers: threads reading files from disk */

	/* [http] */
	uint16_t http_port;         /* Port: the seed's "HTTP Port" */
	char http_address[64];      /* Address to bind; "" = all */
	unsigned answer_token_lifetime; /* AnswerTokenLifetime: seconds a boot's answer files stay readable */

	/* [store] */
	char store_url[PATH_MAX];   /* URL: sqlite:PATH or postgresql://... */
	char state_dir[PATH_MAX];   /* StateDir: database and runtime state */
	unsigned event_retention_days; /* EventRetentionDays: prune older events; 0 = keep */
	unsigned event_max_rows;    /* EventMaxRows: delete the oldest beyond; 0 = no cap */
	unsigned decision_repeat_window; /* DecisionRepeatWindow: seconds; repeats counted, 0 = off */

	/* [log] */
	char log_level[16];         /* Level: error, warn, info, debug */

	/* [http] access (added after the original block; see docs/pxed.8.md) */
	char http_token_file[PATH_MAX]; /* TokenFile: bearer token; default beside the database */
	unsigned http_https_port;   /* HTTPSPort: 0 = no HTTPS */
	char http_tls_cert[PATH_MAX]; /* TLSCertificate: PEM file */
	char http_tls_key[PATH_MAX];  /* TLSKey: PEM file */
	bool http_admin_https_only; /* AdminHTTPSOnly: refuse /api/v1/ on plain HTTP */
	/* PXEPassword as crypt(3) output ("$y$..." yescrypt); pxe_password is
	 * wiped once this is computed, so the clear text never outlives
	 * conf_load().  "" = no password. */
	char pxe_password_hash[256];
	/* [pxe] PXEPasswordGRUB: GRUB machines are asked PXEPassword too; GRUB
	 * checks it itself, against pxe_password_grub_hash, which it is sent
	 * (docs/bootloaders.md). */
	bool pxe_password_grub;
	/* PXEPassword for GRUB's password_pbkdf2, computed with
	 * pxe_password_hash whatever PXEPasswordGRUB says (so that turning it
	 * on at run time needs no clear text): conf_grub_password_hash(). */
	char pxe_password_grub_hash[320];

	/* [pxe] User: after binding its ports and opening its files as root,
	 * pxed runs as this user; "" = keep the user it was started as. */
	char run_user[64];

	/* Limits on what LAN clients can make pxed hold (docs/pxed.8.md,
	 * SECURITY). */
	unsigned tftp_max_per_address; /* [tftp] MaxTransfersPerAddress; 0 = MaxTransfers */
	unsigned http_max_connections; /* [http] MaxConnections */
	unsigned http_max_per_address; /* [http] MaxConnectionsPerAddress; 0 = MaxConnections */
	char http_read_token_file[PATH_MAX]; /* [http] ReadTokenFile: read-only API token */
	unsigned http_console_session_minutes; /* [http] ConsoleSessionMinutes: sign-in lifetime */
	unsigned http_max_event_streams; /* [http] MaxEventStreams: live stream subscribers */
};

/* Fill *c with the embedded defaults. */
void conf_defaults(struct pxed_conf *c);

/* Load defaults, then the file at path (NULL = defaults only).  On failure
 * returns a negative errno and writes "FILE:LINE: reason" into err; *c is
 * then unspecified, so load into a scratch struct and copy on success. */
int conf_load(struct pxed_conf *c, const char *path, char err[CONF_ERR_LEN]);

/* Write the settings block, secrets as <non empty>/<empty>. */
void conf_print_block(const struct pxed_conf *c, FILE *out);

/* PXEPassword: a salted yescrypt hash of password into out (crypt(3)
 * format), and the check of a typed password against it in constant time
 * (over the hash).  0 / negative errno; true when it matches. */
int conf_password_hash(const char *password, char *out, size_t len);
bool conf_password_verify(const char *hash, const char *password);

/* PXEPassword in the form GRUB's password_pbkdf2 checks, as
 * grub-mkpasswd-pbkdf2 prints it:
 *   grub.pbkdf2.sha512.ITERATIONS.SALT.HASH
 * PBKDF2-HMAC-SHA512 (RFC 8018 §5.2) of the password's bytes, SALT and HASH
 * in upper-case hex.  The iteration count makes each offline guess cost
 * what one check costs GRUB on the machine (10 times grub-mkpasswd-pbkdf2's
 * default; about 20 s in the lab's emulated machine, where everything runs
 * tens of times slower than on hardware).  conf_grub_pbkdf2() with a given
 * salt (tests);
 * conf_grub_password_hash() with a random one.  0, -EINVAL, -ENOBUFS. */
#define CONF_GRUB_PBKDF2_ITERATIONS 100000
#define CONF_GRUB_SALT_BYTES 64
#define CONF_GRUB_HASH_BYTES 64
int conf_grub_pbkdf2(const char *password, const uint8_t *salt, size_t salt_len,
		     unsigned iterations, char *out, size_t len);
int conf_grub_password_hash(const char *password, char *out, size_t len);
/* Whether s has that shape (count 1..2^31-1 without a leading 0, salt and
 * hash 1..64 bytes of hex): nothing else is ever written into a GRUB
 * configuration as a password hash. */
bool conf_grub_hash_valid(const char *s);

/* The hash GRUB machines check PXEPassword against, or NULL when they
 * are not to be asked it (no PXEPassword, or PXEPasswordGRUB = no). */
static inline const char *conf_grub_password(const struct pxed_conf *c)
{
	return c->pxe_password_hash[0] && c->pxe_password_grub && c->pxe_password_grub_hash[0]
		       ? c->pxe_password_grub_hash
		       : NULL;
}

/* The reason a GRUB machine whose deployment needs PXEPassword goes local
 * with when conf_grub_password() is NULL; %s is the deployment's name. */
#define CONF_GRUB_NO_PASSWORD_REASON                                                   \
	"deployment '%.64s' needs PXEPassword, which GRUB machines are asked only with " \
	"PXEPasswordGRUB = yes: local"

/* Whether a BootLoader* value says GRUB (shim -> GRUB) rather than iPXE. */
static inline bool conf_loader_grub(const char *loader)
{
	return vocab_loader_parse(loader, 0) == VOCAB_LOADER_GRUB;
}

/* Whether the interface name passes BindPolicy. */
bool conf_iface_allowed(const struct pxed_conf *c, const char *ifname);

/* ---- one setting at a time: the admin API's `settings get` / `set` ---- */

struct conf_setting {
	const char *section;   /* "pxe" */
	const char *name;      /* "CacheExpire": the name in the file */
	const char *label;     /* the name in the printed block ("HTTP Port") */
	bool secret;           /* its value is shown as <non empty>/<empty> */
	bool restart;          /* only read at start-up: a change needs a restart */
};

/* A setting by key: "Name", "section.Name" or its printed label,
 * case-insensitive.  0; -ENOENT unknown; -EINVAL ambiguous ("Port": the
 * TFTP or the HTTP one).  err says which. */
int conf_setting_find(const char *key, struct conf_setting *out, char *err, size_t errlen);

/* Every setting with its value as the settings block shows it (secrets as
 * <non empty>/<empty>), except that BindPolicy is "include"/"exclude" and
 * BindInterfaces "a,b", so that each value can be set back as it is. */
void conf_settings_foreach(const struct pxed_conf *c,
			   void (*cb)(void *ctx, const struct conf_setting *s, const char *value),
			   void *ctx);

/* One value as conf_settings_foreach() gives it; -ENOENT for no such key. */
int conf_get_value(const struct pxed_conf *c, const char *key, char *buf, size_t len);

/* Change one setting with the same parsing as a line of the file, then the
 * same rules between settings as conf_load() (HTTPSPort needs TLS files,
 * BindPolicy include needs interfaces).  PXEPassword is stored only as its
 * hash.  Restart-only settings are changed like the others: the caller
 * decides whether to allow that (conf_setting_find()'s restart).
 * 0; on failure *c is unchanged, err holds the reason ("CacheExpire:
 * 'soon' is not a whole number (0 to 86400)") and the result is -ENOENT
 * (unknown or ambiguous key) or what the check returned (-EINVAL, -ERANGE,
 * -ENAMETOOLONG ...). */
int conf_set_value(struct pxed_conf *c, const char *key, const char *value, char *err,
		   size_t errlen);

/* SIGHUP: put back in next every restart-only setting that differs from
 * cur, calling changed (may be NULL) with its label for each; returns how
 * many. */
int conf_keep_restart(struct pxed_conf *next, const struct pxed_conf *cur,
		      void (*changed)(void *ctx, const char *label), void *ctx);
