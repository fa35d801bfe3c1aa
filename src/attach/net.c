/* Picks the network backend an attachment describes. */
#include "attach/net.h"
#include "attach/nat.h"
#include "config/network_priv.h"
#include "util/error_priv.h"

struct net_backend *net_backend_open(const struct vmk_network_attachment *a, const char *field,
				     vmk_error **err)
{
	switch (a->kind) {
	case NET_ATTACH_FD:
		return net_fd_open(a, field, err);
	case NET_ATTACH_TAP:
	case NET_ATTACH_BRIDGE:
		return net_tap_open(a, field, err);
	case NET_ATTACH_NAT:
		/* A strong reference: a weak one would not pull nat.o out of the
		 * static library, and NAT would silently be missing. */
		return nat_backend_new(a->nat, field, err);
	}
	vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, field, "%s: unknown attachment kind %d", field,
		      (int)a->kind);
	return NULL;
}
