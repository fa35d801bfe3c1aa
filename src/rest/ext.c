/* vmkit's own REST endpoints, beside vfkit's and under their own prefix so
 * no vfkit client can mistake them: what the C API can change on a running
 * VM, over the same loopback-or-unix-socket server.
 *   GET  /vmkit/balloon        the balloon's target, actual size and the
 *                              guest's statistics (bytes; absent when the
 *                              guest does not report them)
 *   POST /vmkit/balloon        {"targetBytes":N}
 *   POST /vmkit/storage/I      {"path":"IMG"[,"readOnly":B]} inserts a disk
 *                              image into storage device I; {"path":null}
 *                              ejects
 *   POST /vmkit/input          one of {"text":"..."}, {"key":CODE,"pressed":B},
 *                              {"x":X,"y":Y}, {"dx":DX,"dy":DY},
 *                              {"button":"left|right|middle|side|extra","pressed":B},
 *                              {"wheel":CLICKS}
 *   GET  /vmkit/screenshot[?device=D&scanout=S]
 *                              what the display shows, as image/png (headers
 *                              X-Frame-Serial and X-Frame-Active)
 *   POST /vmkit/display        {"width":W,"height":H[,"device":D,"scanout":S]}
 *                              resizes a display (the guest sees a new mode)
 * Success is 200 with a JSON object; a body that is not the object described
 * is 400, a device index that does not exist 404, a call the VM refuses in
 * its state 409, anything else vmkit refuses 422; each with {"error":...}
 * carrying vmkit's message. */
#include "rest/rest_priv.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_object *parse(struct body *b, const char **why)
{
	if (b->too_big) {
		*why = "request body too large";
		return NULL;
	}
	b->buf[b->len] = '\0';
	json_object *o = json_tokener_parse(b->buf);
	if (!o || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		*why = "invalid JSON: expected an object";
		return NULL;
	}
	return o;
}

static enum MHD_Result reply_vmk_error(struct MHD_Connection *c, vmk_error *err)
{
	unsigned status = 422;
	char msg[512];

	switch (vmk_error_get_code(err)) {
	case VMK_ERR_INVALID_STATE:
		status = MHD_HTTP_CONFLICT;
		break;
	case VMK_ERR_INVALID_ARGUMENT:
		status = MHD_HTTP_BAD_REQUEST;
		break;
	case VMK_ERR_INTERNAL:
	case VMK_ERR_OUT_OF_MEMORY:
		status = MHD_HTTP_INTERNAL_SERVER_ERROR;
		break;
	default:
		break;
	}
	snprintf(msg, sizeof(msg), "%s", err ? vmk_error_get_message(err) : "failed");
	vmk_error_free(err);
	return rest_reply_error(c, status, msg);
}

static void put_u64(json_object *o, const char *key, uint64_t v)
{
	if (v != UINT64_MAX)
		json_object_object_add(o, key, json_object_new_uint64(v));
}

static enum MHD_Result balloon(vmk_vm *vm, struct MHD_Connection *c, bool get, struct body *b)
{
	vmk_error *err = NULL;

	if (get) {
		vmk_balloon_stats st;
		if (!vmk_vm_get_balloon_stats(vm, &st, &err))
			return reply_vmk_error(c, err);
		json_object *o = json_object_new_object();
		json_object_object_add(o, "targetBytes", json_object_new_uint64(st.target_bytes));
		json_object_object_add(o, "actualBytes", json_object_new_uint64(st.actual_bytes));
		put_u64(o, "freeMemory", st.free_memory);
		put_u64(o, "totalMemory", st.total_memory);
		put_u64(o, "availableMemory", st.available_memory);
		put_u64(o, "diskCaches", st.disk_caches);
		put_u64(o, "swapIn", st.swap_in);
		put_u64(o, "swapOut", st.swap_out);
		put_u64(o, "majorFaults", st.major_faults);
		put_u64(o, "minorFaults", st.minor_faults);
		return rest_reply_json(c, MHD_HTTP_OK, o);
	}
	const char *why;
	json_object *o = parse(b, &why), *t;
	if (!o)
		return rest_reply_error(c, MHD_HTTP_BAD_REQUEST, why);
	if (!json_object_object_get_ex(o, "targetBytes", &t) || !json_object_is_type(t, json_type_int) ||
	    json_object_get_int64(t) < 0) {
		json_object_put(o);
		return rest_reply_error(c, MHD_HTTP_BAD_REQUEST, "targetBytes: expected a number of bytes");
	}
	uint64_t target = json_object_get_uint64(t);
	json_object_put(o);
	if (!vmk_vm_set_balloon_target(vm, target, &err))
		return reply_vmk_error(c, err);
	return rest_reply_json(c, MHD_HTTP_OK, json_object_new_object());
}

