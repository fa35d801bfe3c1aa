/* vmkit: embed virtual machines in Linux applications. Umbrella header. */
#ifndef VMKIT_H
#define VMKIT_H

#include <vmkit/boot_loader.h>
#include <vmkit/config.h>
#include <vmkit/devices.h>
#include <vmkit/error.h>
#include <vmkit/filesystem.h>
#include <vmkit/graphics.h>
#include <vmkit/input.h>
#include <vmkit/network.h>
#include <vmkit/serial.h>
#include <vmkit/socket.h>
#include <vmkit/storage.h>
#include <vmkit/vm.h>

#define VMKIT_VERSION_MAJOR 0
#define VMKIT_VERSION_MINOR 1
#define VMKIT_VERSION_PATCH 0

#ifdef __cplusplus
extern "C" {
#endif
const char *vmk_version(void);
#ifdef __cplusplus
}
#endif
#endif
