/* vfkit's REST control API, as its clients (podman machine, crc, minikube)
 * drive it: GET /vm/state, POST /vm/state with {"state": "Stop" | "HardStop" |
 * "Pause" | "Resume"}, GET /vm/inspect. Field names, state strings and status
 * codes are vfkit's (pkg/rest/vf): a state change answers 202 with no body,
 * JSON that does not parse 400, an unknown or failed change 500, errors as
 * {"error": "..."}; other paths 404 "404 page not found", as its router does.
 * HTTP is libmicrohttpd's, on its own thread; JSON is json-c's. The server
 * listens on loopback or a unix socket unless the user allows more. */
#include "rest/rest.h"
#include "rest/rest_priv.h"
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* Request bodies are a few bytes; anything bigger is not a state change. */

struct rest_server {
	struct MHD_Daemon *daemon;
	vmk_vm *vm;
	char *inspect;
	char *unix_path;
	int fd;
};

struct rest_uri {
	enum { URI_NONE, URI_TCP, URI_UNIX } scheme;
	char host[256];
	char port[8];
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

static bool fail(char *why, size_t n, const char *msg, const char *uri)
{
	snprintf(why, n, "\"%s\": %s", uri, msg);
	return false;
}

static bool uri_parse(const char *uri, struct rest_uri *u, char *why, size_t n)
{
	memset(u, 0, sizeof(*u));
	if (strcmp(uri, "none://") == 0) {
		u->scheme = URI_NONE;
		return true;
	}
	if (strncmp(uri, "unix://", 7) == 0) {
		const char *p = uri + 7;
		if (*p != '/')
			return fail(why, n,
				    *p ? "invalid unix uri: host is forbidden"
				       : "invalid unix uri: missing path",
				    uri);
		if (strlen(p) >= sizeof(u->path))
			return fail(why, n,
				    "invalid unix uri: the path is longer than a unix socket address allows",
				    uri);
		u->scheme = URI_UNIX;
		strcpy(u->path, p);
		return true;
	}
	const char *hp = strncmp(uri, "tcp://", 6) == 0	   ? uri + 6
			 : strncmp(uri, "http://", 7) == 0 ? uri + 7
							   : NULL;
	if (!hp)
		return fail(why, n, "invalid scheme (none://, tcp://HOST:PORT or unix:///PATH)", uri);
	const char *colon = strrchr(hp, ':');
	if (strchr(hp, '/'))
		return fail(why, n, "invalid TCP uri: path is forbidden", uri);
	if (!colon || colon == hp)
		return fail(why, n, colon ? "invalid TCP uri: missing host" : "invalid TCP uri: missing port",
			    uri);
	const char *port = colon + 1;
	char *end;
	long pn = strtol(port, &end, 10);
	if (!*port || *end || pn < 1 || pn > 65535)
		return fail(why, n, "invalid TCP uri: missing port", uri);
	size_t hl = (size_t)(colon - hp);
	/* [v6]:port */
	if (hp[0] == '[' && hl >= 2 && hp[hl - 1] == ']') {
		hp++;
		hl -= 2;
	}
	if (hl == 0 || hl >= sizeof(u->host))
		return fail(why, n, "invalid TCP uri: missing host", uri);
	memcpy(u->host, hp, hl);
	snprintf(u->port, sizeof(u->port), "%ld", pn);
	u->scheme = URI_TCP;
	return true;
}

static bool is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6)
		return !memcmp(&((const struct sockaddr_in6 *)sa)->sin6_addr, &in6addr_loopback,
			       sizeof(in6addr_loopback));
	return false;
}

/* The first address of a TCP uri; every address must be loopback unless
 * allow_remote. */
static struct addrinfo *uri_resolve(const struct rest_uri *u, const char *uri, bool allow_remote, char *why,
				    size_t n)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *ai = NULL;
	int r = getaddrinfo(u->host, u->port, &hints, &ai);

	if (r != 0) {
		snprintf(why, n, "\"%s\": cannot resolve %s: %s", uri, u->host, gai_strerror(r));
		return NULL;
	}
	for (struct addrinfo *a = ai; a && !allow_remote; a = a->ai_next)
		if (!is_loopback(a->ai_addr)) {
			snprintf(
			    why, n,
			    "\"%s\": %s is not a loopback address: anyone who reaches it could stop the VM "
			    "(--restful-allow-remote allows it)",
			    uri, u->host);
			freeaddrinfo(ai);
			return NULL;
		}
	return ai;
}

bool rest_uri_check(const char *uri, bool allow_remote, char *why, size_t why_len)
{
	struct rest_uri u;
	struct addrinfo *ai;

	if (!uri_parse(uri, &u, why, why_len))
		return false;
	if (u.scheme != URI_TCP)
		return true;
	if (!(ai = uri_resolve(&u, uri, allow_remote, why, why_len)))
		return false;
	freeaddrinfo(ai);
	return true;
}

