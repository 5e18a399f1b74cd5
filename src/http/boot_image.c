/* boot_image: see boot_image.h. */
#include "http/boot_image.h"

#include <string.h>

#include "http/boot_script.h"
#include "http/http_answers.h"

/* The installer token before one exists: of the real one's shape, so
 * that a command line rendered with it lets through what the real one's
 * would. */
#define BOOT_TOKEN_STAND_IN "00000000000000000000000000000000"

/* Render the image's command line (http_answers_cmdline()) into d, or,
 * when it does not render, turn the hand-out into the local disk: the
 * decider withdraws it, and the decision's event and log line say why. */
static int render(struct decider *dec, struct store *st, struct decision *d,
		  const struct pxe_facts *f, const char *base, const char *token,
		  struct boot_image *bi)
{
	char why[200];
	int rc;

	rc = http_answers_cmdline(st, d, f, base, token, why, sizeof(why));
	if (rc == 0)
		return 0;
	bi->render_failed = true;
	decide_withdraw(dec, d, f, DECIDE_OVR_RENDER_FAILED, why);
	return rc;
}

int boot_image_check(struct decider *dec, struct store *st, struct decision *d,
		     const struct pxe_facts *f, const char *base, struct boot_image *bi)
{
	int rc;

	bi->render_failed = bi->unservable = false;
	memcpy(bi->tmpl, d->cmdline, sizeof(bi->tmpl));
	if (!d->nbp[0]) {
		rc = render(dec, st, d, f, base, BOOT_TOKEN_STAND_IN, bi);
		if (rc < 0)
			return rc;
	}
	rc = boot_script_check(d);
	if (rc < 0) {
		bi->unservable = true;
		decide_withdraw(dec, d, f, DECIDE_OVR_UNSERVABLE, NULL);
	}
	return rc;
}

int boot_image_render(struct decider *dec, struct store *st, struct decision *d,
		      const struct pxe_facts *f, const char *base, const char *token,
		      struct boot_image *bi)
{
	memcpy(d->cmdline, bi->tmpl, sizeof(d->cmdline));
	return render(dec, st, d, f, base, token, bi);
}
