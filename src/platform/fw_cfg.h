/* QEMU's firmware configuration device (fw_cfg), the channel OVMF reads its
 * platform description through: selector 0x510, data 0x511, DMA 0x514. */
#ifndef VMK_FW_CFG_H
#define VMK_FW_CFG_H

#include "core/memory.h"
#include "platform/bus.h"
#include <stddef.h>
#include <stdint.h>

#define FW_CFG_PORT_SEL	 0x510
#define FW_CFG_PORT_DATA 0x511
#define FW_CFG_PORT_DMA	 0x514

#define FW_CFG_SIGNATURE  0x00
#define FW_CFG_ID	  0x01
#define FW_CFG_UUID	  0x02
#define FW_CFG_RAM_SIZE	  0x03
#define FW_CFG_NB_CPUS	  0x05
#define FW_CFG_MAX_CPUS	  0x0f
#define FW_CFG_FILE_DIR	  0x19
#define FW_CFG_FILE_FIRST 0x20

#define FW_CFG_VERSION_TRADITIONAL (1u << 0)
#define FW_CFG_VERSION_DMA	   (1u << 1)

/* FWCfgDmaAccess.control, big-endian in guest memory. */
#define FW_CFG_DMA_CTL_ERROR  0x01
#define FW_CFG_DMA_CTL_READ   0x02
#define FW_CFG_DMA_CTL_SKIP   0x04
#define FW_CFG_DMA_CTL_SELECT 0x08
#define FW_CFG_DMA_CTL_WRITE  0x10

#define FW_CFG_MAX_FILES     64
#define FW_CFG_FILE_NAME_MAX 56 /* including the NUL */

struct fw_cfg;

/* DMA reaches guest RAM through mem only. Registers on pio; NULL when out
 * of memory or the ports are taken. The signature, ID and file directory
 * exist from the start. */
struct fw_cfg *fw_cfg_new(struct bus *pio, const struct gmem *mem);
/* Copies data in as a numbered item. Before vCPUs run. Returns 0 or -errno. */
int fw_cfg_add_item(struct fw_cfg *f, uint16_t key, const void *data, size_t len);
/* Copies data in as a named file with the next free key. Returns 0 or -errno. */
int fw_cfg_add_file(struct fw_cfg *f, const char *name, const void *data, size_t len);
void fw_cfg_free(struct fw_cfg *f);

#endif
