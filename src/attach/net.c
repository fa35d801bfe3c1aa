/* Picks the network backend an attachment describes. */
#include "attach/net.h"
#include "config/network_priv.h"
#include "util/error_priv.h"

/* NAT (nat.c, libslirp) may be left out of a build. */
__attribute__((weak)) struct net_backend *nat_backend_new(const struct nat_config *n, const char *field,
							  vmk_error **err);

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
		if (nat_backend_new)
			return nat_backend_new(a->nat, field, err);
		vmk_set_error(err, VMK_ERR_NOT_SUPPORTED, field,
			      "%s: NAT networking is not built into this vmkit", field);
		return NULL;
	}
	vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, field, "%s: unknown attachment kind %d", field,
		      (int)a->kind);
	return NULL;
}
