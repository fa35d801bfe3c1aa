/* Inside the REST server: vfkit's endpoints (rest.c) and vmkit's own under
 * /vmkit/ (ext.c) share the request body and the replies. */
#ifndef VMK_REST_PRIV_H
#define VMK_REST_PRIV_H

#include <json-c/json.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <vmkit/vmkit.h>

#define REST_MAX_BODY 4096

struct body {
	char buf[REST_MAX_BODY + 1];
	size_t len;
	bool too_big;
};

enum MHD_Result rest_reply(struct MHD_Connection *c, unsigned status, const char *body, const char *type);
/* Sends o (and drops the reference). */
enum MHD_Result rest_reply_json(struct MHD_Connection *c, unsigned status, json_object *o);
/* {"error":"msg"} */
enum MHD_Result rest_reply_error(struct MHD_Connection *c, unsigned status, const char *msg);
/* /vmkit/...: balloon and media change (ext.c). */
enum MHD_Result rest_ext_handle(vmk_vm *vm, struct MHD_Connection *c, const char *url, bool get, bool post,
				struct body *b);

#endif
