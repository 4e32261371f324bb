#!/usr/bin/env bash
# P1 and P6 (issue 5): the real app beside Debian's Chromium showing the same UI (the web build
# of ui/ served by the web bridge `agent-inbox-web`, in a `--app` window), same service, same
# data, same run. One fresh release chat-service with --demo data, 1,000 more past conversations
# of the demo agent grace@, and 10 live chats that visitor-sim's visitors hold open with grace;
# then bench/app-vs-chromium.mjs inside tests/e2e/harness.sh (Xvfb, private session bus,
# keychain, notification daemon): cold start (P6) and idle PSS (P1) of each side.
#
#   bench/app-vs-chromium.sh RESULTS_DIR [--no-build]     writes RESULTS_DIR/p1-p6.json
#   P1_IDLE_SECS=600 (idle before the memory is read; bench/run.sh --quick uses 60)
#   P6_LAUNCHES=5    (cold starts per side; bench/run.sh uses 9, --quick 5)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RES=${1:?usage: bench/app-vs-chromium.sh RESULTS_DIR [--no-build]}
BUILD=1
[ "${2:-}" = "--no-build" ] && BUILD=
IDLE_SECS=${P1_IDLE_SECS:-600}
LAUNCHES=${P6_LAUNCHES:-5}
PAST=1000
LIVE=10
mkdir -p "$RES"
RES=$(cd "$RES" && pwd)

if [ -n "$BUILD" ]; then
  # The app embeds ui/dist at compile time, and the bridge serves the same files.
  (cd ui && { [ -d node_modules ] || npm ci --no-audit --no-fund --silent; } && npm run build --silent) >&2
  cargo build --release --locked -p chat-service -p agent-inbox-sim -p agent-inbox-web -p agent-inbox \
    --bin chat-service --bin visitor-sim --bin agent-inbox-web --bin agent-inbox --example webkit_floor >&2
fi
for b in chat-service visitor-sim agent-inbox-web agent-inbox examples/webkit_floor; do
  [ -x "target/release/$b" ] || { echo "target/release/$b is missing (run without --no-build)" >&2; exit 1; }
done
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
command -v tauri-driver >/dev/null || cargo install tauri-driver --locked >&2
[ -d tests/e2e/node_modules/ws ] || (cd tests/e2e && npm ci --no-audit --no-fund --silent)

WORK=$(mktemp -d /tmp/agent-inbox-p1p6.XXXXXX)
SVC_PID= SIM_PID=
cleanup() {
  [ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null
  [ -n "$SVC_PID" ] && kill "$SVC_PID" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL="http://127.0.0.1:$port"
DB="$WORK/chat.db"
wait_up() { for _ in $(seq 200); do curl -fs "$URL/healthz" >/dev/null && return 0; sleep 0.05; done; return 1; }

# The demo data set, then 1,000 more ended conversations of grace@ (copies of the demo's ended
# chats with their messages, an hour apart going back in time).
target/release/chat-service --listen "127.0.0.1:$port" --db "$DB" --demo >"$WORK/seed.log" 2>&1 &
SVC_PID=$!
wait_up || { echo "the service did not start" >&2; cat "$WORK/seed.log" >&2; exit 1; }
kill "$SVC_PID"; wait "$SVC_PID" 2>/dev/null || true; SVC_PID=
sqlite3 "$DB" <<SQL
CREATE TEMP TABLE src AS SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM conversations WHERE status = 'ended';
CREATE TEMP TABLE plan AS
  WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $PAST - 1)
  SELECT i, (SELECT id FROM src WHERE k = i % (SELECT count(*) FROM src)) AS src_id,
         (SELECT max(id) FROM conversations) + 1 + i AS new_id,
         (i + 1) * 3600000 AS back
  FROM n;
INSERT INTO conversations (id, visitor_id, agent_id, status, created_at, last_activity_at, last_message, ended_at, end_reason)
  SELECT p.new_id, c.visitor_id, (SELECT id FROM agents WHERE email = 'grace@example.com'), 'ended',
         c.created_at - p.back, c.last_activity_at - p.back, c.last_message, c.ended_at - p.back, c.end_reason
  FROM plan p JOIN conversations c ON c.id = p.src_id;
INSERT INTO messages (conversation_id, author_role, agent_id, content_json, created_at)
  SELECT p.new_id, m.author_role,
         CASE WHEN m.author_role = 'agent' THEN (SELECT id FROM agents WHERE email = 'grace@example.com') END,
         m.content_json, m.created_at - p.back
  FROM plan p JOIN messages m ON m.conversation_id = p.src_id;
SQL
GRACE_PAST=$(sqlite3 "$DB" "SELECT count(*) FROM conversations c JOIN agents a ON a.id = c.agent_id WHERE a.email = 'grace@example.com' AND c.status = 'ended'")

# The service for the run: chats stay live however long the idle lasts.
target/release/chat-service --listen "127.0.0.1:$port" --db "$DB" --inactivity-timeout-secs 86400 \
  --visitor-messages-per-10s 100000 >"$WORK/service.log" 2>&1 &
SVC_PID=$!
wait_up || { echo "the service did not start" >&2; cat "$WORK/service.log" >&2; exit 1; }

# 10 visitors whose chats grace@ accepts (visitor-sim plays grace on its own socket); each
# visitor says something every 5 minutes, so the chats stay live and the inboxes see a little
# traffic, as an agent's would.
target/release/visitor-sim --url "$URL" --visitors "$LIVE" --messages 1000 --interval-ms 300000 \
  --ramp-ms 0 --duration-secs 86400 --agent grace@example.com:demo1234 >"$WORK/sim.log" 2>&1 &
SIM_PID=$!
live=0
for _ in $(seq 600); do
  live=$(sqlite3 "$DB" "SELECT count(*) FROM conversations WHERE status = 'live'" 2>/dev/null || echo 0)
  [ "$live" -ge "$LIVE" ] && break
  kill -0 "$SIM_PID" 2>/dev/null || break
  sleep 0.1
done
[ "$live" -ge "$LIVE" ] || { echo "only $live of $LIVE chats went live" >&2; cat "$WORK/sim.log" >&2; exit 1; }
echo "== P1/P6: service $URL with the demo data, $GRACE_PAST ended conversations of grace@, $live live chats" >&2

export TAURI_DRIVER_BIN="$(command -v tauri-driver)"
export SERVICE_URL="$URL" IDLE_SECS LAUNCHES LIVE_CHATS=$LIVE OUT="$RES/p1-p6.json" CLK_TCK=$(getconf CLK_TCK)
export AGENT_INBOX_BIN="$ROOT/target/release/agent-inbox" BRIDGE_BIN="$ROOT/target/release/agent-inbox-web" DIST="$ROOT/ui/dist"
export FLOOR_BIN="$ROOT/target/release/examples/webkit_floor"
timeout --kill-after=30 $((IDLE_SECS * 3 + 900)) tests/e2e/harness.sh node bench/app-vs-chromium.mjs >&2
python3 - "$RES/p1-p6.json" "$GRACE_PAST" <<'PY'
import json, sys
p = sys.argv[1]
r = json.load(open(p))
r["past_conversations_of_agent"] = int(sys.argv[2])
json.dump(r, open(p, "w"))
PY
cat "$RES/p1-p6.json"
