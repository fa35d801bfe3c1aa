#!/bin/sh
# NAT: an address by DHCP (busybox udhcpc), then a file from an HTTP server
# on the host's loopback, reached through the gateway; the host compares
# the checksum with its own.
cat >/tmp/udhcpc.sh <<'S'
#!/bin/sh
[ "$1" = bound ] || exit 0
ifconfig "$interface" "$ip" netmask "$subnet" up
route add default gw "$router" dev "$interface"
echo "NAT-DHCP ip=$ip router=$router dns=$dns"
S
chmod +x /tmp/udhcpc.sh
ip link set lo up
ip link set eth0 up
udhcpc -i eth0 -n -q -t 5 -T 2 -s /tmp/udhcpc.sh || { echo "NAT-DHCP=failed"; exit 1; }
gw=$(route -n | awk '$1 == "0.0.0.0" { print $2 }')
wget -q -O /tmp/data.bin "http://$gw:18080/data.bin" || { echo "NAT-WGET=failed"; exit 1; }
echo "NAT-MD5=$(md5sum </tmp/data.bin | cut -d' ' -f1)"
