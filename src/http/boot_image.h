/* boot_image: a BOOT decision's image made ready for one machine, on the
 * worker -- the same steps for /boot.ipxe (http_boot.c) and for GRUB's
 * configuration (grub_boot.c), so that an iPXE and a GRUB machine get the
 * same decision and the same command line:
 *   1. boot_image_check(), before a hand-out's report token exists and
 *      before PXEPassword is asked: the stored command line is a template
 *      (docs/unattended.md) that the scripts' check refuses (${...}), so
 *      it is rendered first, with a stand-in token of the real one's
 *      shape, then checked (boot_script_check());
 *   2. boot_image_render(), once a hand-out recorded its report token (or
 *      failed to): the stored template rendered again with that token.
 * Either failing sends the machine to its disk: the decider withdraws a
 * committed hand-out (decide_withdraw(), store work, hence the worker), so
 * that a required deployment stays due, and the decision's reason says
 * why.  The caller logs and counts it (render_failed, unservable). */
#pragma once
#include <stdbool.h>

#include "decide/decide.h"

struct store;

struct boot_image {
	char tmpl[sizeof(((struct decision *)0)->cmdline)]; /* the stored command line */
	bool render_failed; /* the command line did not render: sent local */
	bool unservable;    /* the image cannot be written into a script: local */
};

/* Step 1 for d, a BOOT decision for the boot of f through base
 * ("http://HOST[:PORT]", the built-ins server and http).  A boot program
 * (d->nbp) has no command line and is only checked.  0, or negative: d
 * now sends the machine to its disk (bi says why). */
int boot_image_check(struct decider *dec, struct store *st, struct decision *d,
		     const struct pxe_facts *f, const char *base, struct boot_image *bi);

/* Step 2, for a kernel image handed out: d->cmdline is bi->tmpl rendered
 * with token (NULL: no report token, then ${report_url} and ${answers}
 * are undefined).  0, or negative: sent local (bi->render_failed). */
int boot_image_render(struct decider *dec, struct store *st, struct decision *d,
		      const struct pxe_facts *f, const char *base, const char *token,
		      struct boot_image *bi);