static const char *vz_state(vmk_state s)
{
	switch (s) {
	case VMK_STATE_STOPPED:
		return "VirtualMachineStateStopped";
	case VMK_STATE_STARTING:
		return "VirtualMachineStateStarting";
	case VMK_STATE_RUNNING:
		return "VirtualMachineStateRunning";
	case VMK_STATE_PAUSING:
		return "VirtualMachineStatePausing";
	case VMK_STATE_PAUSED:
		return "VirtualMachineStatePaused";
	case VMK_STATE_RESUMING:
		return "VirtualMachineStateResuming";
	case VMK_STATE_STOPPING:
		return "VirtualMachineStateStopping";
	case VMK_STATE_ERROR:
		return "VirtualMachineStateError";
	}
	return "VirtualMachineStateError";
}

enum MHD_Result rest_reply(struct MHD_Connection *c, unsigned status, const char *body, const char *type)
{
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	if (type)
		MHD_add_response_header(r, "Content-Type", type);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

enum MHD_Result rest_reply_json(struct MHD_Connection *c, unsigned status, json_object *o)
{
	enum MHD_Result ret = rest_reply(
	    c, status,
	    json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
	    "application/json; charset=utf-8");
	json_object_put(o);
	return ret;
}

enum MHD_Result rest_reply_error(struct MHD_Connection *c, unsigned status, const char *msg)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "error", json_object_new_string(msg));
	return rest_reply_json(c, status, o);
}

static enum MHD_Result get_state(struct rest_server *s, struct MHD_Connection *c)
{
	json_object *o = json_object_new_object();

	/* In the order vfkit's encoder writes its map: sorted keys. */
	json_object_object_add(o, "canHardStop", json_object_new_boolean(vmk_vm_can_stop(s->vm)));
	json_object_object_add(o, "canPause", json_object_new_boolean(vmk_vm_can_pause(s->vm)));
	json_object_object_add(o, "canResume", json_object_new_boolean(vmk_vm_can_resume(s->vm)));
	json_object_object_add(o, "canStart", json_object_new_boolean(vmk_vm_can_start(s->vm)));
	json_object_object_add(o, "canStop", json_object_new_boolean(vmk_vm_can_request_stop(s->vm)));
	json_object_object_add(o, "state", json_object_new_string(vz_state(vmk_vm_get_state(s->vm))));
	return rest_reply_json(c, MHD_HTTP_OK, o);
}

static enum MHD_Result set_state(struct rest_server *s, struct MHD_Connection *c, struct body *b)
{
	json_object *o, *st;
	vmk_error *err = NULL;
	char msg[512];
	bool ok;

	if (b->too_big)
		return rest_reply_error(c, MHD_HTTP_BAD_REQUEST, "request body too large");
	b->buf[b->len] = '\0';
	o = json_tokener_parse(b->buf);
	if (!o || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return rest_reply_error(c, MHD_HTTP_BAD_REQUEST,
					b->len ? "invalid JSON: expected an object" : "EOF");
	}
	if (json_object_object_get_ex(o, "state", &st) && !json_object_is_type(st, json_type_string)) {
		json_object_put(o);
		return rest_reply_error(c, MHD_HTTP_BAD_REQUEST, "state: expected a string");
	}
	const char *want = st ? json_object_get_string(st) : "";
	if (!strcmp(want, "Pause"))
		ok = vmk_vm_pause(s->vm, &err);
	else if (!strcmp(want, "Resume"))
		ok = vmk_vm_resume(s->vm, &err);
	else if (!strcmp(want, "Stop"))
		ok = vmk_vm_request_stop(s->vm, &err);
	else if (!strcmp(want, "HardStop"))
		ok = vmk_vm_stop(s->vm, &err);
	else {
		snprintf(msg, sizeof(msg), "invalid new VMState: %s", want);
		json_object_put(o);
		return rest_reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, msg);
	}
	json_object_put(o);
	if (!ok) {
		snprintf(msg, sizeof(msg), "%s", err ? vmk_error_get_message(err) : "failed");
		vmk_error_free(err);
		return rest_reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, msg);
	}
	return rest_reply(c, MHD_HTTP_ACCEPTED, "", NULL);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
			      const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	struct rest_server *s = cls;
	struct body *b = *con_cls;

	(void)version;
	if (!b) {
		/* Headers only so far: the body (if any) comes in the next calls. */
		if (!(b = calloc(1, sizeof(*b))))
			return MHD_NO;
		*con_cls = b;
		return MHD_YES;
	}
	if (*upload_size) {
		size_t take = *upload_size;
		if (b->len + take > REST_MAX_BODY) {
			b->too_big = true;
			take = 0;
		}
		memcpy(b->buf + b->len, upload, take);
		b->len += take;
		*upload_size = 0;
		return MHD_YES;
	}
	bool get = !strcmp(method, MHD_HTTP_METHOD_GET), post = !strcmp(method, MHD_HTTP_METHOD_POST);
	if (!strcmp(url, "/vm/state") && get)
		return get_state(s, c);
	if (!strcmp(url, "/vm/state") && post)
		return set_state(s, c, b);
	if (!strncmp(url, "/vmkit/", 7))
		return rest_ext_handle(s->vm, c, url, get, post, b);
	if (!strcmp(url, "/vm/inspect") && get)
		return rest_reply(c, MHD_HTTP_OK, s->inspect, "application/json; charset=utf-8");
	return rest_reply(c, MHD_HTTP_NOT_FOUND, "404 page not found", "text/plain");
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode why)
{
	(void)cls;
	(void)c;
	(void)why;
	free(*con_cls);
	*con_cls = NULL;
}

