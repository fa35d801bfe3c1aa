#!/usr/bin/env python3
"""Drives a headless Chromium through the DevTools protocol on a pipe
(--remote-debugging-pipe: JSON messages ended by NUL, fd 3 in, fd 4 out):
opens URL, waits, clicks at the middle of the page, types TEXT, waits, saves
a screenshot as PNG.

usage: cdp.py CHROMIUM URL OUT.png TEXT [WAIT_S]"""
import base64
import json
import os
import subprocess
import sys
import tempfile
import time


def main():
    chromium, url, out, text = sys.argv[1:5]
    wait = float(sys.argv[5]) if len(sys.argv) > 5 else 8
    profile = tempfile.mkdtemp(prefix="vmkit-cdp.")
    to_chrome = os.pipe()
    from_chrome = os.pipe()

    def fds():
        os.dup2(to_chrome[0], 3)
        os.dup2(from_chrome[1], 4)
        # dup2 onto itself keeps close-on-exec (os.pipe's default).
        os.set_inheritable(3, True)
        os.set_inheritable(4, True)

    p = subprocess.Popen([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                          "--remote-debugging-pipe", "--window-size=1024,768",
                          "--user-data-dir=" + profile, "about:blank"],
                         preexec_fn=fds, close_fds=False, stdout=subprocess.DEVNULL,
                         stderr=None if os.environ.get("CDP_DEBUG") else subprocess.DEVNULL)
    os.close(to_chrome[0])
    os.close(from_chrome[1])
    w = os.fdopen(to_chrome[1], "wb", buffering=0)
    r = os.fdopen(from_chrome[0], "rb", buffering=0)
    buf = b""
    n = 0

    def call(method, session=None, **params):
        nonlocal buf, n
        n += 1
        msg = {"id": n, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        w.write(json.dumps(msg).encode() + b"\0")
        while True:
            while b"\0" not in buf:
                chunk = r.read(65536)
                if not chunk:
                    raise SystemExit("cdp: chromium closed the pipe")
                buf += chunk
            line, buf = buf.split(b"\0", 1)
            m = json.loads(line)
            if m.get("id") == n:
                if "error" in m:
                    raise SystemExit(f"cdp: {method}: {m['error']}")
                return m.get("result", {})

    try:
        target = call("Target.createTarget", url=url)["targetId"]
        s = call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        time.sleep(wait)
        for kind in ("mousePressed", "mouseReleased"):
            call("Input.dispatchMouseEvent", s, type=kind, x=512, y=384, button="left", clickCount=1)
        for ch in text:
            code = "Key" + ch.upper() if ch.isalpha() else ""
            vk = ord(ch.upper())
            call("Input.dispatchKeyEvent", s, type="keyDown", key=ch, code=code, text=ch,
                 windowsVirtualKeyCode=vk, nativeVirtualKeyCode=vk)
            call("Input.dispatchKeyEvent", s, type="keyUp", key=ch, code=code,
                 windowsVirtualKeyCode=vk, nativeVirtualKeyCode=vk)
        time.sleep(1)
        shot = call("Page.captureScreenshot", s, format="png")["data"]
        with open(out, "wb") as f:
            f.write(base64.b64decode(shot))
        print(f"CDP-SCREENSHOT {out}")
        try:
            call("Browser.close")
        except SystemExit:
            pass
    finally:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
        subprocess.run(["rm", "-rf", profile])


if __name__ == "__main__":
    main()
