#!/bin/sh
# A vfkit client's guest (tests/integration/nested-clients.sh): says it is up on its console
# (hvc0, as the clients' virtio-serial,logFilePath= devices give it), sends podman's "Ready"
# on vsock port 1025 when it has vsock and socat, mounts the virtio-fs tags named by
# vmkit.client_fs=TAG[,TAG] (default: crc's dir0 and the test's podman-style 36-byte tag,
# since the EFI clients' kernel command line is fixed on their disk) and writes a file into
# each, then waits for the power button.
fs=dir0,a2a0ee2c717462feb1de2f5afd59de5fd2d8
for w in $(cat /proc/cmdline); do
    case $w in vmkit.client_fs=*) fs=${w#vmkit.client_fs=} ;; esac
done
echo "CLIENT-UP"
if [ -e /dev/vsock ] && command -v socat >/dev/null; then
    echo Ready | socat - VSOCK-CONNECT:2:1025 && echo "CLIENT-READY-SENT"
fi
for tag in $(echo "$fs" | tr , ' '); do
    mkdir -p "/mnt/$tag"
    if mount -t virtiofs "$tag" "/mnt/$tag" && echo "guest was here" >"/mnt/$tag/from-guest"; then
        echo "CLIENT-FS-$tag=ok"
    else
        echo "CLIENT-FS-$tag=failed"
    fi
done
sync
echo "SLEEPING"
while :; do sleep 3600; done
