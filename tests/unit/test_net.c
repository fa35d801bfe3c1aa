/* Unit tests of networking: MAC parsing and defaults, attachment checks
 * (socket type, connection, MTU limits, missing bridge), configuration
 * copies and validation. */
#include "../unit/check.h"
#include "config/network_priv.h"
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vmkit/vmkit.h>

static void test_mac(void)
{
	static const char *const bad[] = {
	    "",
	    "52:54:00:12:34",
	    "52:54:00:12:34:5",
	    "52:54:00:12:34:567",
	    "52:54:00:12:34:56:",
	    "5254.0012.3456",
	    "01:00:5e:00:00:01",
	    "ff:ff:ff:ff:ff:ff",
	    "00:00:00:00:00:00",
	    "52:54-00:12:34:56",
	    "g2:54:00:12:34:56",
	    "52:54:00:12:34:5g",
	    "52::54:00:12:34:56",
	};
	uint8_t m[6];
	char buf[18];

	CHECK(net_mac_parse("52:54:00:12:34:56", m) == NULL && m[0] == 0x52 && m[5] == 0x56,
	      "plain MAC parses");
	CHECK(net_mac_parse("02-AB-cd-EF-00-01", m) == NULL && m[1] == 0xab && m[3] == 0xef,
	      "dashes, mixed case");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(net_mac_parse(bad[i], m) != NULL, "\"%s\" refused", bad[i]);
	CHECK(net_mac_parse(NULL, m) != NULL, "NULL refused");
	net_mac_format((const uint8_t[]){0x52, 0x54, 0, 0xa, 0xbc, 0xff}, buf);
	CHECK(strcmp(buf, "52:54:00:0a:bc:ff") == 0, "format: %s", buf);
	int good = 0;
	for (int i = 0; i < 64; i++) {
		net_mac_random(m);
		good += (m[0] & 3) == 2 && net_mac_parse((net_mac_format(m, buf), buf), m) == NULL;
	}
	CHECK(good == 64, "random MACs are unicast and locally administered (%d/64)", good);
}

static void test_attachments(void)
{
	vmk_network_attachment *a;
	vmk_error *err = NULL;
	int sp[2], st[2];

	CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sp) == 0, "socketpair");
	a = vmk_fd_network_attachment_new(sp[0], &err);
	CHECK(a && !err, "datagram socketpair accepted");
	CHECK(vmk_fd_network_attachment_get_mtu(a) == 1500, "default MTU 1500");
	CHECK(!vmk_fd_network_attachment_set_mtu(a, 1499, &err) &&
		  vmk_error_get_code(err) == VMK_ERR_NETWORK_ATTACHMENT &&
		  strstr(vmk_error_get_message(err), "1499"),
	      "MTU 1499 refused: %s", vmk_error_get_message(err));
	vmk_error_free(err);
	err = NULL;
	CHECK(!vmk_fd_network_attachment_set_mtu(a, 65536, NULL), "MTU 65536 refused");
	CHECK(vmk_fd_network_attachment_set_mtu(a, 1500, NULL) &&
		  vmk_fd_network_attachment_set_mtu(a, 65535, NULL),
	      "MTU 1500 and 65535 accepted");
	CHECK(vmk_fd_network_attachment_get_mtu(a) == 65535, "MTU kept");
	vmk_network_attachment *c = vmk_network_attachment_copy(a);
	CHECK(c && vmk_fd_network_attachment_get_mtu(c) == 65535, "copy keeps the MTU");
	vmk_network_attachment_free(c);
	vmk_network_attachment_free(a);

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, st) == 0, "stream socketpair");
	CHECK(!vmk_fd_network_attachment_new(st[0], &err) && strstr(vmk_error_get_message(err), "datagram"),
	      "stream socket refused: %s", vmk_error_get_message(err));
	vmk_error_free(err);
	err = NULL;
	int unconn = socket(AF_UNIX, SOCK_DGRAM, 0);
	CHECK(!vmk_fd_network_attachment_new(unconn, &err) &&
		  strstr(vmk_error_get_message(err), "not connected"),
	      "unconnected socket refused: %s", vmk_error_get_message(err));
	vmk_error_free(err);
	err = NULL;
	CHECK(!vmk_fd_network_attachment_new(-1, &err) && vmk_error_get_code(err) == VMK_ERR_INVALID_ARGUMENT,
	      "fd -1 refused");
	vmk_error_free(err);
	err = NULL;
	int fds[2];
	CHECK(pipe(fds) == 0 && !vmk_fd_network_attachment_new(fds[0], &err) &&
		  strstr(vmk_error_get_message(err), "not a socket"),
	      "pipe refused: %s", vmk_error_get_message(err));
	vmk_error_free(err);
	err = NULL;

	CHECK(!vmk_bridge_network_attachment_new("vmkno-br0", &err) &&
		  strstr(vmk_error_get_message(err), "bridge vmkno-br0 does not exist"),
	      "missing bridge: %s", vmk_error_get_message(err));
	vmk_error_free(err);
	err = NULL;
	CHECK(!vmk_tap_network_attachment_new("vmkno-tap0", &err) &&
		  strstr(vmk_error_get_message(err), "does not exist"),
	      "missing TAP: %s", vmk_error_get_message(err));
	vmk_error_free(err);
	err = NULL;
	CHECK(!vmk_tap_network_attachment_new("a-name-far-too-long-for-linux", &err) &&
		  strstr(vmk_error_get_message(err), "longer than"),
	      "long name: %s", vmk_error_get_message(err));
	vmk_error_free(err);
	err = NULL;
	CHECK(!vmk_bridge_network_attachment_new("../x", &err), "path-like name refused");
	vmk_error_free(err);
	close(sp[0]);
	close(sp[1]);
	close(st[0]);
	close(st[1]);
	close(unconn);
	close(fds[0]);
	close(fds[1]);
}

