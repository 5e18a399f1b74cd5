/* libFuzzer harness for the TFTP packet parser, option validation, the
 * content name check and netascii encoding: make fuzz, then
 * build/fuzz/fuzz_tftp [corpus dir]. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/content.h"
#include "tftp/tftp_packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tftp_packet p;
	int r = tftp_parse(data, size, &p);
	if (r == 0 || r == -EPROTONOSUPPORT) {
		if (p.filename) {
			if (strlen(p.filename) != p.filename_len)
				abort();
			(void)content_check_name(p.filename, p.filename_len);
		}
		struct tftp_req_opts o;
		tftp_parse_options(&p, &o);
		if (o.has_blksize && (o.blksize < TFTP_BLKSIZE_MIN || o.blksize > TFTP_BLKSIZE_MAX))
			abort();
		if (o.has_windowsize && (o.windowsize < 1 || o.windowsize > 65535))
			abort();
		/* Rebuild: what parsed must build back to the same bytes. */
		if (p.opcode == TFTP_OACK) {
			uint8_t out[65536];
			int n = tftp_build_oack(out, sizeof(out), p.opts, p.n_opts);
			if (n < 0 || (size_t)n != size || memcmp(out, data, size) != 0)
				abort();
		}
	}
	/* The raw bytes as a name: must never crash, any answer is fine. */
	(void)content_check_name((const char *)data, size);

	/* netascii: output is between 1x and 2x the input. */
	uint8_t out[512];
	size_t used = 0, total = 0, off = 0;
	int pending = -1;
	size_t in_len = size > 256 ? 256 : size;
	for (int i = 0; i < 1024 && (off < in_len || pending >= 0); i++) {
		size_t chunk = 1 + (size % 7);
		total += tftp_netascii_encode(data + off, in_len - off, &used, out, chunk, &pending);
		off += used;
	}
	if (total < in_len || total > 2 * in_len)
		abort();
	return 0;
}