static enum MHD_Result storage(vmk_vm *vm, struct MHD_Connection *c, const char *idx, struct body *b)
{
	char *end;
	unsigned long i = strtoul(idx, &end, 10);
	vmk_error *err = NULL;
	const char *why;

	if (!*idx || *end || i > 1024)
		return rest_reply_error(c, MHD_HTTP_NOT_FOUND, "no such storage device");
	json_object *o = parse(b, &why), *p, *ro;
	if (!o)
		return rest_reply_error(c, MHD_HTTP_BAD_REQUEST, why);
	bool has_path = json_object_object_get_ex(o, "path", &p);
	bool read_only = json_object_object_get_ex(o, "readOnly", &ro) && json_object_get_boolean(ro);
	if (!has_path || (p && !json_object_is_type(p, json_type_string))) {
		json_object_put(o);
		return rest_reply_error(c, MHD_HTTP_BAD_REQUEST,
					"path: expected a disk image path, or null to eject");
	}
	vmk_storage_attachment *a = NULL;
	if (p && !(a = vmk_disk_image_attachment_new(json_object_get_string(p), read_only, &err))) {
		json_object_put(o);
		return reply_vmk_error(c, err);
	}
	json_object_put(o);
	bool ok = vmk_vm_change_storage_attachment(vm, (unsigned)i, a, &err);
	vmk_storage_attachment_free(a);
	if (!ok && vmk_error_get_code(err) == VMK_ERR_INVALID_ARGUMENT) {
		char msg[512];
		snprintf(msg, sizeof(msg), "%s", vmk_error_get_message(err));
		vmk_error_free(err);
		return rest_reply_error(c, MHD_HTTP_NOT_FOUND, msg);
	}
	if (!ok)
		return reply_vmk_error(c, err);
	return rest_reply_json(c, MHD_HTTP_OK, json_object_new_object());
}

static bool get_int(json_object *o, const char *key, int32_t *v)
{
	json_object *x;
	if (!json_object_object_get_ex(o, key, &x) || !json_object_is_type(x, json_type_int))
		return false;
	int64_t n = json_object_get_int64(x);
	if (n < INT32_MIN || n > INT32_MAX)
		return false;
	*v = (int32_t)n;
	return true;
}

static enum MHD_Result input(vmk_vm *vm, struct MHD_Connection *c, struct body *b)
{
	static const char *const buttons[] = {"left", "right", "middle", "side", "extra"};
	const char *why;
	json_object *o = parse(b, &why), *x;
	vmk_error *err = NULL;
	int32_t v1, v2;
	bool ok;

	if (!o)
		return rest_reply_error(c, MHD_HTTP_BAD_REQUEST, why);
	bool pressed = json_object_object_get_ex(o, "pressed", &x) && json_object_get_boolean(x);
	if (json_object_object_get_ex(o, "text", &x) && json_object_is_type(x, json_type_string)) {
		ok = vmk_vm_input_type_text(vm, json_object_get_string(x), &err);
	} else if (get_int(o, "key", &v1)) {
		if (v1 <= 0 || v1 > UINT16_MAX) {
			json_object_put(o);
			return rest_reply_error(c, MHD_HTTP_BAD_REQUEST, "key: expected an evdev key code");
		}
		ok = vmk_vm_input_key(vm, (uint16_t)v1, pressed, &err);
	} else if (get_int(o, "x", &v1) && get_int(o, "y", &v2)) {
		ok = vmk_vm_input_pointer_position(vm, v1, v2, &err);
	} else if (get_int(o, "dx", &v1) && get_int(o, "dy", &v2)) {
		ok = vmk_vm_input_pointer_motion(vm, v1, v2, &err);
	} else if (get_int(o, "wheel", &v1)) {
		ok = vmk_vm_input_wheel(vm, v1, &err);
	} else if (json_object_object_get_ex(o, "button", &x) && json_object_is_type(x, json_type_string)) {
		unsigned i = 0;
		while (i < 5 && strcmp(json_object_get_string(x), buttons[i]))
			i++;
		if (i == 5) {
			json_object_put(o);
			return rest_reply_error(c, MHD_HTTP_BAD_REQUEST,
						"button: expected left, right, middle, side or extra");
		}
		ok = vmk_vm_input_button(vm, (vmk_input_button)i, pressed, &err);
	} else {
		json_object_put(o);
		return rest_reply_error(c, MHD_HTTP_BAD_REQUEST,
					"expected text, key, x and y, dx and dy, button or wheel");
	}
	json_object_put(o);
	if (!ok)
		return reply_vmk_error(c, err);
	return rest_reply_json(c, MHD_HTTP_OK, json_object_new_object());
}

