/* boot_script: the iPXE script pxed hands to a client for one decision.
 *
 *   boot, required  -> kernel/initrd/boot (or chain NBP) with no key press;
 *   boot, available -> a 10 s prompt, Enter starts the deployment, anything
 *                      else (or the timeout) boots the local disk;
 *   local           -> echo the reason, `exit` (back to the firmware, which
 *                      tries its next boot device: the local disk);
 *   ignore          -> same as local, with "not serviced": an iPXE client
 *                      that asked us for a script gets a clean exit rather
 *                      than an HTTP error, which iPXE would show as a failed
 *                      chain and then also exit.
 *
 * Injection: paths go into URLs percent-encoded; names must be valid names
 * (http_name_valid); the cmdline must pass http_cmdline_valid; free text
 * (reasons) is reduced to characters iPXE does not interpret.  Anything
 * that cannot be made safe is refused with -EINVAL, never passed through. */
#pragma once
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
