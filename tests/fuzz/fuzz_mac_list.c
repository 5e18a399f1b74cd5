/* libFuzzer harness for the MAC ignore list parser (an admin's file, but
 * read again whenever it changes): build with `make fuzz`. */
#include <stddef.h>
#include <stdint.h>

#include "conf/mac_list.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mac_list l;
	unsigned bad;
	if (mac_list_parse((const char *)data, size, &l, &bad) == 0) {
		/* Sorted and unique: every parsed MAC is found. */
		for (size_t i = 0; i < l.n; i++)
			if (!mac_list_contains(&l, l.macs[i]))
				__builtin_trap();
		mac_list_clear(&l);
	}
	return 0;
}
