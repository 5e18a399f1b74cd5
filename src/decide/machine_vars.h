/* machine_vars: the variables of one boot, put together for the renderer.
 *
 * Precedence, most specific first (docs/unattended.md):
 *   device > deployment > collection > image > global
 * A device in two collections that both set a key gets the value of the
 * collection whose name sorts first (byte order): deterministic, and
 * renaming a collection is how an admin changes the winner.
 * Built-in variables (mac, guid, arch, device, image, deployment, server,
 * http, report_url, answers) are set by pxed per boot; no level can set
 * them (store_var_builtin()).
 *
 * Loading runs store calls: on the worker only. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "common/template.h"

struct store;

/* At most this many distinct keys apply to one boot (a device in many
 * collections could otherwise bring thousands); the more specific win. */
#define MACHINE_VARS_MAX 512

struct machine_vars {
	struct template_var *v; /* name, value and source are owned (malloc) */
	size_t n, cap;
	unsigned dropped;       /* keys left out beyond MACHINE_VARS_MAX */
};

/* The stored variables for a boot of device_id (0 = unknown machine) with
 * deployment_id and image_id (0 = none), one per key, the winner of each.
 * 0 or a negative errno (store errors as store_vars_applicable()). */
int machine_vars_load(struct store *st, int64_t device_id, int64_t deployment_id,
		      int64_t image_id, struct machine_vars *out);
/* Add (or replace) a built-in; value NULL leaves it undefined.  0 or -ENOMEM. */
int machine_vars_builtin(struct machine_vars *mv, const char *name, const char *value);
void machine_vars_free(struct machine_vars *mv); /* accepts an empty one */
