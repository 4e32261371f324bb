#!/usr/bin/env bash
# Measures the real app: launch -> inbox time and the idle PSS of its process tree after 60 s
# with demo data (see measure.mjs). Same throwaway session as the tests (harness.sh).
#   tests/e2e/measure.sh            (E2E_IDLE_SECONDS, E2E_LAUNCHES to change the defaults)
# Build first (tests/e2e/run.sh does) or point AGENT_INBOX_BIN / CHAT_SERVICE_BIN at binaries.
set -euo pipefail
cd "$(dirname "$0")"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
command -v tauri-driver >/dev/null || cargo install tauri-driver --locked
export TAURI_DRIVER_BIN="$(command -v tauri-driver)"
[[ -d node_modules/ws ]] || npm ci --no-audit --no-fund
./harness.sh node measure.mjs
