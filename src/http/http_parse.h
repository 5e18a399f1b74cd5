/* http_parse: pure helpers for the HTTP module -- the Range header parser
 * and the validators for text that reaches the store or an iPXE script
 * (names and paths: common/vocab.h).  No sockets, no globals, no
 * allocation: safe to fuzz and to share with pxectl (which validates the
 * same fields client-side). */
#pragma once
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/vocab.h"

/* http_range_parse() results. */
#define HTTP_RANGE_PARTIAL 0           /* one satisfiable range: answer 206 */
#define HTTP_RANGE_IGNORE 1            /* answer 200 with the whole file */
#define HTTP_RANGE_UNSATISFIABLE (-ERANGE) /* answer 416 */

/* Parse a Range header value (RFC 9110 §14.1.2, §14.2) against a
 * representation of `size` bytes.  On HTTP_RANGE_PARTIAL, [*start, *end]
 * is the inclusive byte range to send, already clipped to the file.
 *   - "bytes=a-b", "bytes=a-", "bytes=-n" are served; a last-pos at or past
 *     the end is clipped (§14.1.2), a suffix longer than the file means the
 *     whole file (§14.1.2);
 *   - a first-pos at or past the end, or "-0", is unsatisfiable (§14.1.2,
 *     §15.5.17: 416 with "Content-Range: bytes *\/SIZE");
 *   - an unknown unit or a malformed ranges-specifier is ignored (§14.2: "An
 *     origin server MUST ignore a Range header field that contains a range
 *     unit it does not understand", and MAY ignore an invalid one);
 *   - several ranges are ignored too (§14.2 lets a server ignore Range; we
 *     never send multipart/byteranges), unless every one is unsatisfiable.
 * Numbers that overflow 64 bits saturate, so they behave like "very large". */
int http_range_parse(const char *hdr, uint64_t size, uint64_t *start, uint64_t *end);

/* The longest name (vocab_name_valid(), common/vocab.h): the HTTP side
 * sizes its name buffers with it. */
#define HTTP_NAME_MAX VOCAB_NAME_MAX

/* A kernel command line that can be written into an iPXE script without
 * changing its meaning: at most 511 bytes of printable ASCII, none of the
 * characters iPXE's parser treats specially (`$` settings expansion, quotes
 * and `\` escapes, `|`, `&` command separators, `#`, `{`, `}`), and no
 * `;` that stands alone (iPXE's separator is a `;` token; inside an
 * argument, as in `ds=nocloud-net;s=URL`, it is text).  Empty is valid. */
bool http_cmdline_valid(const char *s);
/* An image's command line as stored: a template (common/template.h) whose
 * text without its ${...} passes http_cmdline_valid(), so that every render
 * of it does too. */
bool http_cmdline_template_valid(const char *s);

/* One line of a device import file, "name,mac[,guid]" (pxectl device
 * import; POST /api/v1/devices/import).  Spaces around fields are
 * ignored; no quoting (no valid field contains a comma).  Returns 0 with
 * the fields filled, 1 for a line to skip (blank, or a '#' comment), or
 * -EINVAL with the reason in why. */
struct http_csv_device {
	char name[HTTP_NAME_MAX + 1];
	uint8_t mac[6];
	bool has_guid;
	uint8_t guid[16];
};
int http_csv_device_parse(const char *line, size_t len, struct http_csv_device *out, char *why,
			  size_t whylen);
