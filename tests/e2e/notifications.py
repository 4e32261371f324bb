#!/usr/bin/python3
"""Talks to python3-dbusmock's notification daemon on the session bus (Debian's /usr/bin/python3).

  notifications.py calls            every Notify call so far as JSON: [{"id", "app_name",
                                    "summary", "body", "actions", "replaces_id"}], with the id the
                                    mock returned for it (it counts 1, 2, 3... over new ids)
  notifications.py invoke ID KEY    emits ActionInvoked(ID, KEY), as a click on that action would
  notifications.py wait [NAME]      exits 0 once NAME (default org.freedesktop.Notifications) has an
                                    owner on the session bus (NameHasOwner polling, 10 s at most)
"""
import json
import sys
import time

import dbus

NAME = 'org.freedesktop.Notifications'
PATH = '/org/freedesktop/Notifications'


def main():
    bus = dbus.SessionBus()
    cmd = sys.argv[1]
    if cmd == 'wait':
        name = sys.argv[2] if len(sys.argv) > 2 else NAME
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if bus.name_has_owner(name):
                return 0
            time.sleep(0.05)
        print(f'{name} never appeared on the session bus', file=sys.stderr)
        return 1
    mock = dbus.Interface(bus.get_object(NAME, PATH), 'org.freedesktop.DBus.Mock')
    if cmd == 'calls':
        out = []
        next_id = 1
        for _stamp, method, args in mock.GetCalls():
            if method != 'Notify':
                continue
            replaces = int(args[1])
            if replaces:
                nid = replaces
            else:
                nid = next_id
                next_id += 1
            out.append({
                'id': nid,
                'app_name': str(args[0]),
                'replaces_id': replaces,
                'summary': str(args[3]),
                'body': str(args[4]),
                'actions': [str(a) for a in args[5]],
            })
        print(json.dumps(out))
        return 0
    if cmd == 'invoke':
        mock.EmitSignal(NAME, 'ActionInvoked', 'us', [dbus.UInt32(int(sys.argv[2])), sys.argv[3]])
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main())
