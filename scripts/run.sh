#!/usr/bin/env bash
# Starts the product: the chat service with demo data and the visitor widget, and (on a
# machine with a display) the desktop app signed in as the demo agent Grace Hopper.
#   CHAT_SERVICE_LISTEN   where the service listens (default 127.0.0.1:8080)
#   CHAT_SERVICE_DB       its database (default ~/.local/share/agent-inbox/demo.db)
#   AGENT_INBOX_EMAIL     which demo agent the app signs in as (default grace@example.com)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh run
(cd ui && npm ci --no-audit --no-fund --silent && npm run build --silent)
cargo build --release --locked -p chat-service -p agent-inbox

data="${XDG_DATA_HOME:-$HOME/.local/share}/agent-inbox"
mkdir -p "$data"
listen="${CHAT_SERVICE_LISTEN:-127.0.0.1:8080}"
target/release/chat-service --demo --listen "$listen" --db "${CHAT_SERVICE_DB:-$data/demo.db}" &
service=$!
trap 'kill $service 2>/dev/null; wait $service 2>/dev/null' EXIT INT TERM
for _ in $(seq 100); do
  curl -fsS "http://$listen/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done

if [[ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]]; then
  echo "launching the desktop app as ${AGENT_INBOX_EMAIL:-grace@example.com} (close the window to hide it to the tray; Quit is in the tray menu)"
  AGENT_INBOX_URL="http://$listen" AGENT_INBOX_EMAIL="${AGENT_INBOX_EMAIL:-grace@example.com}" \
    AGENT_INBOX_PASSWORD="${AGENT_INBOX_PASSWORD:-demo1234}" target/release/agent-inbox
else
  echo "no display: the desktop app is not started; the service runs until Ctrl-C"
  wait $service
fi
