/* /api/v1/images: what a deployment boots (a kernel, initrd and command
 * line, or a network boot program). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/vocab.h"
#include "http/api.h"

static json_t *image_json(const struct store_image *im)
{
	json_t *o = json_pack("{s:I, s:o, s:o}", "id", (json_int_t)im->id, "name",
			      api_str_json(im->name), "created", api_time_json(im->created * 1000));
	if (!o)
		return NULL;
	if (im->arch[0])
		json_object_set_new(o, "arch", api_str_json(im->arch));
	if (im->loader[0])
		json_object_set_new(o, "loader", api_str_json(im->loader));
	if (im->nbp[0]) {
		json_object_set_new(o, "nbp", api_str_json(im->nbp));
	} else {
		json_object_set_new(o, "kernel", api_str_json(im->kernel));
		json_object_set_new(o, "initrd", api_str_json(im->initrd));
		json_object_set_new(o, "cmdline", api_str_json(im->cmdline));
	}
	return o;
}

static int add_image(void *ctx, const struct store_image *im)
{
	return json_array_append_new(ctx, image_json(im)) < 0 ? -ENOMEM : 0;
}

/* ---- /api/v1/images ---------------------------------------------------------- */

int api_images_list(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
		    json_t **out, struct api_err *e)
{
	int rc;
	*out = json_array();
	rc = store_image_list(s->store, add_image, *out);
	return rc < 0 ? api_store_fail(s, rc, e, "list images") : MHD_HTTP_OK;
}

int api_images_add(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
		   json_t **out, struct api_err *e)
{
	static const char *const keys[] = { "name", "kernel", "initrd", "cmdline", "nbp",
					    "arch", "loader", NULL };
	struct store_image im = { 0 };
	const char *name, *kernel, *initrd, *cmdline, *nbp, *arch, *loader;
	json_t *o = api_body_object(r, keys, e);
	int rc = -1;

	if (!o)
		return -1;
	if (api_field_name(o, "name", true, &name, e) < 0 ||
	    api_field_path(o, "kernel", false, &kernel, e) < 0 ||
	    api_field_path(o, "initrd", false, &initrd, e) < 0 ||
	    api_field_str(o, "cmdline", false, &cmdline, e) < 0 ||
	    api_field_path(o, "nbp", false, &nbp, e) < 0 ||
	    api_field_str(o, "arch", false, &arch, e) < 0 ||
	    api_field_str(o, "loader", false, &loader, e) < 0)
		goto done;
	/* Without arch an image is for x86 (BIOS and UEFI x64), as before. */
	if (arch && !vocab_image_arch_valid(arch)) {
		char names[128];

		vocab_list(VOCAB_IMAGE_ARCH, " or ", names, sizeof(names));
		api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_field",
			 "field 'arch' must be %s (or absent: %s, BIOS and UEFI x64)", names,
			 VOCAB_IMAGE_ARCH_DEFAULT_WORD);
		goto done;
	}
	if (loader && loader[0] && vocab_loader_parse(loader, 0) < 0) {
		char names[128];

		vocab_list(VOCAB_LOADER, " or ", names, sizeof(names));
		api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_field",
			 "field 'loader' must be %s (or absent: the setting)", names);
		goto done;
	}
	if (nbp && (kernel || initrd || cmdline)) {
		api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_field",
			 "field 'nbp' excludes 'kernel', 'initrd' and 'cmdline'");
		goto done;
	}
	if (!nbp && !kernel) {
		api_fail(e, MHD_HTTP_BAD_REQUEST, "missing_field",
			 "field 'kernel' (or 'nbp') is required");
		goto done;
	}
	/* The cmdline goes into an iPXE script verbatim: see boot_script.h. */
	if (cmdline && !http_cmdline_template_valid(cmdline)) {
		api_fail(e, MHD_HTTP_BAD_REQUEST, "invalid_field",
			 "field 'cmdline' must be at most 511 printable ASCII characters without "
			 "\" ' \\ | & # { } ` or a lone ;, and $ only in ${name} or "
			 "${name:-default}");
		goto done;
	}
	str_copy(im.name, sizeof(im.name), name);
	str_copy(im.kernel, sizeof(im.kernel), kernel ? kernel : "");
	str_copy(im.initrd, sizeof(im.initrd), initrd ? initrd : "");
	str_copy(im.cmdline, sizeof(im.cmdline), cmdline ? cmdline : "");
	str_copy(im.nbp, sizeof(im.nbp), nbp ? nbp : "");
	str_copy(im.arch, sizeof(im.arch), arch ? arch : "");
	str_copy(im.loader, sizeof(im.loader), loader ? loader : "");
	rc = store_image_add(s->store, &im);
	if (rc < 0) {
		rc = api_store_fail(s, rc, e, "add an image");
		goto done;
	}
	log_info(MOD, "image '%s' added", im.name);
	*out = image_json(&im);
	rc = MHD_HTTP_CREATED;
done:
	json_decref(o);
	return rc;
}

/* ---- /api/v1/images/NAME ----------------------------------------------------- */

static int image_lookup(struct http_server *s, const char *name, struct store_image *im,
			struct api_err *e)
{
	int rc = store_image_by_name(s->store, name, im);
	if (rc == -ENOENT)
		return api_fail(e, MHD_HTTP_NOT_FOUND, "not_found", "image '%s' does not exist", name);
	if (rc < 0)
		return api_store_fail(s, rc, e, "look up an image");
	return 0;
}

int api_image_get(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
		  json_t **out, struct api_err *e)
{
	struct api_call *a = r->state;
	struct store_image im;

	if (image_lookup(s, a->name, &im, e) < 0)
		return -1;
	*out = image_json(&im);
	return MHD_HTTP_OK;
}

int api_image_delete(struct http_server *s, struct MHD_Connection *c, struct http_request *r,
		     json_t **out, struct api_err *e)
{
	struct api_call *a = r->state;
	const char *name = a->name;
	struct store_image im;
	int rc;

	if (image_lookup(s, name, &im, e) < 0)
		return -1;
	rc = store_image_delete(s->store, name);
	if (rc == -EBUSY)
		return api_fail(e, MHD_HTTP_CONFLICT, "in_use",
				"image '%s' is used by a deployment; remove that first", name);
	if (rc < 0)
		return api_store_fail(s, rc, e, "delete an image");
	log_info(MOD, "image '%s' deleted", name);
	*out = json_pack("{s:s, s:b}", "name", name, "deleted", 1);
	return MHD_HTTP_OK;
}
