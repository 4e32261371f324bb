#!/usr/bin/env bash
# P3 and P7 of issue 5 in the real app: the release build of the desktop app (src-tauri) driven
# over WebDriver (tauri-driver + WebKitWebDriver) on Xvfb, against a fresh release chat-service.
#   bench/app-latency.sh RESULTS_DIR [--quick] [--no-build]
# Writes RESULTS_DIR/p3.json (visitor message sent -> rendered in the app) and RESULTS_DIR/p7.json
# (100,000 conversations: first page from the service, the list's first render and its frame
# times while scrolling). What is measured, and how: bench/app-latency.mjs.
# Environment: AGENT_INBOX_BIN, CHAT_SERVICE_BIN (binaries to measure; default target/release),
# P3_MESSAGES, P3_GAP_MS, P7_CONVERSATIONS, P7_REQUESTS, P7_RENDERS, P7_ROWS, P7_STEP_PX
# (defaults by mode below), BENCH_ONLY=p3|p7; BENCH_APP_ENV="VAR=value ..." launches the app with
# those variables (a variant measured side by side) and BENCH_SUFFIX names its files p3SUFFIX.json.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RES=${1:?usage: bench/app-latency.sh RESULTS_DIR [--quick] [--no-build]}
shift
MODE=full BUILD=1
for a in "$@"; do
  case "$a" in
    --quick) MODE=quick ;;
    --no-build) BUILD=0 ;;
    *) echo "unknown argument $a" >&2; exit 2 ;;
  esac
done
mkdir -p "$RES"
RES=$(cd "$RES" && pwd)

if [ "$MODE" = quick ]; then
  : "${P3_MESSAGES:=100}" "${P7_REQUESTS:=200}" "${P7_ROWS:=3000}" "${P7_RENDERS:=5}"
else
  : "${P3_MESSAGES:=500}" "${P7_REQUESTS:=1000}" "${P7_ROWS:=20000}" "${P7_RENDERS:=10}"
fi
: "${P3_GAP_MS:=100}" "${P7_CONVERSATIONS:=100000}" "${P7_STEP_PX:=340}"
export P3_MESSAGES P3_GAP_MS P7_REQUESTS P7_ROWS P7_RENDERS P7_STEP_PX

export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
if [ "$BUILD" = 1 ]; then
  # The app embeds ui/dist at compile time: rebuild it when it is missing or older than its sources.
  if [ ! -f ui/dist/index.html ] || [ -n "$(find ui/src ui/index.html ui/package.json -newer ui/dist/index.html -print -quit)" ]; then
    echo "== app-latency: build the UI" >&2
    (cd ui && npm ci --no-audit --no-fund --silent && npm run build --silent) >&2 || { echo "UI build failed" >&2; exit 1; }
  fi
  # Separate invocations, each as bench/run.sh builds it: one cargo call for both would unify
  # their features differently and rebuild the service binary back and forth.
  echo "== app-latency: cargo build --release -p agent-inbox" >&2
  cargo build --release --locked -p agent-inbox --bin agent-inbox >&2 || { echo "build failed" >&2; exit 1; }
  if [ -z "${CHAT_SERVICE_BIN:-}" ]; then
    cargo build --release --locked -p chat-service -p agent-core -p agent-inbox-sim \
      --bin chat-service --bin agent-inbox-cli --bin bench >&2 || { echo "build failed" >&2; exit 1; }
  fi
fi
export AGENT_INBOX_BIN="${AGENT_INBOX_BIN:-$ROOT/target/release/agent-inbox}"
export CHAT_SERVICE_BIN="${CHAT_SERVICE_BIN:-$ROOT/target/release/chat-service}"
command -v tauri-driver >/dev/null || cargo install tauri-driver --locked >&2
export TAURI_DRIVER_BIN="$(command -v tauri-driver)"
[ -d tests/e2e/node_modules/ws ] || (cd tests/e2e && npm ci --no-audit --no-fund --silent) >&2

WORK=$(mktemp -d /tmp/agent-inbox-app-latency.XXXXXX)
SVC_PID=
cleanup() { [ -n "$SVC_PID" ] && kill "$SVC_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

# P7's database: migrated and seeded with the demo data by the service itself, then
# P7_CONVERSATIONS ended conversations (bench/seed-conversations.sql) added in SQL.
if [[ ",${BENCH_ONLY:-p3,p7}," == *,p7,* ]]; then
  echo "== app-latency: seeding $P7_CONVERSATIONS conversations" >&2
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$CHAT_SERVICE_BIN" --listen "127.0.0.1:$port" --db "$WORK/p7.db" --demo >"$WORK/seed.log" 2>&1 &
  SVC_PID=$!
  for _ in $(seq 200); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.05; done
  kill "$SVC_PID"; wait "$SVC_PID" 2>/dev/null; SVC_PID=
  t0=$(date +%s.%N)
  sqlite3 -bail "$WORK/p7.db" -cmd ".parameter set :n $P7_CONVERSATIONS" < bench/seed-conversations.sql >/dev/null \
    || { echo "seeding failed" >&2; exit 1; }
  echo "   seeded in $(python3 -c "print(round($(date +%s.%N) - $t0, 1))") s: $(sqlite3 "$WORK/p7.db" 'SELECT count(*) FROM conversations') conversations" >&2
  export P7_DB="$WORK/p7.db" P7_SEEDED=$P7_CONVERSATIONS
fi

echo "== app-latency: the app under Xvfb ($MODE: P3 $P3_MESSAGES messages; P7 $P7_REQUESTS requests, $P7_ROWS rows scrolled)" >&2
BENCH_RESULTS="$RES" timeout --kill-after=30 1500 tests/e2e/harness.sh node bench/app-latency.mjs >&2
