/* http_answers: per-machine rendering for a deployment boot.
 *
 *  - the image's command line: rendered on the worker when /boot.ipxe or
 *    a GRUB configuration hands a kernel image out (http_answers_cmdline(),
 *    through boot_image.h);
 *  - answer files: GET /answers/TOKEN/NAME renders Root/templates/NAME
 *    for the boot TOKEN names (route in http_server.c, handler here).
 *
 * TOKEN is the boot's installer report token (http_report.h), not the
 * DHCP exchange's boot token: that one is spent by the hand-out and lives
 * BootTokenLifetime (minutes), while an installer fetches its answer
 * files well after the kernel started.  The report token is made when the
 * hand-out commits, names one device and one deployment, is kept in the
 * database (a pxed restart mid-install loses nothing), is replaced by the
 * device's next boot of that deployment, and is accepted for answer files
 * for AnswerTokenLifetime seconds after the hand-out.  Built-in `answers`
 * is BASE/answers/TOKEN/ so that a command line can say
 * url=${answers}preseed.cfg.
 *
 * A missing, malformed, replaced or expired token is 403 whatever NAME is,
 * so a client without a valid token learns nothing about which files
 * exist; with a valid token, a NAME with no template is 404.  Every fetch
 * is logged and recorded as an event (outcome "answer" or "refused"). */
#pragma once
#include <stddef.h>

#include "http/http_internal.h"

struct decision;
struct pxe_facts;

/* Template files and rendered answers are at most this big. */
#define HTTP_ANSWER_MAX (256 * 1024)
/* "templates/" + NAME: NAME is one file or DIR/FILE under Root/templates. */
#define HTTP_ANSWER_DIR "templates"

/* On the worker: render d->cmdline in place for the boot of f, d handed
 * out through base ("http://HOST:PORT"), token = its report token (NULL:
 * none, then report_url and answers are undefined).  0, or -EINVAL /
 * -ENOBUFS with why filled (d->cmdline untouched), or a store error. */
int http_answers_cmdline(struct store *st, struct decision *d, const struct pxe_facts *f,
			 const char *base, const char *token, char *why, size_t whylen);

/* GET /answers/TOKEN/NAME. */
enum MHD_Result http_answers_route(struct http_server *s, struct MHD_Connection *c,
				   struct http_request *r, const char *url);
