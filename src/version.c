/* Library version string. */
#include <vmkit/vmkit.h>

#define STR2(x) #x
#define STR(x)	STR2(x)

const char *vmk_version(void)
{
	return STR(VMKIT_VERSION_MAJOR) "." STR(VMKIT_VERSION_MINOR) "." STR(VMKIT_VERSION_PATCH);
}
