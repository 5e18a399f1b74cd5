/* Unit tests for variables in the store (schema v4) and their precedence
 * for one boot (src/decide/machine_vars.c): device > deployment >
 * collection > image > global, two collections broken by name, key and
 * value rules, the per-owner cap, owners' deletion taking their
 * variables along. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "decide/machine_vars.h"
#include "store/store.h"
#include "tmpdb.h"

struct fx {
	struct tmpdb db;
	struct store *st;
	struct store_device dev;
	struct store_image im;
	struct store_deployment dep;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct store_collection c = { 0 };
	if (!f)
		return -1;
	assert_int_equal(tmpdb_make(&f->db), 0);
	assert_int_equal(store_open(f->db.url, &f->st), 0);
	snprintf(f->dev.name, sizeof(f->dev.name), "web01");
	f->dev.mac[5] = 1;
	assert_int_equal(store_device_add(f->st, &f->dev), 0);
	snprintf(f->im.name, sizeof(f->im.name), "debian");
	snprintf(f->im.kernel, sizeof(f->im.kernel), "k");
	assert_int_equal(store_image_add(f->st, &f->im), 0);
	snprintf(c.name, sizeof(c.name), "b-servers");
	assert_int_equal(store_collection_add(f->st, &c), 0);
	snprintf(c.name, sizeof(c.name), "a-web");
	assert_int_equal(store_collection_add(f->st, &c), 0);
	assert_int_equal(store_collection_add_device(f->st, "b-servers", "web01"), 1);
	assert_int_equal(store_collection_add_device(f->st, "a-web", "web01"), 1);
	snprintf(f->dep.name, sizeof(f->dep.name), "install");
	snprintf(f->dep.image_name, sizeof(f->dep.image_name), "debian");
	snprintf(f->dep.collection_name, sizeof(f->dep.collection_name), "a-web");
	f->dep.target = STORE_TARGET_COLLECTION;
	f->dep.purpose = STORE_REQUIRED;
	f->dep.enabled = true;
	assert_int_equal(store_deployment_add(f->st, &f->dep), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	store_close(f->st);
	tmpdb_remove(&f->db);
	free(f);
	return 0;
}

static const struct template_var *get(const struct machine_vars *mv, const char *k)
{
	for (size_t i = 0; i < mv->n; i++)
		if (!strcmp(mv->v[i].name, k))
			return &mv->v[i];
	return NULL;
}

static void test_precedence(void **state)
{
	struct fx *f = *state;
	struct machine_vars mv;
	const char *k[] = { "a", "b", "c", "d", "e" };
	/* a: set at every level; b: all but device; ... e: global only */
	for (int i = 0; i < 5; i++) {
		assert_int_equal(store_var_set(f->st, STORE_VAR_GLOBAL, NULL, k[i], "global"), 0);
		if (i < 4)
			assert_int_equal(store_var_set(f->st, STORE_VAR_IMAGE, "debian", k[i], "image"), 0);
		if (i < 3) {
			assert_int_equal(store_var_set(f->st, STORE_VAR_COLLECTION, "b-servers", k[i],
						       "b-servers"), 0);
			assert_int_equal(store_var_set(f->st, STORE_VAR_COLLECTION, "a-web", k[i],
						       "a-web"), 0);
		}
		if (i < 2)
			assert_int_equal(store_var_set(f->st, STORE_VAR_DEPLOYMENT, "install", k[i],
						       "deployment"), 0);
		if (i < 1)
			assert_int_equal(store_var_set(f->st, STORE_VAR_DEVICE, "web01", k[i], "device"), 0);
	}
	assert_int_equal(machine_vars_load(f->st, f->dev.id, f->dep.id, f->im.id, &mv), 0);
	assert_int_equal(mv.n, 5);
	assert_string_equal(get(&mv, "a")->value, "device");
	assert_string_equal(get(&mv, "a")->source, "device web01");
	assert_string_equal(get(&mv, "b")->value, "deployment");
	/* two collections: the one whose name sorts first */
	assert_string_equal(get(&mv, "c")->value, "a-web");
	assert_string_equal(get(&mv, "c")->source, "collection a-web");
	assert_string_equal(get(&mv, "d")->value, "image");
	assert_string_equal(get(&mv, "e")->value, "global");
	assert_int_equal(machine_vars_builtin(&mv, "mac", "52:54:00:00:00:01"), 0);
	assert_string_equal(get(&mv, "mac")->source, "built-in");
	machine_vars_free(&mv);
	/* an unknown machine sees no device or collection variables */
	assert_int_equal(machine_vars_load(f->st, 0, f->dep.id, f->im.id, &mv), 0);
	assert_string_equal(get(&mv, "a")->value, "deployment");
	assert_string_equal(get(&mv, "c")->value, "image");
	machine_vars_free(&mv);
	/* unset falls back to the next level */
	assert_int_equal(store_var_unset(f->st, STORE_VAR_DEVICE, "web01", "a"), 0);
	assert_int_equal(store_var_unset(f->st, STORE_VAR_DEVICE, "web01", "a"), -ENOENT);
	assert_int_equal(machine_vars_load(f->st, f->dev.id, f->dep.id, f->im.id, &mv), 0);
	assert_string_equal(get(&mv, "a")->value, "deployment");
	machine_vars_free(&mv);
}

