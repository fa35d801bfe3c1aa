#!/usr/bin/env python3
"""Checks that every #include "..." under src/ follows the layers of docs/design.md
("Layers: what may include what"): a folder includes only itself and the folders below it,
so no device reaches up into the machine and no backend into a device. Prints each
offending include and exits 1; exits 0 when there is none.

usage: check-layers.py [SRC_DIR]
"""
import os
import re
import sys

# Folder -> the folders it may include (besides itself). The machine's address map,
# arch/x86/layout.h, is a leaf of constants anyone may include.
BELOW = {
    "util": set(),
    "core": {"util"},
    "config": {"util"},
    "platform": {"core", "config", "util"},
    "arch": {"platform", "core", "config", "util"},
    "attach": {"core", "config", "util"},
    "boot": {"arch", "platform", "core", "config", "util"},
    "virtio": {"attach", "platform", "core", "config", "util"},
    # Homes for the second wave (docs/design.md): the NVMe controller and the xHCI
    # controller with its USB devices are devices beside virtio, on the same backends.
    "nvme": {"attach", "platform", "core", "config", "util"},
    "usb": {"attach", "platform", "core", "config", "util"},
    "vm": {"virtio", "nvme", "usb", "boot", "attach", "arch", "platform", "core", "config", "util"},
    # Above the library: only the public API (<vmkit/...>) and themselves.
    "cli": {"rest", "view"},
    "view": set(),
    "rest": set(),
    "jail": set(),
}
LEAVES = {"arch/x86/layout.h"}
# Inside the machine's folder the lifecycle (vm.c) sits above the machine; a vCPU sees the
# machine only through its struct vcpu_host, so only these files see the machine's insides.
PRIVATE = {"vm/machine_priv.h": {"vm/machine.c", "vm/devices.c", "vm/machine_priv.h"}}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "src")
    bad = []
    for d, _, files in os.walk(src):
        for f in sorted(files):
            if not f.endswith((".c", ".h")):
                continue
            path = os.path.relpath(os.path.join(d, f), src)
            top = path.split(os.sep)[0]
            if top not in BELOW and os.sep in path:
                bad.append(f"{path}: folder {top}/ has no place in the layers (scripts/check-layers.py)")
                continue
            with open(os.path.join(d, f), encoding="utf-8") as fh:
                for n, line in enumerate(fh, 1):
                    m = INCLUDE.match(line)
                    if not m:
                        continue
                    inc = m.group(1)
                    itop = inc.split("/")[0]
                    if inc in PRIVATE and path not in PRIVATE[inc]:
                        bad.append(f"{path}:{n}: includes {inc}, private to {', '.join(sorted(PRIVATE[inc]))}")
                    elif "/" not in inc or inc in LEAVES or os.sep not in path or itop == top:
                        continue
                    elif itop not in BELOW.get(top, set()):
                        bad.append(f"{path}:{n}: {top}/ may not include {inc} ({itop}/ is not below it)")
    for b in bad:
        print(b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
