/* boot_script: the iPXE script pxed hands to a client for one decision.
 *
 *   boot, required  -> kernel/initrd/boot (or chain NBP) with no key press;
 *   boot, available -> a 10 s prompt; Enter chains to choice_url with
 *                      &choice=deploy, the timeout (or any other key) to
 *                      choice_url with &choice=local, so that pxed records
 *                      what was chosen and answers with the image (or the
 *                      password prompt) or with `exit`;
 *   local           -> echo the reason, `exit` (back to the firmware, which
 *                      tries its next boot device: the local disk);
 *   ignore          -> same as local, with "not serviced": an iPXE client
 *                      that asked us for a script gets a clean exit rather
 *                      than an HTTP error, which iPXE would show as a failed
 *                      chain and then also exit.
 *
 * Injection: paths go into URLs percent-encoded; names must be valid names
 * (vocab_name_valid); the cmdline must pass http_cmdline_valid; free text
 * (reasons) is reduced to characters iPXE does not interpret.  Anything
 * that cannot be made safe is refused with -EINVAL, never passed through. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

struct decision;

/* How long an available deployment waits for Enter, in milliseconds. */
#define BOOT_SCRIPT_PROMPT_MS 10000

/* Write the script for d into buf (NUL-terminated).  base_url is
 * "http://HOST[:PORT]" with no trailing slash; files are fetched from
 * base_url + "/files/" + path.  Returns the length written (without the
 * NUL), -ENOBUFS when buf is too small (never truncates), -EINVAL when a
 * field of d or base_url cannot be written safely. */
int boot_script_build(const struct decision *d, const char *base_url, char *buf, size_t len);

/* What the HTTP server adds to a BOOT script.  URLs may hold only
 * A-Z a-z 0-9 and : / ? & = . _ - [ ] (checked; -EINVAL otherwise). */
struct boot_script_opts {
	/* Installer callback: " pxed.report=URL" ends the kernel command line
	 * (kernel images only; a boot program has no command line). */
	const char *report_url;
	/* PXEPassword: instead of the image, ask for the password with iPXE's
	 * `login` (which masks what is typed) and chain to
	 * password_url + "&password=" + the password, URI-escaped by iPXE. */
	const char *password_url;
	/* The /boot.ipxe URL (mac, guid, arch) an available deployment's
	 * prompt chains back to with "&choice=deploy" or "&choice=local".
	 * Required for an available deployment that is not confirmed. */
	const char *choice_url;
	/* The user chose to deploy (choice=deploy) or typed the right
	 * password: start the image, or ask for the password when
	 * password_url is set, without the available deployment's prompt. */
	bool confirmed;
	/* One extra line to show first ("wrong password"); safe text only. */
	const char *notice;
};

int boot_script_build_opts(const struct decision *d, const char *base_url,
			   const struct boot_script_opts *opts, char *buf, size_t len);

/* Shared with grub_script.c: one set of rules for what may reach a boot
 * loader's script. */
/* A BOOT decision's names, paths and command line are writable: 0 or
 * -EINVAL. */
int boot_script_check(const struct decision *d);
/* Free text reduced to characters no script language here interprets
 * (letters, digits, space and .,:_-/()=+@!?; quotes dropped). */
void boot_script_safe_text(char *dst, size_t dstlen, const char *src);
/* A URL pxed built itself: http(s):// and only A-Z a-z 0-9 :/?&=._-[] */
bool boot_script_url_valid(const char *u);