static void test_config(void)
{
	vmk_config *cfg = vmk_config_new();
	vmk_network_attachment *a;
	vmk_network_device *d;
	vmk_error *err = NULL;
	char m1[18], m2[18];
	int sp[2];

	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp) == 0, "seqpacket socketpair");
	a = vmk_fd_network_attachment_new(sp[0], NULL);
	CHECK(a != NULL, "seqpacket accepted");
	d = vmk_virtio_network_device_new(a);
	CHECK(d && !vmk_network_device_get_mac(d, m1), "no MAC before it is added");
	CHECK(!vmk_virtio_network_device_set_mac(d, "01:02:03:04:05:06", &err) &&
		  vmk_error_get_code(err) == VMK_ERR_MAC_ADDRESS &&
		  strstr(vmk_error_get_message(err), "multicast"),
	      "multicast MAC refused: %s", vmk_error_get_message(err));
	vmk_error_free(err);
	err = NULL;
	CHECK(vmk_config_add_network_device(cfg, d, NULL), "added");
	CHECK(vmk_config_add_network_device(cfg, d, NULL), "added twice");
	CHECK(cfg->network_count == 2 && cfg->network[0]->mac_set, "random MAC chosen");
	net_mac_format(cfg->network[0]->mac, m1);
	net_mac_format(cfg->network[1]->mac, m2);
	CHECK(strcmp(m1, m2) != 0, "two devices, two MACs: %s %s", m1, m2);
	CHECK((cfg->network[0]->mac[0] & 3) == 2, "locally administered unicast: %s", m1);
	vmk_config *copy = vmk_config_copy(cfg);
	CHECK(copy && copy->network_count == 2 && memcmp(copy->network[0]->mac, cfg->network[0]->mac, 6) == 0,
	      "a copy keeps the MAC");
	CHECK(vmk_virtio_network_device_set_mac(d, "52:54:00:00:00:01", NULL), "set MAC");
	for (int i = 2; i < 8; i++)
		vmk_config_add_network_device(cfg, d, NULL);
	CHECK(!vmk_config_add_network_device(cfg, d, &err) &&
		  vmk_error_get_code(err) == VMK_ERR_LIMIT_EXCEEDED,
	      "at most 8 devices");
	vmk_error_free(err);
	err = NULL;
	vmk_config_free(cfg);

	/* The peer goes away between configuration and start. */
	vmk_error *verr = NULL;
	close(sp[1]);
	close(sp[0]);
	net_attachment_check(copy->network[0]->attachment, "network_devices[0].attachment", &verr);
	CHECK(verr == NULL || strstr(vmk_error_get_message(verr), "network_devices[0]"),
	      "check names the device: %s", verr ? vmk_error_get_message(verr) : "(still connected)");
	vmk_error_free(verr);
	vmk_config_free(copy);
	vmk_network_device_free(d);
	vmk_network_attachment_free(a);
}

int main(void)
{
	test_mac();
	test_attachments();
	test_config();
	return check_done();
}
