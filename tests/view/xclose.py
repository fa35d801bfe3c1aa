#!/usr/bin/env python3
"""Asks an X11 window to close, as a window manager's close button does: a
WM_DELETE_WINDOW client message (ICCCM 4.2.8.1), sent over the raw X11
protocol so no window manager or library is needed (Xvfb has none).

usage: xclose.py DISPLAY_NUMBER WINDOW_ID"""
import socket
import struct
import sys


def main():
    display, window = int(sys.argv[1]), int(sys.argv[2], 0)
    s = socket.socket(socket.AF_UNIX)
    s.connect(f"/tmp/.X11-unix/X{display}")
    s.sendall(struct.pack("<BxHHHHxx", 0x6C, 11, 0, 0, 0))
    head = s.recv(8, socket.MSG_WAITALL)
    if head[0] != 1:
        raise SystemExit("xclose: the X server refused the connection")
    s.recv(struct.unpack_from("<H", head, 6)[0] * 4, socket.MSG_WAITALL)

    def atom(name):
        n = name.encode()
        pad = (4 - len(n) % 4) % 4
        s.sendall(struct.pack("<BBHH2x", 16, 0, 2 + (len(n) + pad) // 4, len(n)) + n + b"\0" * pad)
        reply = s.recv(32, socket.MSG_WAITALL)
        return struct.unpack_from("<I", reply, 8)[0]

    protocols, delete = atom("WM_PROTOCOLS"), atom("WM_DELETE_WINDOW")
    event = struct.pack("<BBHII5I", 33, 32, 0, window, protocols, delete, 0, 0, 0, 0)
    s.sendall(struct.pack("<BBHII", 25, 0, 11, window, 0) + event)
    # A round trip (GetInputFocus) so the event is out before we close.
    s.sendall(struct.pack("<BxH", 43, 1))
    s.recv(32, socket.MSG_WAITALL)
    print("XCLOSE-SENT")


if __name__ == "__main__":
    main()