/* A query argument as an index: absent is 0, anything but 0-99 is false. */
static bool query_index(struct MHD_Connection *c, const char *key, unsigned *v)
{
	const char *s = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
	char *end;
	*v = 0;
	if (!s)
		return true;
	unsigned long n = strtoul(s, &end, 10);
	if (!*s || *end || n > 99)
		return false;
	*v = (unsigned)n;
	return true;
}

static enum MHD_Result screenshot(vmk_vm *vm, struct MHD_Connection *c)
{
	unsigned dev, scanout;
	vmk_error *err = NULL;
	vmk_frame *f;
	uint8_t *png;
	size_t len;
	char serial[24];

	if (!query_index(c, "device", &dev) || !query_index(c, "scanout", &scanout))
		return rest_reply_error(c, MHD_HTTP_BAD_REQUEST, "device, scanout: expected small numbers");
	if (!vmk_vm_copy_frame(vm, dev, scanout, &f, &err))
		return reply_vmk_error(c, err);
	bool ok = vmk_frame_to_png(f, &png, &len, &err);
	snprintf(serial, sizeof(serial), "%llu", (unsigned long long)f->serial);
	bool active = f->active;
	vmk_frame_free(f);
	if (!ok)
		return reply_vmk_error(c, err);
	struct MHD_Response *r = MHD_create_response_from_buffer(len, png, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(png);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", "image/png");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-Frame-Serial", serial);
	MHD_add_response_header(r, "X-Frame-Active", active ? "true" : "false");
	enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result display(vmk_vm *vm, struct MHD_Connection *c, struct body *b)
{
	const char *why;
	json_object *o = parse(b, &why);
	vmk_error *err = NULL;
	int32_t w, h, dev = 0, scanout = 0;

	if (!o)
		return rest_reply_error(c, MHD_HTTP_BAD_REQUEST, why);
	bool ok = get_int(o, "width", &w) && get_int(o, "height", &h) && w > 0 && h > 0;
	json_object *x;
	if (json_object_object_get_ex(o, "device", &x))
		ok = ok && get_int(o, "device", &dev) && dev >= 0;
	if (json_object_object_get_ex(o, "scanout", &x))
		ok = ok && get_int(o, "scanout", &scanout) && scanout >= 0;
	json_object_put(o);
	if (!ok)
		return rest_reply_error(c, MHD_HTTP_BAD_REQUEST,
					"expected width and height in pixels (and device, scanout)");
	if (!vmk_vm_reconfigure_display(vm, (unsigned)dev, (unsigned)scanout, (uint32_t)w, (uint32_t)h, &err))
		return reply_vmk_error(c, err);
	return rest_reply_json(c, MHD_HTTP_OK, json_object_new_object());
}

enum MHD_Result rest_ext_handle(vmk_vm *vm, struct MHD_Connection *c, const char *url, bool get, bool post,
				struct body *b)
{
	if (!strcmp(url, "/vmkit/balloon") && (get || post))
		return balloon(vm, c, get, b);
	if (!strcmp(url, "/vmkit/input") && post)
		return input(vm, c, b);
	if (!strcmp(url, "/vmkit/screenshot") && get)
		return screenshot(vm, c);
	if (!strcmp(url, "/vmkit/display") && post)
		return display(vm, c, b);
	if (!strncmp(url, "/vmkit/storage/", 15) && post)
		return storage(vm, c, url + 15, b);
	return rest_reply(c, MHD_HTTP_NOT_FOUND, "404 page not found", "text/plain");
}
