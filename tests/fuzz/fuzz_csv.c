/* libFuzzer harness for http_csv_device_parse(): a device import file
 * comes from any admin script.  The line is passed without a NUL, in a
 * buffer of its exact size, so ASan catches any over-read. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_csv_device d;
	char why[160];
	char *line = malloc(size ? size : 1);
	int rc;
	memcpy(line, data, size);
	rc = http_csv_device_parse(line, size, &d, why, sizeof(why));
	if (rc != 0 && rc != 1 && rc != -EINVAL)
		abort();
	if (rc == 0 && !vocab_name_valid(d.name))
		abort();
	if (rc < 0 && !memchr(why, '\0', sizeof(why)))
		abort();
	free(line);
	return 0;
}
