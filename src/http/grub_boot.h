/* grub_boot: the GRUB family's configuration files on pxed's TFTP side,
 * generated per machine from the same decision as /boot.ipxe, and the
 * watch for the site DHCP server that does not name pxed (docs/bootloaders.md).
 *
 * It is the TFTP server's generator (tftp_server_set_generator()):
 *   grub/grub.cfg          the same for everyone (grub_script_entry());
 *   grub/mac-MAC.cfg       decide(commit) on the worker, for the facts the
 *                          machine's DHCP exchange gave moments before,
 *                          the image's command line rendered for it as
 *                          for /boot.ipxe (boot_image.h);
 *   grub/deploy-MAC.cfg,   the menu's entries (an available deployment,
 *   grub/local-MAC.cfg     or any behind PXEPassword): decide_choice()
 *                          records the choice; deploy-MAC.cfg commits.
 * With PXEPassword set, mac-MAC.cfg never commits: GRUB checks the password
 * itself before it runs the start entry (grub_script.h).  A menu's entry
 * files are answered for GRUB_MENU_TTL_MS to the address that read it.
 * A "local" answer makes the DHCP server send the machine to its disk for
 * GRUB_LOCAL_MS, since GRUB restarts it (grub_script.h).
 *
 * Next-server check: shim fetches GRUB from pxed, but GRUB takes its TFTP
 * server from the site DHCP server's ACK (next-server or option 66).  When
 * GRUB was served to an address and no grub/ request follows from it within
 * GRUB_NEXT_SERVER_WAIT_MS, pxed logs a warning and records an event that
 * says what to set. */
#pragma once
#include <stdbool.h>

struct ev_loop;
struct ev_work;
struct pxed_conf;
struct decider;
struct store;
struct dhcp_server;
struct tftp_server;
struct grub_boot;

#define GRUB_NEXT_SERVER_WAIT_MS 30000
/* How long DHCP answers "local" after GRUB sent a machine to its disk. */
#define GRUB_LOCAL_MS 120000
/* How long, and for how many machines at once (the oldest goes), a menu's
 * entries are answered after mac-MAC.cfg served it, beyond the DHCP
 * exchange's DHCP_RECENT_TTL_MS: a person reads it, types PXEPassword,
 * GRUB checks it. */
#define GRUB_MENU_TTL_MS 600000
#define GRUB_MENU_MAX 256
/* Addresses watched at once for their grub/ requests; the oldest goes. */
#define GRUB_WATCH_MAX 256

int grub_boot_new(struct ev_loop *loop, const struct pxed_conf *conf, struct decider *dec,
		  struct store *store, struct ev_work *work, struct dhcp_server *dhcp,
		  struct tftp_server *tftp, struct grub_boot **out);
/* Before the TFTP server and after the worker. Accepts NULL. */
void grub_boot_free(struct grub_boot *g);

struct grub_boot_stats {
	unsigned long long configs;        /* per-machine configurations served */
	unsigned long long refused;        /* ... refused: no recent DHCP exchange */
	unsigned long long next_server;    /* next-server misconfigurations seen */
	unsigned long long cmdline_refused; /* sent local: the command line did not render */
};
void grub_boot_stats(const struct grub_boot *g, struct grub_boot_stats *out);
