#!/usr/bin/env bash
# Starts the product: the chat service with demo data and the visitor widget, on
# http://127.0.0.1:8080 unless CHAT_SERVICE_LISTEN says otherwise. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh run
cargo build --release --locked -p chat-service
data="${XDG_DATA_HOME:-$HOME/.local/share}/agent-inbox"
mkdir -p "$data"
exec target/release/chat-service --demo --db "${CHAT_SERVICE_DB:-$data/demo.db}" "$@"
