#!/usr/bin/env bash
# Runs the visitor widget's headless-browser tests against the chat service binary.
# Needs Debian's chromium (/usr/bin/chromium). Builds the service (the widget's files are
# embedded in it) unless CHAT_SERVICE_BIN names a binary to test instead.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -x /usr/bin/chromium ]; then
  echo "run.sh: /usr/bin/chromium is missing (apt-get install -y --no-install-recommends chromium)" >&2
  exit 1
fi
if [ -z "${CHAT_SERVICE_BIN:-}" ]; then
  cargo build -p chat-service
fi
npm ci --no-audit --no-fund
npm test
