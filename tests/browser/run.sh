#!/usr/bin/env bash
# Runs the visitor widget's headless-browser tests against the chat service binary.
# Needs Debian's chromium (/usr/bin/chromium) and a built service:
#   cargo build -p chat-service   (or set CHAT_SERVICE_BIN to another build)
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -x /usr/bin/chromium ]; then
  echo "run.sh: /usr/bin/chromium is missing (apt-get install -y --no-install-recommends chromium)" >&2
  exit 1
fi
npm ci --no-audit --no-fund
npm test
