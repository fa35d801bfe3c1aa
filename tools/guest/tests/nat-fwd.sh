#!/bin/sh
# NAT port forwards: the host fetches a page from an HTTP server in the
# guest (host port to guest port 80), then says so through a second forward
# to guest port 81, which ends the test.
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
mkdir -p /tmp/www
echo "vmkit-guest-page-$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')" >/tmp/www/page.txt
echo "NAT-PAGE=$(cat /tmp/www/page.txt)"
httpd -p 80 -h /tmp/www || { echo "NAT-HTTPD=failed"; exit 1; }
echo "NAT-SERVER-UP"
echo "NAT-HOST-SAID=$(nc -l -p 81 | head -1)"
