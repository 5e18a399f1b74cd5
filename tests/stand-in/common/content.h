/* STAND-IN, delete at merge: the content module's API as on the tftp
 * branch (src/common/content.h there); only what pxed_main.c and the HTTP
 * server call is implemented, in tests/stand-in/content.c. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define CONTENT_NAME_MAX 255

struct content;
int content_new(const char *root, const char *program_dir,
		const char *const *program_names, struct content **out);
void content_free(struct content *c);
int content_open(const struct content *c, const char *name, int *fd_out, uint64_t *size_out);
