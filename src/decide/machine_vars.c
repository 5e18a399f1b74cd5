#include "decide/machine_vars.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

static struct template_var *find(struct machine_vars *mv, const char *name)
{
	for (size_t i = 0; i < mv->n; i++)
		if (!strcmp(mv->v[i].name, name))
			return &mv->v[i];
	return NULL;
}

static int add(struct machine_vars *mv, const char *name, const char *value, const char *source)
{
	struct template_var *t;
	if (mv->n == mv->cap) {
		size_t cap = mv->cap ? mv->cap * 2 : 32;
		t = realloc(mv->v, cap * sizeof(*t));
		if (!t)
			return -ENOMEM;
		mv->v = t;
		mv->cap = cap;
	}
	t = &mv->v[mv->n];
	t->name = strdup(name);
	t->value = strdup(value);
	t->source = strdup(source);
	if (!t->name || !t->value || !t->source) {
		free((char *)t->name);
		free((char *)t->value);
		free((char *)t->source);
		return -ENOMEM;
	}
	mv->n++;
	return 0;
}

struct load_ctx {
	struct machine_vars *mv;
	int err;
};

/* Rows arrive most specific first: the first of a key wins. */
static int on_var(void *ctx, const struct store_var *v)
{
	struct load_ctx *l = ctx;
	char source[96];
	if (find(l->mv, v->key))
		return 0;
	if (l->mv->n >= MACHINE_VARS_MAX) {
		l->mv->dropped++;
		return 0;
	}
	if (v->level == STORE_VAR_GLOBAL)
		snprintf(source, sizeof(source), "global");
	else
		snprintf(source, sizeof(source), "%s %s", store_var_level_name(v->level), v->owner);
	l->err = add(l->mv, v->key, v->value, source);
	return l->err < 0;
}

int machine_vars_load(struct store *st, int64_t device_id, int64_t deployment_id,
		      int64_t image_id, struct machine_vars *out)
{
	struct load_ctx l = { .mv = out };
	int r;
	memset(out, 0, sizeof(*out));
	r = store_vars_applicable(st, device_id, deployment_id, image_id, on_var, &l);
	if (r < 0 || l.err < 0) {
		machine_vars_free(out);
		return r < 0 ? r : l.err;
	}
	return 0;
}

int machine_vars_builtin(struct machine_vars *mv, const char *name, const char *value)
{
	struct template_var *t = find(mv, name);
	if (t) {
		char *v = value ? strdup(value) : NULL;
		if (value && !v)
			return -ENOMEM;
		free((char *)t->value);
		t->value = v; /* NULL: the renderer treats it as undefined */
		return 0;
	}
	if (!value)
		return 0;
	return add(mv, name, value, "built-in");
}

void machine_vars_free(struct machine_vars *mv)
{
	for (size_t i = 0; i < mv->n; i++) {
		free((char *)mv->v[i].name);
		free((char *)mv->v[i].value);
		free((char *)mv->v[i].source);
	}
	free(mv->v);
	memset(mv, 0, sizeof(*mv));
}
