/* Layout of the configuration objects, shared by src/config (which owns
 * them) and src/vm (which reads its private copy when building a machine). */
#ifndef VMK_CONFIG_PRIV_H
#define VMK_CONFIG_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <vmkit/config.h>
#include <vmkit/filesystem.h>
#include <vmkit/graphics.h>
#include <vmkit/input.h>
#include <vmkit/socket.h>

#define VMK_MAX_16550_PORTS  4
#define VMK_MAX_SERIAL_PORTS 16

struct vmk_boot_loader {
	vmk_boot_loader_kind kind;
	char *kernel;	      /* LINUX */
	char *initrd;	      /* LINUX, may be NULL */
	char *cmdline;	      /* LINUX, never NULL ("" by default) */
	char *firmware;	      /* EFI, never NULL */
	char *variable_store; /* EFI, never NULL */
};

enum serial_attachment_kind { SERIAL_ATTACH_FD = 1, SERIAL_ATTACH_FILE = 2 };

struct vmk_serial_attachment {
	enum serial_attachment_kind kind;
	int read_fd;  /* FD: owned duplicate or -1 */
	int write_fd; /* FD: owned duplicate or -1 */
	char *path;   /* FILE */
	bool append;  /* FILE */
};

struct vmk_serial_port {
	vmk_serial_port_kind kind;
	struct vmk_serial_attachment *attachment;
};

#define VMK_MAX_STORAGE_DEVICES 16

enum storage_attachment_kind { STORAGE_ATTACH_IMAGE = 1, STORAGE_ATTACH_BLOCKDEV = 2 };

struct vmk_storage_attachment {
	enum storage_attachment_kind kind;
	char *path; /* NULL for a blockdev given by fd */
	int fd;	    /* BLOCKDEV by fd: owned duplicate, else -1 */
	bool read_only;
	vmk_disk_caching_mode caching;
	vmk_disk_sync_mode sync;
};

struct vmk_storage_device {
	struct vmk_storage_attachment *attachment; /* owned copy or NULL (empty drive) */
	char identifier[21];			   /* NUL-terminated, may be empty */
	unsigned num_queues;
};

#define VMK_MAX_NETWORK_DEVICES 8

enum net_attachment_kind { NET_ATTACH_FD = 1, NET_ATTACH_TAP, NET_ATTACH_BRIDGE, NET_ATTACH_NAT };

struct nat_config; /* src/config/nat.c */

struct vmk_network_attachment {
	enum net_attachment_kind kind;
	int fd;			/* FD: owned duplicate, else -1 */
	unsigned mtu;		/* FD */
	char *ifname;		/* TAP: the interface; BRIDGE: the bridge */
	struct nat_config *nat; /* NAT: owned */
	bool no_vhost;		/* TAP, BRIDGE: never hand the frames to vhost-net */
};

struct vmk_network_device {
	struct vmk_network_attachment *attachment; /* owned copy or NULL (cable unplugged) */
	uint8_t mac[6];
	bool mac_set;
};

#define VSOCK_DEFAULT_GUEST_CID 3

struct socket_forward {
	uint32_t port;
	vmk_socket_forward_mode mode;
	char *path;
};

struct vmk_socket_device {
	uint32_t guest_cid;
	struct socket_forward forwards[VMK_SOCKET_MAX_FORWARDS];
	size_t nforwards;
	char *hybrid_path; /* Firecracker's hybrid socket, or NULL */
};

struct fs_directory {
	char *name; /* multiple share: the entry in the root; single: NULL */
	char *path;
	bool read_only;
};

struct vmk_fs_device {
	char tag[VMK_FS_TAG_MAX + 1];
	bool multiple;
	struct fs_directory dirs[VMK_FS_MAX_DIRECTORIES];
	size_t ndirs;
};

struct vmk_input_device {
	vmk_input_kind kind;
	uint32_t width, height; /* screen pointer */
};

struct vmk_graphics_device {
	uint32_t width[VMK_MAX_SCANOUTS], height[VMK_MAX_SCANOUTS];
	size_t nscanouts;
	uint64_t memory_limit;
	bool vga; /* VGA compatible (the first device only) */
};

struct vmk_config {
	unsigned cpu_count;
	uint64_t memory_size;
	struct vmk_boot_loader *boot_loader;			    /* owned copy or NULL */
	struct vmk_serial_port *serial_ports[VMK_MAX_SERIAL_PORTS]; /* owned copies */
	size_t serial_port_count;
	vmk_reboot_action reboot_action;
	struct vmk_storage_device *storage[VMK_MAX_STORAGE_DEVICES]; /* owned copies */
	size_t storage_count;
	struct vmk_network_device *network[VMK_MAX_NETWORK_DEVICES]; /* owned copies, MAC set */
	size_t network_count;
	bool entropy;
	bool balloon;
	struct vmk_socket_device *vsock;	      /* owned copy or NULL */
	struct vmk_fs_device *fs[VMK_MAX_FS_DEVICES]; /* owned copies */
	size_t fs_count;
	struct vmk_input_device input[VMK_MAX_INPUT_DEVICES];
	size_t input_count;
	struct vmk_graphics_device graphics[VMK_MAX_GRAPHICS_DEVICES];
	size_t graphics_count;
	uint8_t machine_id[16]; /* SMBIOS system UUID, RFC 4122 byte order */
};

/* Facts read from a bzImage header, shared by validation and the loader. */
struct bzimage_info {
	uint16_t protocol;     /* e.g. 0x020f */
	uint8_t setup_sects;   /* 0 means 4 */
	uint32_t cmdline_size; /* max length without the NUL */
	uint32_t initrd_addr_max;
	uint16_t xloadflags;
	uint64_t pref_address;
	uint32_t init_size;
	uint32_t kernel_alignment;
	uint8_t relocatable;
	size_t setup_size; /* (setup_sects + 1) * 512 */
	size_t file_size;
};

/* Parses the header of a bzImage held in buf. Returns 0, or -EINVAL with a
 * reason in *why (static string) when it is not an x86-64 bzImage of
 * protocol 2.10 or later. */
struct vmk_socket_device *vmk_socket_device_copy(const struct vmk_socket_device *d);
struct vmk_fs_device *vmk_fs_device_copy(const struct vmk_fs_device *d);
/* validate(): every shared directory is an accessible directory. */
void fs_validate(const vmk_config *cfg, vmk_error **err);
/* validate(): every graphics device has a scanout. */
void graphics_validate(const vmk_config *cfg, vmk_error **err);
/* A scanout size within 64 to 8192 each way; field names it in the error. */
bool graphics_check_size(uint32_t width, uint32_t height, const char *field, vmk_error **err);

int bzimage_parse(const uint8_t *buf, size_t len, struct bzimage_info *info, const char **why);

#endif
