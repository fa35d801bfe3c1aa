#!/bin/sh
# Clean guest-initiated reboot through init (the VMM must see a reset request).
reboot
sleep 60
