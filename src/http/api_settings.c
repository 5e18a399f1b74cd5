/* /api/v1/settings: the settings as the configuration file names them,
 * and changes to those that need no restart (in memory only). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "conf/conf.h"
#include "http/api.h"

static void add_setting(void *ctx, const struct conf_setting *st, const char *value)
{
	char key[96];
	snprintf(key, sizeof(key), "%s.%s", st->section, st->name);
	json_array_append_new(ctx, json_pack("{s:s, s:s, s:s, s:o, s:b, s:b}", "key", key, "section",
					     st->section, "name", st->name, "value",
					     api_str_json(value), "restart", st->restart, "secret",
					     st->secret));
}

int api_settings_get(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
		     json_t **out, struct api_err *e)
{
	*out = json_array();
	conf_settings_foreach(s->conf, add_setting, *out);
	return MHD_HTTP_OK;
}

/* A JSON value as the text a line of the file would hold. */
static int setting_text(json_t *v, char *buf, size_t len)
{
	if (json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v))
		return snprintf(buf, len, "%s", json_string_value(v)) < (int)len ? 0 : -1;
	if (json_is_integer(v))
		return snprintf(buf, len, "%lld", (long long)json_integer_value(v)), 0;
	if (json_is_boolean(v))
		return snprintf(buf, len, "%s", json_is_true(v) ? "yes" : "no"), 0;
	return -1;
}

/* PUT/PATCH {"KEY": "VALUE", ...}: all or nothing, each value checked by
 * the config file's own code (conf_set_value()).  Changes live in memory
 * only: SIGHUP reads the file again and so undoes them (docs/pxed.8.md). */
int api_settings_set(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
		     json_t **out, struct api_err *e)
{
	json_error_t jerr;
	json_t *o = NULL, *v, *changed = NULL;
	struct pxed_conf *next = NULL;
	const char *key;
	char err[CONF_ERR_LEN], text[1024], old[1024], now[1024];
	int rc = -1;

	if (!s->conf_rw)
		return api_fail(e, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
				"settings cannot be changed on this server");
	if (!r->body_len)
		return api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_json", "request body is empty");
	o = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!o)
		return api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_json",
				"bad JSON at line %d column %d: %s", jerr.line, jerr.column,
				jerr.text);
	if (!json_is_object(o) || json_object_size(o) == 0) {
		api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_json",
			 "request body must be a JSON object of one or more \"Setting\": \"value\"");
		goto done;
	}
	/* Every key first: an unknown or restart-only one refuses the lot. */
	json_object_foreach(o, key, v) {
		struct conf_setting st;
		char esc[80];
		log_escape(esc, sizeof(esc), key, strlen(key));
		if (conf_setting_find(key, &st, err, sizeof(err)) < 0) {
			log_escape(esc, sizeof(esc), err, strlen(err));
			api_fail(e, MHD_HTTP_BAD_REQUEST, "unknown_field", "%s", esc);
			goto done;
		}
		if (st.restart) {
			api_fail(e, MHD_HTTP_CONFLICT, "needs_restart",
				 "%s needs a restart: change it in the configuration file and "
				 "restart pxed", st.label);
			goto done;
		}
		if (setting_text(v, text, sizeof(text)) < 0) {
			api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_field",
				 "%s: the value must be a string, a number or true/false", st.name);
			goto done;
		}
	}
	next = malloc(sizeof(*next));
	changed = json_array();
	if (!next || !changed) {
		api_fail(e, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "out of memory");
		goto done;
	}
	memcpy(next, s->conf_rw, sizeof(*next));
	json_object_foreach(o, key, v) {
		setting_text(v, text, sizeof(text));
		if (conf_set_value(next, key, text, err, sizeof(err)) < 0) {
			char esc[CONF_ERR_LEN];
			log_escape(esc, sizeof(esc), err, strlen(err));
			api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_field", "%s", esc);
			goto done;
		}
	}
	/* Every value passed: log each change, then swap the settings in. */
	json_object_foreach(o, key, v) {
		struct conf_setting st;
		conf_setting_find(key, &st, err, sizeof(err));
		conf_get_value(s->conf_rw, key, old, sizeof(old));
		conf_get_value(next, key, now, sizeof(now));
		if (st.secret) {
			/* the hash changes even for the same password: always a change */
			log_info("conf", "settings: %s changed by API (now %s)", st.name, now);
		} else if (strcmp(old, now) != 0) {
			log_info("conf", "settings: %s changed from %s to %s by API", st.name, old, now);
		} else {
			log_info("conf", "settings: %s set to %s by API (unchanged)", st.name, now);
		}
		json_array_append_new(changed,
				      json_pack("{s:s, s:o, s:o}", "name", st.name, "old",
						api_str_json(old), "value", api_str_json(now)));
	}
	memcpy(s->conf_rw, next, sizeof(*next));
	if (s->settings_applied)
		s->settings_applied(s->settings_ctx, "settings changed by API");
	*out = json_pack("{s:O}", "changed", changed);
	rc = MHD_HTTP_OK;
done:
	if (next) {
		explicit_bzero(next, sizeof(*next));
		free(next);
	}
	/* the body may hold a PXEPassword */
	if (r->body)
		explicit_bzero(r->body, r->body_len);
	json_decref(changed);
	json_decref(o);
	return rc;
}
