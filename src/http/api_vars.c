/* Variables: /api/v1/vars/LEVEL[/NAME][/KEY], the values rendered into
 * command lines and answer files (docs/unattended.md).  GET lists an
 * owner's variables (or one with KEY), PUT KEY sets one from
 * {"value": "..."}, DELETE KEY removes one.  LEVEL is global (no NAME),
 * device, collection, image or deployment. */
#include <errno.h>
#include <string.h>

#include "common/log.h"
#include "common/template.h"
#include "common/vocab.h"
#include "http/api.h"

struct vars_path {
	enum store_var_level level;
	char owner[HTTP_NAME_MAX + 1]; /* "" for global */
	char key[STORE_VAR_KEY_MAX + 1]; /* "" = none */
};

/* Split the URL; 404 for anything that is not a level, a valid name and
 * a valid key. */
static int vars_path_parse(const char *url, struct vars_path *p, struct api_err *e)
{
	const char *seg[4];
	size_t len[4], n = 0;
	const char *q = url + strlen("/api/v1/vars/");
	char level[16];

	memset(p, 0, sizeof(*p));
	while (*q && n < 4) {
		const char *slash = strchr(q, '/');
		seg[n] = q;
		len[n] = slash ? (size_t)(slash - q) : strlen(q);
		n++;
		if (!slash)
			break;
		q = slash + 1;
		if (!*q)
			return api_fail(e, MHD_HTTP_NOT_FOUND, "not_found", "no such API endpoint");
	}
	if (n == 0 || (*q && n == 4))
		return api_fail(e, MHD_HTTP_NOT_FOUND, "not_found", "no such API endpoint");
	if (len[0] >= sizeof(level))
		return api_fail(e, MHD_HTTP_NOT_FOUND, "not_found", "no such variable level");
	memcpy(level, seg[0], len[0]);
	level[len[0]] = '\0';
	if (store_var_level_parse(level, &p->level) < 0)
		return api_fail(e, MHD_HTTP_NOT_FOUND, "not_found",
				"variable level is one of global, device, collection, image, "
				"deployment");
	size_t k = 1;
	if (p->level != STORE_VAR_GLOBAL) {
		if (n < 2 || len[1] == 0 || len[1] > HTTP_NAME_MAX)
			return api_fail(e, MHD_HTTP_NOT_FOUND, "not_found", "%s variables need a name",
					level);
		memcpy(p->owner, seg[1], len[1]);
		p->owner[len[1]] = '\0';
		if (!vocab_name_valid(p->owner))
			return api_fail(e, MHD_HTTP_NOT_FOUND, "not_found",
					"a name is 1 to %d characters of A-Z a-z 0-9 . _ -",
					HTTP_NAME_MAX);
		k = 2;
	}
	if (n > k + 1)
		return api_fail(e, MHD_HTTP_NOT_FOUND, "not_found", "no such API endpoint");
	if (n == k + 1) {
		if (!template_name_valid(seg[k], len[k]))
			return api_fail(e, MHD_HTTP_NOT_FOUND, "not_found",
					"a variable name is 1 to %d characters of A-Z a-z 0-9 _, "
					"not starting with a digit", STORE_VAR_KEY_MAX);
		memcpy(p->key, seg[k], len[k]);
		p->key[len[k]] = '\0';
	}
	return 0;
}

struct vars_list_ctx {
	json_t *obj;
	const char *only; /* one key, or NULL */
	bool found;
};

static int vars_add(void *ctx, const struct store_var *v)
{
	struct vars_list_ctx *l = ctx;
	if (l->only && strcmp(l->only, v->key))
		return 0;
	l->found = true;
	json_object_set_new(l->obj, v->key, json_string(v->value));
	return 0;
}

int api_vars_get(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
		 json_t **out, struct api_err *e)
{
	struct vars_path p;
	struct vars_list_ctx l = { 0 };
	int rc;

	if (vars_path_parse(r->url_full, &p, e) < 0)
		return -1;
	l.obj = json_object();
	l.only = p.key[0] ? p.key : NULL;
	rc = store_var_list(s->store, p.level, p.owner, vars_add, &l);
	if (rc < 0) {
		json_decref(l.obj);
		return api_store_fail(s, rc, e, "list variables");
	}
	if (l.only && !l.found) {
		json_decref(l.obj);
		return api_fail(e, MHD_HTTP_NOT_FOUND, "not_found", "no variable %s", p.key);
	}
	*out = json_pack("{s:s, s:o, s:o}", "level", store_var_level_name(p.level), "name",
			 p.owner[0] ? json_string(p.owner) : json_null(), "vars", l.obj);
	return MHD_HTTP_OK;
}

/* The path of a PUT or DELETE: it must end in a variable's name. */
static int vars_path_key(struct http_request *r, struct vars_path *p, struct api_err *e)
{
	if (vars_path_parse(r->url_full, p, e) < 0)
		return -1;
	if (!p->key[0])
		return api_fail(e, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
				"%s needs a variable name at the end of the URL", r->method_name);
	return 0;
}

/* PUT KEY {"value": "..."} */
int api_vars_set(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
		 json_t **out, struct api_err *e)
{
	static const char *const keys[] = { "value", NULL };
	struct vars_path p;
	const char *value;
	json_t *o;
	int rc;

	if (vars_path_key(r, &p, e) < 0)
		return -1;
	o = api_body_object(r, keys, e);
	if (!o)
		return -1;
	if (api_field_str(o, "value", true, &value, e) < 0) {
		json_decref(o);
		return -1;
	}
	rc = store_var_set(s->store, p.level, p.owner, p.key, value);
	json_decref(o);
	if (rc == -ENOSPC)
		return api_fail(e, MHD_HTTP_CONFLICT, "too_many", "%s", store_last_error(s->store));
	if (rc < 0)
		return api_store_fail(s, rc, e, "set a variable");
	log_info(MOD, "variable %s set on %s%s%s", p.key, store_var_level_name(p.level),
		 p.owner[0] ? " " : "", p.owner);
	*out = json_pack("{s:s, s:o, s:s, s:b}", "level", store_var_level_name(p.level), "name",
			 p.owner[0] ? json_string(p.owner) : json_null(), "key", p.key, "set", 1);
	return MHD_HTTP_OK;
}

/* DELETE KEY */
int api_vars_unset(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
		   json_t **out, struct api_err *e)
{
	struct vars_path p;
	int rc;

	if (vars_path_key(r, &p, e) < 0)
		return -1;
	rc = store_var_unset(s->store, p.level, p.owner, p.key);
	if (rc < 0)
		return api_store_fail(s, rc, e, "unset a variable");
	log_info(MOD, "variable %s unset on %s%s%s", p.key, store_var_level_name(p.level),
		 p.owner[0] ? " " : "", p.owner);
	*out = json_pack("{s:s, s:o, s:s, s:b}", "level", store_var_level_name(p.level), "name",
			 p.owner[0] ? json_string(p.owner) : json_null(), "key", p.key, "deleted", 1);
	return MHD_HTTP_OK;
}
