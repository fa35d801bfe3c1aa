#!/bin/sh
# The run-time socket API (tests/api/vsock_api.c is the host side), with socat (added to the
# initramfs by tests/integration/nested-vsock.sh): host port 3000 accepts, 3001 refuses; the
# host connects into our port 4000, and (after it removed 3000's listener) 3000 resets us.
[ -e /dev/vsock ] || { echo "VSOCK-DEV=missing"; exit 1; }
reset_or() {    # prints how a connect to host port $1 ended
    if socat - VSOCK-CONNECT:2:$1 </dev/null 2>/tmp/e; then
        echo connected
    else
        grep -o 'Connection reset by peer\|Connection refused\|timed out' /tmp/e | head -1
    fi
}
echo "API-ACCEPT-REPLY=$(echo ping | socat -t 20 - VSOCK-CONNECT:2:3000)"
echo "API-REFUSE=$(reset_or 3001)"
socat -u VSOCK-LISTEN:4000 CREATE:/tmp/in &
sp=$!
sleep 1
echo "API-GUEST-LISTENING"
wait $sp || { echo "API-CONNECT=failed"; exit 1; }
echo "API-CONNECT-GOT=$(cat /tmp/in)"
echo "API-GUEST-NOLISTEN"
echo "API-WAIT-REMOVE"
read -t 300 go || { echo "API-GO=none"; exit 1; }
echo "API-REMOVED=$(reset_or 3000)"
