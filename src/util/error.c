/* vmk_error: a chain of (code, field, message) built by the library and
 * handed to the caller, who frees it with vmk_error_free(). */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error_priv.h"

struct vmk_error {
	vmk_error_code code;
	char *field;
	char *message;
	struct vmk_error *next;
};

/* Returned when allocating an error fails: callers still see a failure
 * with a code, and vmk_error_free() recognises it and leaves it alone. */
static struct vmk_error oom_error = {
    .code = VMK_ERR_OUT_OF_MEMORY,
    .field = "",
    .message = "out of memory while reporting an error",
};

/* Indexed by code; these strings are part of the API and never change. */
static const char *const code_names[VMK_ERR__COUNT] = {
    [VMK_ERR_NONE] = "none",
    [VMK_ERR_INTERNAL] = "internal",
    [VMK_ERR_INVALID_ARGUMENT] = "invalid-argument",
    [VMK_ERR_CPU_COUNT] = "cpu-count",
    [VMK_ERR_MEMORY_TOO_SMALL] = "memory-too-small",
    [VMK_ERR_MEMORY_ALIGNMENT] = "memory-alignment",
    [VMK_ERR_MEMORY_TOO_LARGE] = "memory-too-large",
    [VMK_ERR_NO_BOOT_LOADER] = "no-boot-loader",
    [VMK_ERR_KERNEL_UNREADABLE] = "kernel-unreadable",
    [VMK_ERR_KERNEL_FORMAT] = "kernel-format",
    [VMK_ERR_INITRD_UNREADABLE] = "initrd-unreadable",
    [VMK_ERR_CMDLINE_TOO_LONG] = "cmdline-too-long",
    [VMK_ERR_SERIAL_PORT] = "serial-port",
    [VMK_ERR_SERIAL_ATTACHMENT] = "serial-attachment",
    [VMK_ERR_LIMIT_EXCEEDED] = "limit-exceeded",
    [VMK_ERR_NO_KVM] = "no-kvm",
    [VMK_ERR_KVM_PERMISSION] = "kvm-permission",
    [VMK_ERR_KVM] = "kvm",
    [VMK_ERR_OUT_OF_MEMORY] = "out-of-memory",
    [VMK_ERR_INVALID_STATE] = "invalid-state",
    [VMK_ERR_NOT_SUPPORTED] = "not-supported",
    [VMK_ERR_TIMEOUT] = "timeout",
    [VMK_ERR_STORAGE_ATTACHMENT] = "storage-attachment",
    [VMK_ERR_DEVICE_IDENTIFIER] = "device-identifier",
    [VMK_ERR_NETWORK_ATTACHMENT] = "network-attachment",
    [VMK_ERR_MAC_ADDRESS] = "mac-address",
    [VMK_ERR_FIRMWARE] = "firmware",
    [VMK_ERR_VARIABLE_STORE] = "variable-store",
    [VMK_ERR_SOCKET_DEVICE] = "socket-device",
    [VMK_ERR_FS_DEVICE] = "fs-device",
    [VMK_ERR_CONNECTION_RESET] = "connection-reset",
};

const char *vmk_error_code_name(vmk_error_code code)
{
	if ((unsigned)code >= VMK_ERR__COUNT || !code_names[code])
		return "unknown";
	return code_names[code];
}

vmk_error_code vmk_error_get_code(const vmk_error *err)
{
	return err ? err->code : VMK_ERR_NONE;
}

const char *vmk_error_get_field(const vmk_error *err)
{
	return err && err->field ? err->field : "";
}

const char *vmk_error_get_message(const vmk_error *err)
{
	return err && err->message ? err->message : "";
}

const vmk_error *vmk_error_next(const vmk_error *err)
{
	return err ? err->next : NULL;
}

void vmk_error_free(vmk_error *err)
{
	while (err) {
		struct vmk_error *next = err->next;

		if (err != &oom_error) {
			free(err->field);
			free(err->message);
			free(err);
		}
		err = next;
	}
}

static void append(vmk_error **err, struct vmk_error *e)
{
	struct vmk_error **tail = err;

	while (*tail) {
		/* The static OOM error cannot carry a next pointer. */
		if (*tail == &oom_error) {
			vmk_error_free(e);
			return;
		}
		tail = &(*tail)->next;
	}
	*tail = e;
}

static struct vmk_error *make(vmk_error_code code, const char *field, char *message)
{
	struct vmk_error *e = calloc(1, sizeof(*e));

	if (e)
		e->field = strdup(field ? field : "");
	if (!e || !e->field || !message) {
		if (e)
			free(e->field);
		free(e);
		free(message);
		return &oom_error;
	}
	e->code = code;
	e->message = message;
	return e;
}

static bool set_error(vmk_error **err, vmk_error_code code, const char *field, int errnum, const char *fmt,
		      va_list ap)
{
	char *msg = NULL;
	char *full = NULL;

	if (!err)
		return false;
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	if (msg && errnum) {
		if (asprintf(&full, "%s: %s", msg, strerror(errnum)) < 0)
			full = NULL;
		free(msg);
		msg = full;
	}
	append(err, make(code, field, msg));
	return false;
}

bool vmk_set_error(vmk_error **err, vmk_error_code code, const char *field, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_error(err, code, field, 0, fmt, ap);
	va_end(ap);
	return false;
}

bool vmk_set_errno(vmk_error **err, vmk_error_code code, const char *field, int errnum, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_error(err, code, field, errnum, fmt, ap);
	va_end(ap);
	return false;
}

vmk_error *vmk_error_copy(const vmk_error *err)
{
	vmk_error *copy = NULL;

	for (; err; err = err->next) {
		char *msg = strdup(vmk_error_get_message(err));

		append(&copy, make(err->code, err->field, msg));
	}
	return copy;
}
