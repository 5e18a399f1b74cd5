/* grub_script: the GRUB configuration pxed hands to a machine for one
 * decision -- the same decision, rules and checks as boot_script.c's iPXE
 * script, written for Debian's network GRUB (docs/bootloaders.md).
 *
 *   /grub/grub.cfg (grub_script_entry): the same for every machine; it
 *       sources /grub/mac-$net_default_mac.cfg, the machine's own part:
 *   boot, required  -> linux/initrd/boot over TFTP (signed GRUB has no
 *                      HTTP), or chainloader for a boot program;
 *   boot, available -> a menu whose default, after BOOT_SCRIPT_PROMPT_MS,
 *                      is the local disk; each entry sources a file that
 *                      records the choice (local-MAC.cfg, deploy-MAC.cfg);
 *   boot, either, with PXEPassword for GRUB (password_hash) -> the same
 *                      menu, its start entry open only to the superuser
 *                      GRUB_SCRIPT_PW_USER with the password, which GRUB
 *                      checks against password_hash itself;
 *   local           -> says why and restarts the machine, whose next DHCP
 *                      request pxed answers "local" (GRUB 2.06's `exit`
 *                      returns success to the firmware, which then stops
 *                      in its setup menu instead of booting the disk);
 *   ignore          -> says why and leaves GRUB (`exit`).
 *
 * Injection: every word pxed writes from stored data is single-quoted
 * (GRUB expands nothing inside '...'; a ' is written '\'' ), on top of the
 * validation shared with the iPXE script (boot_script_check(): names, paths
 * and command line from an allow-list); free text goes through
 * boot_script_safe_text().  Anything that cannot be written safely is
 * refused with -EINVAL, never passed through. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

struct decision;

struct grub_script_opts {
	/* The TFTP server GRUB loads from, a dotted IPv4 address: files are
	 * named (tftp,SERVER)/PATH. */
	const char *server;
	/* The machine's MAC as "52:54:00:12:34:56", for the choice files of
	 * an available deployment's menu. */
	const char *mac;
	/* Installer callback: " pxed.report=URL" ends the kernel command line. */
	const char *report_url;
	/* The user chose the deployment in the menu (and passed the password
	 * when there is one): start it. */
	bool confirmed;
	/* PXEPassword as grub.pbkdf2.sha512.N.SALT.HASH (conf_grub_password()),
	 * or NULL: a BOOT decision that is not confirmed becomes the menu,
	 * required or not.  The hash is written into the configuration. */
	const char *password_hash;
};

/* The GRUB user name the PXE password is asked with. */
#define GRUB_SCRIPT_PW_USER "pxe"

/* Write the configuration for d into buf (NUL-terminated).  Returns the
 * length, -ENOBUFS when buf is too small (never truncates), -EINVAL when a
 * field cannot be written safely. */
int grub_script_build(const struct decision *d, const struct grub_script_opts *opts, char *buf,
		      size_t len);

/* /grub/grub.cfg, the same for every machine.  Length or -ENOBUFS. */
int grub_script_entry(char *buf, size_t len);

/* The per-machine names under /grub/ that pxed generates.  Parses name
 * (one leading '/' allowed) into the kind and the MAC; -ENOENT when name
 * is not one of them. */
enum grub_cfg_kind {
	GRUB_CFG_ENTRY,  /* grub/grub.cfg */
	GRUB_CFG_MAC,    /* grub/mac-MAC.cfg: the decision */
	GRUB_CFG_DEPLOY, /* grub/deploy-MAC.cfg: the menu's "start" entry */
	GRUB_CFG_LOCAL,  /* grub/local-MAC.cfg: the menu's default, local */
};
int grub_cfg_name_parse(const char *name, enum grub_cfg_kind *kind, unsigned char mac[6]);