static int listen_unix(const char *path, const char *uri, char *why, size_t n)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int fd;

	/* A stale socket of an earlier run is replaced; any other file stays. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(why, n, "\"%s\": %s exists and is not a socket", uri, path);
			return -1;
		}
		unlink(path);
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 16) != 0) {
		snprintf(why, n, "\"%s\": cannot listen on %s: %s", uri, path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int listen_tcp(const struct addrinfo *ai, const char *uri, char *why, size_t n)
{
	int one = 1, fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);

	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 16) != 0) {
		snprintf(why, n, "\"%s\": cannot listen: %s", uri, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

struct rest_server *rest_start(const char *uri, bool allow_remote, vmk_vm *vm, const char *inspect_json,
			       char *why, size_t why_len)
{
	struct rest_uri u;
	struct rest_server *s;

	if (!uri_parse(uri, &u, why, why_len))
		return NULL;
	if (!(s = calloc(1, sizeof(*s))) || !(s->inspect = strdup(inspect_json ? inspect_json : "{}"))) {
		free(s);
		snprintf(why, why_len, "out of memory");
		return NULL;
	}
	s->vm = vm;
	s->fd = -1;
	if (u.scheme == URI_UNIX) {
		s->fd = listen_unix(u.path, uri, why, why_len);
		if (s->fd >= 0 && !(s->unix_path = strdup(u.path))) {
			snprintf(why, why_len, "out of memory");
			unlink(u.path);
			close(s->fd);
			s->fd = -1;
		}
	} else if (u.scheme == URI_TCP) {
		/* Resolved again since rest_uri_check: the name may point elsewhere now. */
		struct addrinfo *ai = uri_resolve(&u, uri, allow_remote, why, why_len);
		if (ai) {
			s->fd = listen_tcp(ai, uri, why, why_len);
			freeaddrinfo(ai);
		}
	}
	if (s->fd < 0) {
		rest_stop(s);
		return NULL;
	}
	/* The daemon gets a duplicate: whether a failed start closed it or not,
	 * our descriptor is closed exactly once (and an unrelated descriptor
	 * that reused the number never is). */
	int mfd = fcntl(s->fd, F_DUPFD_CLOEXEC, 0);
	if (mfd < 0) {
		snprintf(why, why_len, "\"%s\": %s", uri, strerror(errno));
		rest_stop(s);
		return NULL;
	}
	s->daemon =
	    MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC, 0, NULL, NULL,
			     handle, s, MHD_OPTION_LISTEN_SOCKET, mfd, MHD_OPTION_NOTIFY_COMPLETED, completed,
			     NULL, MHD_OPTION_CONNECTION_LIMIT, (unsigned)16, MHD_OPTION_CONNECTION_TIMEOUT,
			     (unsigned)30, MHD_OPTION_END);
	if (!s->daemon) {
		snprintf(why, why_len, "\"%s\": the HTTP server did not start", uri);
		rest_stop(s);
		return NULL;
	}
	close(s->fd); /* the daemon listens on its duplicate; rest_stop takes that back */
	s->fd = -1;
	return s;
}

void rest_stop(struct rest_server *s)
{
	if (!s)
		return;
	if (s->daemon) {
		/* A HardStop or Stop ends the VM, and so the process, while its 202
		 * may still be on its way: stop accepting, let the open requests
		 * finish (for a moment at most), then stop. */
		MHD_socket lfd = MHD_quiesce_daemon(s->daemon);
		for (int i = 0; i < 100; i++) {
			const union MHD_DaemonInfo *info =
			    MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
			if (!info || info->num_connections == 0)
				break;
			usleep(20000);
		}
		MHD_stop_daemon(s->daemon);
		if (lfd != MHD_INVALID_SOCKET)
			close(lfd);
	}
	if (s->fd >= 0)
		close(s->fd);
	if (s->unix_path)
		unlink(s->unix_path);
	free(s->unix_path);
	free(s->inspect);
	free(s);
}
