#!/bin/sh
# Sleeps until stopped from outside: for power-button and VM stop tests.
echo "SLEEPING"
while :; do sleep 3600; done
