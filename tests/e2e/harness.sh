#!/usr/bin/env bash
# Runs a command in a throwaway desktop session: Xvfb on a free display, fresh HOME and XDG
# folders, a private session bus (dbus-run-session) with an unlocked gnome-keyring (Secret
# Service) and python3-dbusmock's notification daemon on it. Everything it starts is stopped
# by PID when the command ends, whether it passed or not.
#
#   tests/e2e/harness.sh COMMAND [ARGS...]
#
# The command sees E2E_WORK (a temp folder, removed afterwards) and DISPLAY.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

if [[ "${1:-}" == "--inside-bus" ]]; then
  # Second stage, on the private session bus.
  shift
  pids=()
  cleanup_inner() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  }
  trap cleanup_inner EXIT
  # Unlock the keyring before anything touches it (else a locked one starts: NoStorageAccess).
  printf pw | gnome-keyring-daemon --foreground --unlock --components=secrets >"$E2E_WORK/keyring.log" 2>&1 &
  pids+=($!)
  /usr/bin/python3 -m dbusmock --template notification_daemon -l "$E2E_WORK/notifications.log" \
    --parameters '{"capabilities":"actions body body-markup sound"}' >"$E2E_WORK/dbusmock.log" 2>&1 &
  pids+=($!)
  /usr/bin/python3 "$here/notifications.py" wait org.freedesktop.Notifications
  /usr/bin/python3 "$here/notifications.py" wait org.freedesktop.secrets || {
    echo "harness: gnome-keyring did not come up:"; cat "$E2E_WORK/keyring.log"; exit 1; } >&2
  set +e
  "$@"
  rc=$?
  set -e
  exit "$rc"
fi

E2E_WORK="$(mktemp -d "${TMPDIR:-/tmp}/agent-inbox-e2e.XXXXXX")"
export E2E_WORK
xvfb_pid=""
session_pid=""
cleanup() {
  [[ -n "$session_pid" ]] && kill "$session_pid" 2>/dev/null || true
  [[ -n "$session_pid" ]] && wait "$session_pid" 2>/dev/null || true
  [[ -n "$xvfb_pid" ]] && kill "$xvfb_pid" 2>/dev/null || true
  [[ -n "$xvfb_pid" ]] && wait "$xvfb_pid" 2>/dev/null || true
  rm -rf "$E2E_WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Xvfb picks a free display itself and writes its number to fd 3.
Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp 3>"$E2E_WORK/display" 2>"$E2E_WORK/xvfb.log" &
xvfb_pid=$!
# It usually takes well under a second; once in CI on a loaded machine it took over 10 s.
for _ in $(seq 300); do
  [[ -s "$E2E_WORK/display" ]] && break
  kill -0 "$xvfb_pid" 2>/dev/null || { echo "harness: Xvfb exited:" >&2; cat "$E2E_WORK/xvfb.log" >&2; exit 1; }
  sleep 0.1
done
[[ -s "$E2E_WORK/display" ]] || {
  echo "harness: Xvfb gave no display number in 30 s; its log:" >&2
  cat "$E2E_WORK/xvfb.log" >&2
  ls -la /tmp/.X11-unix /tmp/.X*-lock >&2 2>/dev/null
  exit 1
}
export DISPLAY=":$(head -1 "$E2E_WORK/display" | tr -d '[:space:]')"

# Fresh home and XDG folders: nothing of the machine's own session leaks in or out.
export HOME="$E2E_WORK/home" XDG_RUNTIME_DIR="$E2E_WORK/runtime" XDG_CONFIG_HOME="$E2E_WORK/config" \
  XDG_DATA_HOME="$E2E_WORK/data" XDG_CACHE_HOME="$E2E_WORK/cache" NO_AT_BRIDGE=1
mkdir -p "$HOME" "$XDG_CONFIG_HOME" "$XDG_DATA_HOME" "$XDG_CACHE_HOME"
mkdir -m 700 "$XDG_RUNTIME_DIR"
unset DBUS_SESSION_BUS_ADDRESS

dbus-run-session -- "$here/harness.sh" --inside-bus "$@" &
session_pid=$!
set +e
wait "$session_pid"
rc=$?
set -e
session_pid=""
exit "$rc"
