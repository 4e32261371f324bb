#!/usr/bin/env bash
# End-to-end tests of the real desktop app: target/debug/agent-inbox driven over WebDriver
# (tauri-driver + WebKitWebDriver) on Xvfb, against the real chat service with demo data, with
# visitors in headless Chromium (the widget) and raw WebSocket clients, native notifications
# on python3-dbusmock's notification daemon and the keychain on gnome-keyring.
#
#   tests/e2e/run.sh                 install what is missing, build if needed, run the tests
#   E2E_SKIP_BUILD=1 tests/e2e/run.sh    use the binaries already in target/debug
#
# Screenshots of the main states land in tests/e2e/screenshots/.
set -euo pipefail
cd "$(dirname "$0")"
here="$PWD"
root="$(cd ../.. && pwd)"

# System packages (Xvfb, D-Bus, keyring, dbusmock, WebKitWebDriver, Chromium).
if ! command -v Xvfb >/dev/null || ! command -v dbus-run-session >/dev/null || ! command -v gnome-keyring-daemon >/dev/null \
  || ! command -v WebKitWebDriver >/dev/null || [[ ! -x /usr/bin/chromium ]] || ! /usr/bin/python3 -c 'import dbusmock, dbus' 2>/dev/null; then
  "$root/scripts/setup.sh" test
fi

# tauri-driver (the WebDriver front for Tauri apps) from crates.io, once.
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
if ! command -v tauri-driver >/dev/null; then
  echo "== e2e: cargo install tauri-driver"
  cargo install tauri-driver --locked
fi
export TAURI_DRIVER_BIN="$(command -v tauri-driver)"

echo "== e2e: npm ci"
npm ci --no-audit --no-fund

if [[ "${E2E_SKIP_BUILD:-0}" != 1 ]]; then
  # The app embeds ui/dist at compile time: rebuild it when it is missing or older than its sources.
  if [[ ! -f "$root/ui/dist/index.html" ]] || [[ -n "$(find "$root/ui/src" "$root/ui/index.html" "$root/ui/package.json" \
      -newer "$root/ui/dist/index.html" -print -quit)" ]]; then
    echo "== e2e: build the UI"
    (cd "$root/ui" && npm ci --no-audit --no-fund && npm run build)
  fi
  # The workspace's target dir by default (CI builds once); E2E_TARGET_DIR=target/e2e isolates
  # the run from other builds replacing target/debug/agent-inbox meanwhile. The shell's default
  # custom-protocol feature makes the app serve the embedded ui/dist.
  echo "== e2e: cargo build -p agent-inbox -p chat-service"
  (cd "$root" && CARGO_TARGET_DIR="${E2E_TARGET_DIR:-$root/target}" cargo build -p agent-inbox -p chat-service)
fi
export AGENT_INBOX_BIN="${AGENT_INBOX_BIN:-${E2E_TARGET_DIR:-$root/target}/debug/agent-inbox}"
export CHAT_SERVICE_BIN="${CHAT_SERVICE_BIN:-${E2E_TARGET_DIR:-$root/target}/debug/chat-service}"

echo "== e2e: app tests (Xvfb, private session bus, WebDriver)"
# Bounded: a hung run fails instead of holding CI until its limit.
timeout --kill-after=30 1200 "$here/harness.sh" node --test --test-concurrency=1 "$here/app.test.mjs"