static void test_rules(void **state)
{
	struct fx *f = *state;
	char big[STORE_VAR_VALUE_MAX + 2];
	assert_int_equal(store_var_set(f->st, STORE_VAR_DEVICE, "nope", "a", "x"), -ENOENT);
	assert_int_equal(store_var_set(f->st, STORE_VAR_DEVICE, NULL, "a", "x"), -EINVAL);
	assert_int_equal(store_var_set(f->st, STORE_VAR_GLOBAL, "web01", "a", "x"), -EINVAL);
	assert_int_equal(store_var_set(f->st, STORE_VAR_GLOBAL, NULL, "1a", "x"), -EINVAL);
	assert_int_equal(store_var_set(f->st, STORE_VAR_GLOBAL, NULL, "a-b", "x"), -EINVAL);
	assert_int_equal(store_var_set(f->st, STORE_VAR_GLOBAL, NULL, "a'); DROP TABLE vars;--", "x"),
			 -EINVAL);
	assert_int_equal(store_var_set(f->st, STORE_VAR_GLOBAL, NULL, "", "x"), -EINVAL);
	assert_int_equal(store_var_set(f->st, STORE_VAR_GLOBAL, NULL, "mac", "x"), -EINVAL);
	assert_int_equal(store_var_set(f->st, STORE_VAR_GLOBAL, NULL, "answers", "x"), -EINVAL);
	assert_int_equal(store_var_set(f->st, (enum store_var_level)9, NULL, "a", "x"), -EINVAL);
	memset(big, 'v', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(store_var_set(f->st, STORE_VAR_GLOBAL, NULL, "a", big), -EINVAL);
	big[STORE_VAR_VALUE_MAX] = '\0';
	assert_int_equal(store_var_set(f->st, STORE_VAR_GLOBAL, NULL, "a", big), 0);
	/* hostile values are stored as they are (escaping is the renderer's) */
	assert_int_equal(store_var_set(f->st, STORE_VAR_GLOBAL, NULL, "b", "x\n'\";${y}"), 0);
	/* the cap: STORE_VARS_PER_OWNER keys, replacing one stays possible */
	for (int i = 0; i < STORE_VARS_PER_OWNER; i++) {
		char key[16];
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(store_var_set(f->st, STORE_VAR_DEVICE, "web01", key, "v"), 0);
	}
	assert_int_equal(store_var_set(f->st, STORE_VAR_DEVICE, "web01", "one_more", "v"), -ENOSPC);
	assert_int_equal(store_var_set(f->st, STORE_VAR_DEVICE, "web01", "k0", "w"), 0);
}

static int count_cb(void *ctx, const struct store_var *v)
{
	(*(int *)ctx)++;
	return 0;
}

static void test_owner_gone(void **state)
{
	struct fx *f = *state;
	struct store_device d = { 0 };
	int n = 0;
	snprintf(d.name, sizeof(d.name), "tmp");
	d.mac[5] = 9;
	assert_int_equal(store_device_add(f->st, &d), 0);
	assert_int_equal(store_var_set(f->st, STORE_VAR_DEVICE, "tmp", "a", "x"), 0);
	assert_int_equal(store_device_delete(f->st, "tmp"), 0);
	/* a new device with the old id (or name) must not inherit them */
	assert_int_equal(store_device_add(f->st, &d), 0);
	assert_int_equal(store_var_list(f->st, STORE_VAR_DEVICE, "tmp", count_cb, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_var_list(f->st, STORE_VAR_DEVICE, "gone", count_cb, &n), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_precedence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_owner_gone, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
