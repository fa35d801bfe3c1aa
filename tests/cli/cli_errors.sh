#!/bin/bash
# The vmkit command's answers to bad input: exit status and the stderr
# lines, which must name the option or field and the offending value.
# Usage: cli_errors.sh PATH/TO/vmkit
set -u
vmkit=${1:?usage: cli_errors.sh PATH/TO/vmkit}
tmp=$(mktemp -d /tmp/vmkit-cli-errors.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0

# A file that passes our bzImage checks: boot protocol 2.15, loaded high,
# 64-bit entry, one setup sector, a kernel command line limit of 64 bytes.
python3 - "$tmp/bzImage" <<'PY'
import struct, sys
b = bytearray(4096)
b[0x1f1] = 1
struct.pack_into('<H', b, 0x1fe, 0xaa55)
b[0x202:0x206] = b'HdrS'
struct.pack_into('<H', b, 0x206, 0x020f)
b[0x211] = 0x01
struct.pack_into('<H', b, 0x236, 0x0003)
struct.pack_into('<I', b, 0x238, 64)
open(sys.argv[1], 'wb').write(b)
PY
kernel=$tmp/bzImage
printf 'just some text\n' >"$tmp/notes.txt"
mkdir "$tmp/dir"
long=$(printf 'x%.0s' $(seq 100))

# check NAME STATUS LINES PATTERN... -- ARGS...: runs vmkit with ARGS and
# expects that exit status, that many stderr lines, and every pattern
# (fixed strings) somewhere in stderr.
check() {
	local name=$1 want_status=$2 want_lines=$3
	shift 3
	local patterns=()
	while [ "$1" != -- ]; do
		patterns+=("$1")
		shift
	done
	shift
	local status lines why=""
	# No display unless a check gives one ($check_env): --gui must not open windows.
	env -u DISPLAY -u WAYLAND_DISPLAY ${check_env:-} "$vmkit" "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
	status=$?
	lines=$(wc -l <"$tmp/err")
	[ "$status" = "$want_status" ] || why="exit status $status, expected $want_status"
	[ -z "$why" ] && [ "$lines" != "$want_lines" ] && why="$lines stderr lines, expected $want_lines"
	for p in "${patterns[@]}"; do
		[ -z "$why" ] && ! grep -qF -- "$p" "$tmp/err" && why="stderr lacks '$p'"
	done
	if [ -z "$why" ]; then
		passed=$((passed + 1))
		echo "ok - $name"
	else
		failed=$((failed + 1))
		echo "not ok - $name: $why"
		sed 's/^/#   /' "$tmp/err"
	fi
}

# Usage errors: exit 2, one line.
check "bad cpu count" 2 1 'vmkit: --cpus: "abc" is not a number' -- --cpus abc -b linux,kernel="$kernel"
check "hex-looking memory" 2 1 '--memory: "0x" is not a number' -- --memory 0x -b linux,kernel="$kernel"
check "negative cpus" 2 1 '-c: "-1" must not be negative' -- -c -1 -b linux,kernel="$kernel"
check "memory overflow" 2 1 '--memory: "99999999999999999999" is too large' -- \
	--memory 99999999999999999999 -b linux,kernel="$kernel"
check "cpus overflow" 2 1 '--cpus: "4294967296" is too large' -- --cpus=4294967296 -b linux,kernel="$kernel"
check "empty number" 2 1 '--cpus: "" is not a number' -- --cpus= -b linux,kernel="$kernel"
check "missing value" 2 1 '--memory: missing value' -- -b linux,kernel="$kernel" --memory
check "unknown option" 2 1 'unknown option --frobnicate' -- --frobnicate -b linux,kernel="$kernel"
check "unknown short option" 2 1 'unknown option -z' -- -z -b linux,kernel="$kernel"
check "stray argument" 2 1 'unexpected argument "extra"' -- -b linux,kernel="$kernel" extra
check "unknown device" 2 1 'unknown device type "floppy"' -- -b linux,kernel="$kernel" -d floppy
check "unsupported vfkit device" 2 1 'nvme is not supported yet' -- \
	-b linux,kernel="$kernel" -d nvme,path=/dev/null
truncate -s 1M "$tmp/disk.img"
truncate -s 1000 "$tmp/odd.img"
check "virtio-blk without path" 2 1 'virtio-blk needs path=PATH' -- -b linux,kernel="$kernel" -d virtio-blk
check "virtio-blk bad type" 2 1 'type= must be image or dev' -- \
	-b linux,kernel="$kernel" -d virtio-blk,path="$tmp/disk.img",type=raw
check "virtio-blk bad cache" 2 1 'cache= must be auto, cached or uncached' -- \
	-b linux,kernel="$kernel" -d virtio-blk,path="$tmp/disk.img",cache=writeback
check "virtio-blk bad queues" 2 1 'queues=17 is not between 1 and 16' -- \
	-b linux,kernel="$kernel" -d virtio-blk,path="$tmp/disk.img",queues=17
check "virtio-blk long deviceId" 2 1 'longer than 20 bytes' -- \
	-b linux,kernel="$kernel" -d virtio-blk,path="$tmp/disk.img",deviceId=abcdefghijklmnopqrstu
check "virtio-blk missing image" 1 1 "$tmp/missing.img: No such file or directory" -- \
	-b linux,kernel="$kernel" -d virtio-blk,path="$tmp/missing.img"
check "virtio-blk directory" 1 1 "$tmp/dir is a directory" -- \
	-b linux,kernel="$kernel" -d virtio-blk,path="$tmp/dir"
check "virtio-blk odd size" 1 1 'not a multiple of 512-byte sectors' -- \
	-b linux,kernel="$kernel" -d virtio-blk,path="$tmp/odd.img"
check "virtio-blk dev on a file" 1 1 'is not a block device' -- \
	-b linux,kernel="$kernel" -d virtio-blk,path="$tmp/disk.img",type=dev
check "virtio-net without attachment" 2 1 'virtio-net needs an attachment' -- -b linux,kernel="$kernel" -d virtio-net
check "hostfwd bad protocol" 2 1 'hostfwd=icmp:1-:2' 'tcp: or udp:' -- -b linux,kernel="$kernel" -d virtio-net,nat,hostfwd=icmp:1-:2
check "hostfwd without host port" 2 1 'tcp:[HOSTADDR]:HOSTPORT-:GUESTPORT' -- \
	-b linux,kernel="$kernel" -d virtio-net,nat,hostfwd=tcp:8080-:80
check "hostfwd guest address" 2 1 'leave the guest address empty' -- \
	-b linux,kernel="$kernel" -d virtio-net,nat,hostfwd=tcp::8080-10.0.2.15:80
check "hostfwd port 0" 2 1 'host port 0' -- -b linux,kernel="$kernel" -d virtio-net,nat,hostfwd=tcp::0-:80
check "hostfwd port too large" 2 1 '"99999" is too large' -- -b linux,kernel="$kernel" -d virtio-net,nat,hostfwd=udp::99999-:53
check "unknown virtio-net option" 2 1 'unknown virtio-net option "bogus"' -- -b linux,kernel="$kernel" -d virtio-net,nat,bogus
check "virtio-net two attachments" 2 1 'takes one attachment' -- -b linux,kernel="$kernel" -d virtio-net,nat,tap=tap0
check "virtio-net mtu too small" 2 1 'mtu=1400 is not between 1500 and 65535' -- \
	-b linux,kernel="$kernel" -d virtio-net,unixSocketPath=/x,mtu=1400
check "virtio-net mtu with tap" 2 1 'mtu= applies to fd and unixSocketPath only' -- \
	-b linux,kernel="$kernel" -d virtio-net,tap=tap0,mtu=9000
check "virtio-net vhost with nat" 2 1 'vhost= applies to tap and bridge only' -- \
	-b linux,kernel="$kernel" -d virtio-net,nat,vhost=off
check "virtio-net vhost value" 2 1 'vhost= must be on or off' -- \
	-b linux,kernel="$kernel" -d virtio-net,tap=tap0,vhost=maybe
check "virtio-net missing bridge" 1 1 'bridge vmkno-br0 does not exist' -- \
	-b linux,kernel="$kernel" -d virtio-net,bridge=vmkno-br0
check "virtio-net missing tap" 1 1 'TAP interface vmkno-tap0 does not exist' -- \
	-b linux,kernel="$kernel" -d virtio-net,tap=vmkno-tap0
check "virtio-net fd not a socket" 1 1 'file descriptor 0 is not a socket' -- \
	-b linux,kernel="$kernel" -d virtio-net,fd=0
check "virtio-net no unix socket" 1 1 'cannot connect to unixSocketPath /nonexistent/vmkit.sock' -- \
	-b linux,kernel="$kernel" -d virtio-net,unixSocketPath=/nonexistent/vmkit.sock
check "virtio-net multicast mac" 1 1 'multicast' -- \
	-b linux,kernel="$kernel" -d virtio-net,tap=lo,mac=03:00:00:00:00:01
check "unknown serial option" 2 1 'unknown serial option "baud"' -- \
	-b linux,kernel="$kernel" -d serial,stdio,baud=9600
check "two stdio ports" 2 1 'only one serial port can use stdio' -- \
	-b linux,kernel="$kernel" -d serial,stdio -d serial,stdio
check "efi without variable store" 2 1 'efi needs variable-store=PATH' -- -b efi
check "unknown efi option" 2 1 'unknown efi option "bogus"' -- -b efi,variable-store="$tmp/vars",bogus
check "efi firmware without a path" 2 1 'unknown efi option "firmware"' -- -b efi,variable-store="$tmp/vars",firmware=

# UEFI firmware and variable stores: files with a firmware volume header (the NV data GUID
# marks a variable store), so the checks need no OVMF on the host. Every bad input is a
# configuration error that names the file; no file is created or changed.
python3 - "$tmp" <<'PY'
import struct, sys, os
NV = bytes([0x8d, 0x2b, 0xf1, 0xff, 0x96, 0x76, 0x8b, 0x4c, 0xa9, 0x85, 0x27, 0x47, 0x07, 0x5b, 0x4f, 0x50])
def fv(name, size, nv, header=True):
    b = bytearray(b'\xff' * size)
    b[0:64] = bytes(64)
    if header:
        if nv:
            b[16:32] = NV
        struct.pack_into('<Q', b, 32, size)
        b[40:44] = b'_FVH'
        b[48] = 72
    open(os.path.join(sys.argv[1], name), 'wb').write(b)
fv('code.fd', 64 * 4096, False)
fv('odd.fd', 64 * 4096 + 100, False)
fv('vars.fd', 16 * 4096, True)
fv('ro-vars.fd', 16 * 4096, True)
fv('code-as-vars.fd', 16 * 4096, False)
PY
chmod 0444 "$tmp/ro-vars.fd"
sums() { md5sum "$tmp"/*.fd "$tmp/notes.txt"; }
before=$(sums)
fw="firmware=$tmp/code.fd"
check "efi missing firmware" 1 1 'boot_loader.firmware' "$tmp/nope.fd: No such file" -- \
	-b efi,variable-store="$tmp/vars.fd",firmware="$tmp/nope.fd"
check "efi firmware of the wrong size" 1 1 'boot_loader.firmware' "$tmp/odd.fd is 262244 bytes" -- \
	-b efi,variable-store="$tmp/vars.fd",firmware="$tmp/odd.fd"
check "efi firmware that is no firmware" 1 1 'boot_loader.firmware' "$tmp/notes.txt" -- \
	-b efi,variable-store="$tmp/vars.fd",firmware="$tmp/notes.txt"
check "efi store that is not one" 1 1 'boot_loader.variable_store' "$tmp/notes.txt is not a UEFI variable store" -- \
	-b efi,variable-store="$tmp/notes.txt,$fw"
check "efi firmware volume as store" 1 1 "$tmp/code-as-vars.fd is not a UEFI variable store" -- \
	-b efi,variable-store="$tmp/code-as-vars.fd,$fw"
check "efi create keeps an existing non-store" 1 1 "$tmp/notes.txt is not a UEFI variable store; not replacing it" -- \
	-b efi,variable-store="$tmp/notes.txt,create,$fw"
check "efi read-only store" 1 1 'boot_loader.variable_store' "$tmp/ro-vars.fd is read-only" -- \
	-b efi,variable-store="$tmp/ro-vars.fd,$fw"
check "efi missing store" 1 1 'boot_loader.variable_store' "$tmp/none.fd: No such file" -- \
	-b efi,variable-store="$tmp/none.fd,$fw"
check "efi two bad files, two lines" 1 2 'boot_loader.firmware' 'boot_loader.variable_store' -- \
	-b efi,variable-store="$tmp/notes.txt",firmware="$tmp/odd.fd"
if [ "$(sums)" = "$before" ] && [ ! -e "$tmp/none.fd" ]; then
	passed=$((passed + 1)); echo "ok - efi errors changed no file"
else
	failed=$((failed + 1)); echo "not ok - efi errors changed or created a file"
fi
# vfkit's create on an existing store: a fresh copy of the template replaces it (Apple's
# AllowOverwrite, which vfkit passes), then the run goes on (here to the firmware error).
cp "$tmp/vars.fd" "$tmp/used-vars.fd" && printf 'USED' | dd of="$tmp/used-vars.fd" bs=1 seek=8192 conv=notrunc 2>/dev/null
check "efi create replaces a store" 1 1 'boot_loader.firmware' "$tmp/nope.fd" -- \
	-b efi,variable-store="$tmp/used-vars.fd,create,firmware=$tmp/nope.fd"
if [ -e /usr/share/OVMF/OVMF_VARS_4M.fd ]; then
	if cmp -s "$tmp/used-vars.fd" /usr/share/OVMF/OVMF_VARS_4M.fd; then
		passed=$((passed + 1)); echo "ok - efi create: the store is the template again"
	else
		failed=$((failed + 1)); echo "not ok - efi create did not replace the store"
	fi
fi
check "macos boot loader" 2 1 'macos' 'not on Linux' -- -b macos,machineIdentifierPath=/x
check "unknown boot loader" 2 1 'unknown boot loader "grub"' -- -b grub
check "linux without kernel" 2 1 'linux needs kernel=PATH' -- -b linux,initrd=/x
check "unterminated quote" 2 1 'unterminated quote' -- -b "linux,kernel=$kernel,cmdline=\"console=ttyS0"
check "no boot loader" 2 1 'no boot loader' -- --cpus 2
check "legacy and new boot loader" 2 1 'cannot be combined with --bootloader' -- \
	-k "$kernel" -b linux,kernel="$kernel"
check "bad reboot action" 2 1 '--reboot: "sometimes"' -- -b linux,kernel="$kernel" --reboot=sometimes

# Configuration errors: exit 1, one line per problem.
check "missing kernel" 1 1 'boot_loader.kernel' "$tmp/nope" 'No such file' -- -b linux,kernel="$tmp/nope"
check "directory as kernel" 1 1 'boot_loader.kernel' "$tmp/dir is a directory" -- -b linux,kernel="$tmp/dir"
check "text file as kernel" 1 1 'boot_loader.kernel' "$tmp/notes.txt is not an x86-64 bzImage" -- \
	-b linux,kernel="$tmp/notes.txt"
check "legacy missing kernel and initrd" 1 2 'boot_loader.kernel' 'boot_loader.initrd' "$tmp/nope" -- -k "$tmp/nope" -i "$tmp/nope" -C quiet
check "missing initrd" 1 1 'boot_loader.initrd' "$tmp/no-initrd" -- \
	-b linux,kernel="$kernel",initrd="$tmp/no-initrd"
check "cmdline too long" 1 1 'boot_loader.cmdline' '100 bytes' '64 bytes' -- \
	-b "linux,kernel=$kernel,cmdline=\"$long\""
check "quoted cmdline with spaces and commas fits" 1 1 'memory_size' -- \
	-m 8 -b "linux,kernel=$kernel,cmdline=\"console=ttyS0,115200 quiet\""
check "memory too small" 1 1 'memory_size' '16777216 bytes (16 MiB)' 'minimum' -- -m 16 -b linux,kernel="$kernel"
check "memory zero" 1 1 'memory_size: 0 bytes' -- --memory=0 -b linux,kernel="$kernel"
check "memory larger than the host" 1 1 'memory_size' '17592186044415 MiB' -- \
	-m 17592186044415 -b linux,kernel="$kernel"
check "zero cpus" 1 1 'cpu_count: 0' -- -c 0 -b linux,kernel="$kernel"
check "too many cpus" 1 1 'cpu_count: 300' -- -c 300 -b linux,kernel="$kernel"
check "log file in a missing directory" 1 1 'serial_ports[0].attachment' "$tmp/nodir/console.log" -- \
	-b linux,kernel="$kernel" -d serial,logFilePath="$tmp/nodir/console.log"
check "log file is a directory" 1 1 'serial_ports[0].attachment' "$tmp/dir is a directory" -- \
	-b linux,kernel="$kernel" -d serial,logFilePath="$tmp/dir"
check "five COM ports" 1 1 'at most 4 16550 ports' -- -b linux,kernel="$kernel" \
	-d serial,logFilePath="$tmp/1" -d serial,logFilePath="$tmp/2" -d serial,logFilePath="$tmp/3" \
	-d serial,logFilePath="$tmp/4" -d serial,logFilePath="$tmp/5"
check "nat subnet with host bits" 1 1 'subnet: "10.0.2.1/24"' 'host bits' -- \
	-b linux,kernel="$kernel" -d virtio-net,nat,subnet=10.0.2.1/24
check "nat forward to a host name" 1 1 'port_forwards: host address "localhost"' -- \
	-b linux,kernel="$kernel" -d virtio-net,nat,hostfwd=tcp:localhost:8080-:80
check "nat duplicate forward" 1 1 'tcp 127.0.0.1:8080 is already forwarded' -- \
	-b linux,kernel="$kernel" -d virtio-net,nat,hostfwd=tcp::8080-:80,hostfwd=tcp:127.0.0.1:8080-:81
check "virtio-net multicast MAC" 1 1 'mac_address: "01:00:00:00:00:00"' 'multicast' -- \
	-b linux,kernel="$kernel" -d virtio-net,nat,mac=01:00:00:00:00:00
check "three problems, three lines" 1 3 'cpu_count: 0' 'memory_size: 16777216' "$tmp/nope" -- \
	-c 0 -m 16 -b linux,kernel="$tmp/nope"
[ -e "$tmp/1" ] && { failed=$((failed + 1)); echo "not ok - validation created a log file"; }

check "virtio-vsock without socketURL" 2 1 'virtio-vsock needs port=N and socketURL=PATH' -- \
	-b linux,kernel="$kernel" -d virtio-vsock,port=1024
check "virtio-vsock listen and connect" 2 1 'listen or connect, not both' -- \
	-b linux,kernel="$kernel" -d virtio-vsock,port=1024,socketURL="$tmp/v.sock",listen,connect
check "virtio-vsock port 0" 2 1 'port=0 is reserved' -- \
	-b linux,kernel="$kernel" -d virtio-vsock,port=0,socketURL="$tmp/v.sock"
check "virtio-vsock same port twice" 1 1 'port: 1024 is already forwarded' -- \
	-b linux,kernel="$kernel" -d virtio-vsock,port=1024,socketURL="$tmp/a.sock" \
	-d virtio-vsock,port=1024,socketURL="$tmp/b.sock"
check "virtio-vsock long path" 1 1 'longer than a unix socket address allows' -- \
	-b linux,kernel="$kernel" -d virtio-vsock,port=1024,socketURL="/tmp/$long$long"
check "virtio-vsock hybrid with a port" 2 1 'hybrid takes socketURL=PATH only' -- \
	-b linux,kernel="$kernel" -d virtio-vsock,port=5,socketURL="$tmp/h.sock",hybrid
check "virtio-vsock two hybrid sockets" 2 1 'one hybrid socket per VM' -- \
	-b linux,kernel="$kernel" -d virtio-vsock,socketURL="$tmp/h.sock",hybrid -d virtio-vsock,socketURL="$tmp/i.sock",hybrid
check "virtio-vsock one listen path twice" 1 1 'is already the listening socket of port 1024' -- \
	-b linux,kernel="$kernel" -d virtio-vsock,port=1024,socketURL="$tmp/a.sock",connect \
	-d virtio-vsock,port=1025,socketURL="$tmp/a.sock",connect
check "virtio-vsock hybrid path is a listen path" 1 1 'is already the hybrid socket' -- \
	-b linux,kernel="$kernel" -d virtio-vsock,port=1024,socketURL="$tmp/a.sock",connect \
	-d virtio-vsock,socketURL="$tmp/a.sock",hybrid
check "timesync without vsockPort" 2 1 'takes vsockPort=N only' -- \
	-b linux,kernel="$kernel" --timesync port=5
check "timesync port 0" 2 1 'vsockPort=0 is reserved' -- \
	-b linux,kernel="$kernel" --timesync vsockPort=0
mkdir -p "$tmp/share"
check "virtio-fs without sharedDir" 2 1 'virtio-fs needs sharedDir=PATH' -- \
	-b linux,kernel="$kernel" -d virtio-fs,mountTag=x
check "virtio-fs unknown option" 2 1 'unknown virtio-fs option "cache"' -- \
	-b linux,kernel="$kernel" -d virtio-fs,sharedDir="$tmp/share",cache=none
check "virtio-fs missing directory" 1 1 "fs_devices[0].directory: cannot open $tmp/nodir" 'No such file' -- \
	-b linux,kernel="$kernel" -d virtio-fs,sharedDir="$tmp/nodir"
check "virtio-fs tag too long" 1 1 'is 37 bytes, at most 36 fit the device' -- \
	-b linux,kernel="$kernel" -d virtio-fs,sharedDir="$tmp/share",mountTag=0123456789012345678901234567890123456
check "virtio-fs one tag twice" 1 1 'several directories under one tag need name=NAME each' -- \
	-b linux,kernel="$kernel" -d virtio-fs,sharedDir="$tmp/share",mountTag=t -d virtio-fs,sharedDir=/tmp,mountTag=t
check "virtio-fs bad share name" 1 1 'name: "a/b" is not a file name' -- \
	-b linux,kernel="$kernel" -d virtio-fs,sharedDir="$tmp/share",mountTag=t,name=a/b
check "virtio-gpu tiny width" 2 1 'width=63 is outside 64 to 8192' -- \
	-b linux,kernel="$kernel" -d virtio-gpu,width=63,height=600
check "virtio-gpu huge height" 2 1 'height=9000 is outside 64 to 8192' -- \
	-b linux,kernel="$kernel" -d virtio-gpu,width=800,height=9000
check "virtio-gpu bad vga" 2 1 'vga= must be on or off' -- \
	-b linux,kernel="$kernel" -d virtio-gpu,vga=maybe
check "virtio-gpu unknown option" 2 1 'unknown virtio-gpu option "depth"' -- \
	-b linux,kernel="$kernel" -d virtio-gpu,depth=24
check "virtio-gpu five devices" 2 1 'too many virtio-gpu devices (at most 4)' -- \
	-b linux,kernel="$kernel" -d virtio-gpu -d virtio-gpu -d virtio-gpu -d virtio-gpu -d virtio-gpu
check "virtio-input without a kind" 2 1 'virtio-input needs keyboard, pointing or mouse' -- \
	-b linux,kernel="$kernel" -d virtio-input
check "virtio-input two kinds" 2 1 'virtio-input is one of keyboard, pointing, mouse' -- \
	-b linux,kernel="$kernel" -d virtio-input,keyboard,pointing
check "virtio-input tiny screen" 1 1 'width: 10 is outside 64 to 8192' -- \
	-b linux,kernel="$kernel" -d virtio-input,pointing,width=10
check "virtio-input keyboard with a screen" 2 1 'width= and height= are for a pointing device' -- \
	-b linux,kernel="$kernel" -d virtio-input,keyboard,width=100
check "restful-uri beyond loopback" 2 1 '0.0.0.0 is not a loopback address' '--restful-allow-remote' -- \
	-b linux,kernel="$kernel" --restful-uri tcp://0.0.0.0:8080
check "restful-uri bad scheme" 2 1 '--restful-uri: "ftp://x": invalid scheme' -- \
	-b linux,kernel="$kernel" --restful-uri ftp://x
check "restful-uri tcp without port" 2 1 'invalid TCP uri: missing port' -- \
	-b linux,kernel="$kernel" --restful-uri tcp://127.0.0.1
check "restful-uri unix with host" 2 1 'invalid unix uri: host is forbidden' -- \
	-b linux,kernel="$kernel" --restful-uri unix://host/path

check "virtio-net type without path" 2 1 'type=unixgram needs path=PATH' -- \
	-b linux,kernel="$kernel" -d virtio-net,type=unixgram
check "virtio-net other type" 2 1 'only type=unixgram is supported' -- \
	-b linux,kernel="$kernel" -d virtio-net,type=stream,path=/x
check "virtio-net vfkitMagic on nat" 2 1 'vfkitMagic= applies to unix socket paths only' -- \
	-b linux,kernel="$kernel" -d virtio-net,nat,vfkitMagic=on

# The views: each refused before the VM starts, in one line naming the option.
check "vnc beyond loopback" 2 1 '--vnc: "0.0.0.0:5900": 0.0.0.0 is not a loopback address' '--vnc-allow-remote' -- \
	-b linux,kernel="$kernel" -d virtio-gpu --vnc 0.0.0.0:5900
check "vnc bad port" 2 1 '--vnc: "127.0.0.1:99999": the port must be 1 to 65535' -- \
	-b linux,kernel="$kernel" -d virtio-gpu --vnc 127.0.0.1:99999
check "vnc without host" 2 1 '--vnc: "5900": not HOST:PORT or unix:PATH' -- \
	-b linux,kernel="$kernel" -d virtio-gpu --vnc 5900
check "vnc without a display" 2 1 '--vnc: the VM has no display (add --device virtio-gpu)' -- \
	-b linux,kernel="$kernel" --vnc 127.0.0.1:5900
check "web on a unix socket" 2 1 '--web: "unix:/tmp/x": a browser needs HOST:PORT' -- \
	-b linux,kernel="$kernel" -d virtio-gpu --web unix:/tmp/x
check "vnc password without vnc" 2 1 '--vnc-password-file: needs --vnc or --web' -- \
	-b linux,kernel="$kernel" --vnc-password-file "$tmp/notes.txt"
check "vnc password file missing" 1 1 '--vnc-password-file: /nonexistent/pw: No such file or directory' -- \
	-b linux,kernel="$kernel" -d virtio-gpu --vnc "unix:$tmp/vnc.sock" --vnc-password-file /nonexistent/pw
# A port in use: the VM is not started (exit 1, one line).
python3 -c 'import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
print(s.getsockname()[1], flush=True); time.sleep(120)' >"$tmp/port" &
holder=$!
for _ in $(seq 50); do [ -s "$tmp/port" ] && break; sleep 0.1; done
port=$(cat "$tmp/port")
check "vnc port in use" 1 1 "--vnc: \"127.0.0.1:$port\": Address already in use" -- \
	-b linux,kernel="$kernel" -d virtio-gpu --vnc 127.0.0.1:$port
check "web port in use" 1 1 "--web: \"127.0.0.1:$port\": Address already in use" -- \
	-b linux,kernel="$kernel" -d virtio-gpu --web 127.0.0.1:$port
kill $holder 2>/dev/null
wait $holder 2>/dev/null
check "gui without a display" 2 1 '--gui: no display to open a window on ($DISPLAY and $WAYLAND_DISPLAY are not set' -- \
	-b linux,kernel="$kernel" --gui
# (under ASan: SDL's own leaks when it cannot open the display are not counted)
check_env="DISPLAY=:97 LSAN_OPTIONS=suppressions=$(cd "$(dirname "$0")" && pwd)/../view/lsan.supp:print_suppressions=0"
check "gui on a display that is not there" 1 1 '--gui: cannot open a window (DISPLAY=:97 WAYLAND_DISPLAY=)' -- \
	-b linux,kernel="$kernel" --gui
check_env=
# What vfkit's clients may pass and vmkit refuses: one line naming the option and why.
check "nested" 2 1 '--nested: not supported' -- -b linux,kernel="$kernel" --nested
check "ignition" 2 1 '--ignition: not supported yet' 'Ignition' -- -b linux,kernel="$kernel" --ignition /x
check "cloud-init" 2 1 '--cloud-init: not supported yet' 'cidata' -- \
	-b linux,kernel="$kernel" --cloud-init a,b
check "rosetta" 2 1 "rosetta needs Apple's Rosetta translator" -- \
	-b linux,kernel="$kernel" -d rosetta,mountTag=rosetta,install
check "rosetta bad option" 2 1 'unknown rosetta option "x"' -- -b linux,kernel="$kernel" -d rosetta,x
# ignore-if-missing: accepted with a note; the run goes on (to the missing kernel here).
check "rosetta ignore-if-missing" 1 2 'no Rosetta translator on this host' 'boot_loader.kernel' -- \
	-b linux,kernel="$tmp/nokernel" -d rosetta,mountTag=rosetta,ignore-if-missing
check "virtio-serial pty" 2 1 'virtio-serial,pty is not supported yet' -- \
	-b linux,kernel="$kernel" -d virtio-serial,pty

# Not errors at all.
check "help" 0 0 -- --help
check "version" 0 0 -- --version
check "-v" 0 0 -- -v
# The version line: vfkit's "NAME version: vX.Y.Z" with vmkit named before the colon, so crc
# (which compares what lies between the first and second ':' of stdout, without its "v", with
# its pinned vfkit version) reads the vfkit version alone.
"$vmkit" -v >"$tmp/out" 2>&1
crc_reads=$(python3 -c 'import sys; print(sys.stdin.read().split(":")[1].strip().removeprefix("v"))' <"$tmp/out")
if grep -qE '^vfkit \(vmkit [0-9][^)]*\) version: v[0-9]+\.[0-9]+\.[0-9]+$' "$tmp/out" &&
	[ "$(wc -l <"$tmp/out")" = 1 ] && echo "$crc_reads" | grep -qE '^[0-9]+\.[0-9]+\.[0-9]+$'; then
	passed=$((passed + 1)); echo "ok - version line as vfkit's clients parse it ($crc_reads)"
else
	failed=$((failed + 1)); echo "not ok - version line: $(cat "$tmp/out")"
fi
# Under the name vfkit (the build's symlink) it is the same program.
if [ -L "$(dirname "$vmkit")/vfkit" ]; then
	vf=$(dirname "$vmkit")/vfkit
	if [ "$("$vf" -v)" = "$(cat "$tmp/out")" ] && "$vf" --cpus abc 2>&1 | grep -qF 'vmkit: --cpus: "abc" is not a number'; then
		passed=$((passed + 1)); echo "ok - the vfkit symlink behaves as vmkit"
	else
		failed=$((failed + 1)); echo "not ok - the vfkit symlink"
	fi
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
