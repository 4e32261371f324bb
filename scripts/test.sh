#!/usr/bin/env bash
# The whole test suite: formatting, lints, Rust unit and integration tests (real service on
# 127.0.0.1:0, real SQLite, real WebSockets), TypeScript binding drift, and the browser tests
# of the visitor widget in headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh test
started=$(date +%s)

echo "== UI: install, type-check, unit tests (Vitest), build"
# The desktop shell embeds ui/dist, so the UI is built before any cargo step.
(cd ui && npm ci --no-audit --no-fund && npm run check && npm test && npm run build)
echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy (warnings denied)"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
# The client engine's tests kill and restart the service binary.
cargo build -p chat-service --locked
cargo test --workspace --locked
echo "== browser tests (headless Chromium)"
CHAT_SERVICE_BIN="$PWD/target/debug/chat-service" tests/browser/run.sh
tests/e2e/run.sh  # the real desktop app over WebDriver (tauri-driver) on Xvfb

echo "== all tests passed in $(( $(date +%s) - started )) s"
