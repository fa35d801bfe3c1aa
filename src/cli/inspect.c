/* The answer to the REST API's GET /vm/inspect: the VM's configuration in
 * vfkit's own JSON (its pkg/config json.go: "vcpus", "memoryBytes", a
 * "bootloader" and "devices", each with its "kind"), from the command line
 * that made it, so clients that read it back find what they passed. */
#include "cli/cli.h"
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

static void put_str(json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v ? v : ""));
}

static json_object *device(json_object *list, const char *kind)
{
	json_object *d = json_object_new_object();

	put_str(d, "kind", kind);
	json_object_array_add(list, d);
	return d;
}

char *cli_inspect_json(const struct cli_options *o)
{
	json_object *root = json_object_new_object(), *bl = json_object_new_object(),
		    *devs = json_object_new_array();
	json_object *d;
	char *out;

	json_object_object_add(root, "vcpus", json_object_new_int64(o->cpus));
	json_object_object_add(root, "memoryBytes", json_object_new_int64((int64_t)(o->memory_mib << 20)));
	if (o->efi_vars) {
		put_str(bl, "kind", "efiBootloader");
		put_str(bl, "efiVariableStorePath", o->efi_vars);
		json_object_object_add(bl, "createVariableStore", json_object_new_boolean(o->efi_create));
	} else {
		put_str(bl, "kind", "linuxBootloader");
		put_str(bl, "vmlinuzPath", o->kernel);
		put_str(bl, "kernelCmdLine", o->cmdline);
		put_str(bl, "initrdPath", o->initrd);
	}
	json_object_object_add(root, "bootloader", bl);
	for (size_t i = 0; i < o->serial_count; i++) {
		d = device(devs, "virtioserial");
		if (o->serials[i].stdio)
			json_object_object_add(d, "usesStdio", json_object_new_boolean(true));
		else
			put_str(d, "logFile", o->serials[i].log_path);
	}
	for (size_t i = 0; i < o->disk_count; i++) {
		d = device(devs, "virtioblk");
		put_str(d, "devName", "virtio-blk");
		put_str(d, "imagePath", o->disks[i].path);
		if (o->disks[i].read_only)
			json_object_object_add(d, "readOnly", json_object_new_boolean(true));
		if (o->disks[i].id)
			put_str(d, "deviceIdentifier", o->disks[i].id);
	}
	for (size_t i = 0; i < o->net_count; i++) {
		d = device(devs, "virtionet");
		json_object_object_add(d, "nat", json_object_new_boolean(o->nets[i].nat));
		if (o->nets[i].mac)
			put_str(d, "macAddress", o->nets[i].mac);
		if (o->nets[i].unix_path)
			put_str(d, "unixSocketPath", o->nets[i].unix_path);
	}
	if (o->entropy)
		device(devs, "virtiorng");
	if (o->balloon)
		device(devs, "virtioballoon");
	for (size_t i = 0; i < o->vsock_count; i++) {
		d = device(devs, "virtiosock");
		json_object_object_add(d, "port", json_object_new_int64(o->vsocks[i].port));
		put_str(d, "socketURL", o->vsocks[i].path);
		if (!o->vsocks[i].host_to_guest)
			json_object_object_add(d, "listen", json_object_new_boolean(true));
	}
	if (o->vsock_hybrid) {
		d = device(devs, "virtiosock");
		put_str(d, "socketURL", o->vsock_hybrid);
		json_object_object_add(d, "hybrid", json_object_new_boolean(true));
	}
	for (size_t i = 0; i < o->fs_count; i++) {
		d = device(devs, "virtiofs");
		put_str(d, "mountTag", o->fs[i].tag);
		put_str(d, "sharedDir", o->fs[i].dir);
	}
	for (size_t i = 0; i < o->input_count; i++) {
		d = device(devs, "virtioinput");
		put_str(d, "inputType",
			o->inputs[i].kind == VMK_INPUT_KEYBOARD ? "keyboard"
			: o->inputs[i].kind == VMK_INPUT_MOUSE	? "mouse"
								: "pointing");
	}
	for (size_t i = 0; i < o->gpu_count; i++) {
		d = device(devs, "virtiogpu");
		json_object_object_add(d, "usesGUI", json_object_new_boolean(o->gui && i == 0));
		json_object_object_add(d, "width", json_object_new_int64(o->gpus[i].width));
		json_object_object_add(d, "height", json_object_new_int64(o->gpus[i].height));
	}
	json_object_object_add(root, "devices", devs);
	if (o->timesync_port) {
		json_object *ts = json_object_new_object();
		json_object_object_add(ts, "vsockPort", json_object_new_int64(o->timesync_port));
		json_object_object_add(root, "timesync", ts);
	}
	out = strdup(
	    json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
	return out;
}
