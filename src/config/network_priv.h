/* Network configuration helpers shared by src/config (which owns the
 * objects), the NAT settings (nat.c), the backends and the unit tests. */
#ifndef VMK_NETWORK_PRIV_H
#define VMK_NETWORK_PRIV_H

#include "config/config_priv.h"
#include <stdbool.h>
#include <stdint.h>
#include <vmkit/error.h>

#define NET_MIN_MTU	1500
#define NET_MAX_MTU	65535
#define NET_DEFAULT_MTU 1500

/* A blank attachment of kind (fd -1, default MTU), or NULL without memory. */
struct vmk_network_attachment *net_attachment_alloc(enum net_attachment_kind kind);

/* Parses "xx:xx:xx:xx:xx:xx" (also '-' separated). Returns NULL, or why
 * the text is not a usable unicast address (static string). */
const char *net_mac_parse(const char *text, uint8_t mac[6]);
void net_mac_format(const uint8_t mac[6], char buf[18]);
/* A random locally administered unicast address. */
void net_mac_random(uint8_t mac[6]);

/* Whether a can carry frames now: the socket is still a connected datagram
 * socket, the TAP interface or bridge exists. field prefixes the message. */
bool net_attachment_check(const struct vmk_network_attachment *a, const char *field, vmk_error **err);
/* Whether the attachment asked not to use vhost-net (NULL: no). */
bool net_attachment_no_vhost(const struct vmk_network_attachment *a);
/* Rechecks every network device, appending to *err. */
void network_validate(const struct vmk_config *cfg, vmk_error **err);

/* NAT settings (src/config/nat.c). Weak so the rest builds and reports
 * "not supported" while NAT is absent. */
__attribute__((weak)) struct nat_config *nat_config_copy(const struct nat_config *n);
__attribute__((weak)) void nat_config_free(struct nat_config *n);
__attribute__((weak)) bool nat_config_check(const struct nat_config *n, const char *field, vmk_error **err);

#endif
