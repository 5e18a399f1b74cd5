/* STAND-IN, delete at merge: the content module's API as announced
 * (content_open), plus a constructor for the stand-in daemon. */
#pragma once
#include <stdint.h>

struct content;
int content_open(const struct content *c, const char *name, int *fd_out, uint64_t *size_out);
/* stand-in only */
int content_new(const char *root, struct content **out);
void content_free(struct content *c);
