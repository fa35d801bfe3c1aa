/* One function per vmkit.t= test; each prints TAP lines and returns. */
#ifndef GUEST_TESTS_H
#define GUEST_TESTS_H

void test_boot(void);
void test_acpi(void);
void test_uart(void);
void test_rtc(void);
void test_smp(void);
void test_powerbutton(void);
void test_reset(void);
void test_pause(void);
void test_halt(void);
void test_virtio(void);
void test_smbios(void);
void test_firmware(void);

#endif
