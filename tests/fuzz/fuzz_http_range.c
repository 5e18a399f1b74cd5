/* libFuzzer harness for http_range_parse(): the header comes from any
 * client.  Checks the invariants a 206 answer relies on. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *hdr;
	uint64_t len, start, end;
	int rc;
	if (size < 8)
		return 0;
	memcpy(&len, data, 8);
	len %= 1u << 20;
	hdr = malloc(size - 8 + 1); /* exact size: ASan catches any over-read */
	memcpy(hdr, data + 8, size - 8);
	hdr[size - 8] = '\0';
	rc = http_range_parse(hdr, len, &start, &end);
	if (rc == HTTP_RANGE_PARTIAL && !(start <= end && end < len))
		abort();
	if (rc != HTTP_RANGE_PARTIAL && rc != HTTP_RANGE_IGNORE && rc != HTTP_RANGE_UNSATISFIABLE)
		abort();
	vocab_name_valid(hdr);
	vocab_path_valid(hdr);
	/* Each mode reads only the counted bytes (the copy is exact), and
	 * whatever the narrow image rule takes, the wider ones take too. */
	for (unsigned r = VOCAB_PATH_IMAGE; r <= VOCAB_PATH_REQUEST; r++)
		(void)vocab_path_check((const char *)data + 8, size - 8, (enum vocab_path_rule)r);
	(void)vocab_name_check((const char *)data + 8, size - 8, VOCAB_NAME_STORED);
	if (vocab_path_valid(hdr) &&
	    vocab_path_check(hdr, strlen(hdr), VOCAB_PATH_REQUEST) != VOCAB_OK)
		abort();
	http_cmdline_valid(hdr);
	free(hdr);
	return 0;
}
