/* kmain: reads the command line from boot_params and runs vmkit.t=TEST. */
#include "acpi.h"
#include "apic.h"
#include "tests.h"


static const struct {
	const char *name;
	void (*fn)(void);
} tests[] = {
	{ "boot", test_boot },
	{ "acpi", test_acpi },
	{ "uart", test_uart },
	{ "rtc", test_rtc },
	{ "smp", test_smp },
	{ "powerbutton", test_powerbutton },
	{ "reset", test_reset },
	{ "pause", test_pause },
	{ "poweroff", 0 },
	{ "halt", test_halt },
	{ "virtio", test_virtio },
	{ "smbios", test_smbios },
	{ "firmware", test_firmware },
};

void kmain(void);
void kmain(void)
{
	serial_init();
	boot_params = (const uint8_t *)entry_state.rsi;
	if (boot_params && (uint64_t)boot_params < 0x100000000ULL) {
		uint64_t p = bp32(0x228) | (uint64_t)bp32(0xc8) << 32;
		cmdline_set(p ? (const char *)p : "");
	} else {
		boot_params = 0;
		cmdline_set("");
	}
	idt_init();
	char name[32] = "";
	arg_str("vmkit.t", name, sizeof(name));
	printf("vmkit-testguest: cmdline \"%s\"\n", cmdline_get());
	for (unsigned i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		if (strlen(name) == strlen(tests[i].name) && !strncmp(name, tests[i].name, 32)) {
			if (tests[i].fn)
				tests[i].fn();
			tap_done_and_poweroff();
		}
	}
	tap_fail("unknown-test", "vmkit.t=\"%s\"", name);
	tap_done_and_poweroff();
}
