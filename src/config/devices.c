/* Entropy and memory balloon devices (Apple: VZVirtioEntropyDeviceConfiguration,
 * VZVirtioTraditionalMemoryBalloonDeviceConfiguration). Neither has settings,
 * so a configuration only records that it wants one; a second would give the
 * guest nothing a first does not. */
#include "config/config_priv.h"
#include "util/error_priv.h"

static bool add_once(vmk_config *cfg, bool *slot, const char *field, vmk_error **err)
{
	if (!cfg)
		return vmk_set_error(err, VMK_ERR_INVALID_ARGUMENT, field, "configuration is NULL");
	if (*slot)
		return vmk_set_error(err, VMK_ERR_LIMIT_EXCEEDED, field, "%s: a VM has at most one", field);
	*slot = true;
	return true;
}

bool vmk_config_add_entropy_device(vmk_config *cfg, vmk_error **err)
{
	return add_once(cfg, cfg ? &cfg->entropy : NULL, "entropy", err);
}

bool vmk_config_add_memory_balloon(vmk_config *cfg, vmk_error **err)
{
	return add_once(cfg, cfg ? &cfg->balloon : NULL, "memory_balloon", err);
}
