/* vfkit's REST control API (`--restful-uri`), served by libmicrohttpd on its
 * own thread. It uses only the public API, as any application could. */
#ifndef VMK_REST_H
#define VMK_REST_H

#include <stdbool.h>
#include <stddef.h>
#include <vmkit/vm.h>

struct rest_server;

/* Checks a --restful-uri value: none://, tcp://HOST:PORT (or http://),
 * unix:///PATH. A TCP host that is not loopback needs allow_remote. On
 * error writes a message naming the problem into why. */
bool rest_uri_check(const char *uri, bool allow_remote, char *why, size_t why_len);

/* Starts serving vm at uri. inspect_json is what GET /vm/inspect returns
 * (copied). A TCP address must still resolve to loopback only, unless
 * allow_remote. Returns NULL with a message in why. */
struct rest_server *rest_start(const char *uri, bool allow_remote, vmk_vm *vm, const char *inspect_json,
			       char *why, size_t why_len);
/* Stops serving; a unix socket's file is removed. */
void rest_stop(struct rest_server *s);

#endif
