/* libFuzzer harness for the template renderer (an admin's file, but
 * rendered with values a device's variables hold): build with `make fuzz`.
 * The first byte picks the kind, the next up to 64 bytes are a variable's
 * value, the rest the template. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/template.h"
#include "http/http_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char value[65], out[1024], skel[1024];
	size_t vlen, n;
	enum template_kind kind;
	struct template_error e;

	if (size < 2)
		return 0;
	kind = (enum template_kind)(data[0] % 4);
	vlen = data[1] % 65;
	if (vlen > size - 2)
		vlen = size - 2;
	memcpy(value, data + 2, vlen);
	value[vlen] = '\0';
	const struct template_var vars[] = { { "a", value, NULL }, { "name", "web01", NULL } };
	const char *t = (const char *)data + 2 + vlen;
	size_t tlen = size - 2 - vlen;

	int r = template_render(t, tlen, kind, vars, 2, out, sizeof(out), &n, &e);
	if (r == 0 && (n >= sizeof(out) || out[n] != '\0'))
		__builtin_trap();
	if (r < 0 && out[0] != '\0')
		__builtin_trap(); /* never half-rendered */
	/* a rendered command line whose literal parts are safe is safe */
	if (r == 0 && kind == TEMPLATE_CMDLINE &&
	    template_skeleton(t, tlen, skel, sizeof(skel), NULL) == 0 && http_cmdline_valid(skel) &&
	    strlen(out) < 512 && !http_cmdline_valid(out))
		__builtin_trap();
	/* check agrees with render about syntax */
	if (template_check(t, tlen, NULL) < 0 && r == 0)
		__builtin_trap();
	return 0;
}
