#!/bin/sh
# Guest wall clock (from the RTC / kvmclock) as "CLOCK=<unix seconds>".
echo "CLOCK=$(date +%s)"
