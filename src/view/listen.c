/* Listening sockets for the views: HOST:PORT (loopback unless allowed) or
 * unix:PATH, with errors that name the address. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "view/view.h"

struct addr {
	bool unix_path;
	char host[256];
	char port[8];
	const char *path;
};

static bool parse(const char *s, struct addr *a, char *why, size_t n)
{
	*a = (struct addr){0};
	if (strncmp(s, "unix:", 5) == 0) {
		a->unix_path = true;
		a->path = s + 5;
		if (!*a->path || strlen(a->path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
			snprintf(why, n, "\"%s\": a unix socket path of 1 to %zu bytes", s,
				 sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
			return false;
		}
		return true;
	}
	const char *colon = strrchr(s, ':'), *host = s;
	size_t hl;
	if (!colon) {
		snprintf(why, n, "\"%s\": not HOST:PORT or unix:PATH", s);
		return false;
	}
	hl = (size_t)(colon - s);
	if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
		host++;
		hl -= 2;
	}
	if (hl == 0 || hl >= sizeof(a->host)) {
		snprintf(why, n, "\"%s\": missing host (127.0.0.1:PORT listens on loopback)", s);
		return false;
	}
	memcpy(a->host, host, hl);
	char *end;
	errno = 0;
	long port = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || port < 1 || port > 65535) {
		snprintf(why, n, "\"%s\": the port must be 1 to 65535", s);
		return false;
	}
	snprintf(a->port, sizeof(a->port), "%ld", port);
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

static struct addrinfo *resolve(const char *s, const struct addr *a, bool allow_remote, char *why, size_t n)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *ai = NULL;
	int r = getaddrinfo(a->host, a->port, &hints, &ai);

	if (r != 0) {
		snprintf(why, n, "\"%s\": cannot resolve %s: %s", s, a->host, gai_strerror(r));
		return NULL;
	}
	for (struct addrinfo *i = ai; i && !allow_remote; i = i->ai_next)
		if (!is_loopback(i->ai_addr)) {
			snprintf(why, n,
				 "\"%s\": %s is not a loopback address: anyone who reaches it could see and "
				 "drive the VM (--vnc-allow-remote allows it)",
				 s, a->host);
			freeaddrinfo(ai);
			return NULL;
		}
	return ai;
}

bool view_addr_check(const char *s, bool allow_remote, char *why, size_t n)
{
	struct addr a;
	struct addrinfo *ai;

	if (!parse(s, &a, why, n))
		return false;
	if (a.unix_path)
		return true;
	ai = resolve(s, &a, allow_remote, why, n);
	freeaddrinfo(ai);
	return ai != NULL;
}

int view_listen(const char *s, bool allow_remote, char *why, size_t n)
{
	struct addr a;
	int fd;

	if (!parse(s, &a, why, n))
		return -1;
	if (a.unix_path) {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		memcpy(sa.sun_path, a.path, strlen(a.path));
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 16) != 0) {
			snprintf(why, n, "\"%s\": %s", s, strerror(errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
		return fd;
	}
	struct addrinfo *ai = resolve(s, &a, allow_remote, why, n);
	if (!ai)
		return -1;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 16) != 0) {
		snprintf(why, n, "\"%s\": %s", s, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

void view_unlisten(const char *s)
{
	if (strncmp(s, "unix:", 5) == 0)
		unlink(s + 5);
}
