#!/usr/bin/python3
"""Asks an X window to close, as a window manager's close button does: a WM_PROTOCOLS client
message carrying WM_DELETE_WINDOW (the app gets CloseRequested). Usage: x11close.py WINDOW_ID"""
import ctypes
import ctypes.util
import sys

x = ctypes.CDLL(ctypes.util.find_library('X11'))
x.XOpenDisplay.restype = ctypes.c_void_p
x.XOpenDisplay.argtypes = [ctypes.c_char_p]
x.XInternAtom.restype = ctypes.c_ulong
x.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
x.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long, ctypes.c_void_p]
x.XFlush.argtypes = [ctypes.c_void_p]
x.XCloseDisplay.argtypes = [ctypes.c_void_p]


class XClientMessageEvent(ctypes.Structure):
    _fields_ = [('type', ctypes.c_int), ('serial', ctypes.c_ulong), ('send_event', ctypes.c_int),
                ('display', ctypes.c_void_p), ('window', ctypes.c_ulong), ('message_type', ctypes.c_ulong),
                ('format', ctypes.c_int), ('l', ctypes.c_long * 5)]


class XEvent(ctypes.Union):
    _fields_ = [('xclient', XClientMessageEvent), ('pad', ctypes.c_long * 24)]


def main():
    window = int(sys.argv[1], 0)
    dpy = x.XOpenDisplay(None)
    if not dpy:
        print('cannot open the display', file=sys.stderr)
        return 1
    ev = XEvent()
    ev.xclient.type = 33  # ClientMessage
    ev.xclient.window = window
    ev.xclient.message_type = x.XInternAtom(dpy, b'WM_PROTOCOLS', 0)
    ev.xclient.format = 32
    ev.xclient.l[0] = x.XInternAtom(dpy, b'WM_DELETE_WINDOW', 0)
    ev.xclient.l[1] = 0  # CurrentTime
    if not x.XSendEvent(dpy, window, 0, 0, ctypes.byref(ev)):
        print('XSendEvent failed', file=sys.stderr)
        return 1
    x.XFlush(dpy)
    x.XCloseDisplay(dpy)
    return 0


if __name__ == '__main__':
    sys.exit(main())
