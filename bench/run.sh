#!/usr/bin/env bash
# Benchmarks (issue 5): builds release binaries, runs every service-side benchmark against a
# chat service on loopback, prints a table and writes BENCHMARKS.md at the repository root.
#   bench/run.sh [--quick]        # --quick: smaller N, a few minutes
# Benchmarks measure; they never fail the build. Each figure runs against a fresh service with
# a fresh database. Load generators: target/release/bench (crates/sim/src/bin/bench.rs) and
# bench/offer-notify.sh (P2).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
MODE=full
[ "${1:-}" = "--quick" ] && MODE=quick
COMMAND="bench/run.sh${1:+ $1}"

if [ "$MODE" = quick ]; then
  P2_OFFERS=100; P4_COUNTS="10000"; P5_VISITORS=100; P5_AGENTS=10; P5_SECS=10; P8_VISITORS=1000
else
  P2_OFFERS=500; P4_COUNTS="10000 20000 50000"; P5_VISITORS=200; P5_AGENTS=20; P5_SECS=30; P8_VISITORS=1000
fi

# BENCH_SERVICE_BIN: measure another chat-service build (say, a proposed change) with the
# same load generators; BENCHMARKS.md says so.
SERVICE=${BENCH_SERVICE_BIN:-target/release/chat-service}
export BENCH_SERVICE_BIN=$SERVICE
echo "== building release binaries" >&2
cargo build --release --locked -p chat-service -p agent-core -p agent-inbox-sim \
  --bin chat-service --bin agent-inbox-cli --bin bench >&2 || { echo "build failed" >&2; exit 1; }

WORK=$(mktemp -d /tmp/agent-inbox-bench.XXXXXX)
RES="$WORK/results"; mkdir -p "$RES"
SVC_PID=
cleanup() { [ -n "$SVC_PID" ] && kill "$SVC_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

# File descriptors: as many as this process may have (the hard limit); raising the hard limit
# needs CAP_SYS_RESOURCE, which containers often drop.
ulimit -n "$(ulimit -Hn)" 2>/dev/null
ulimit -Hn 1048576 2>/dev/null && ulimit -n 1048576 2>/dev/null
FD_LIMIT=$(ulimit -n)
export CLK_TCK=$(getconf CLK_TCK)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_service NAME EXTRA_AGENTS [flags...]: a fresh database seeded with the demo data plus
# EXTRA_AGENTS bench agents (copies of the always-available demo agent grace@, password
# demo1234), then the service with the flags. Sets SVC_PID and URL.
start_service() {
  local name=$1 extra=$2; shift 2
  local db="$WORK/$name.db" port
  port=$(free_port); URL="http://127.0.0.1:$port"
  target/release/chat-service --listen "127.0.0.1:$port" --db "$db" --demo >"$WORK/$name-seed.log" 2>&1 &
  SVC_PID=$!
  for _ in $(seq 200); do curl -fs "$URL/healthz" >/dev/null && break; sleep 0.05; done
  kill "$SVC_PID"; wait "$SVC_PID" 2>/dev/null; SVC_PID=
  if [ "$extra" -gt 0 ]; then
    sqlite3 "$db" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < $extra)
      INSERT INTO agents (email, name, password_hash, settings_json, created_at)
      SELECT printf('bench%03d@example.com', i), printf('Bench Agent %d', i), a.password_hash, a.settings_json, a.created_at
      FROM n, agents a WHERE a.email = 'grace@example.com';"
  fi
  "$SERVICE" --listen "127.0.0.1:$port" --db "$db" "$@" >"$WORK/$name.log" 2>&1 &
  SVC_PID=$!
  for _ in $(seq 200); do curl -fs "$URL/healthz" >/dev/null && break; sleep 0.05; done
  curl -fs "$URL/healthz" >/dev/null || { echo "service $name did not start" >&2; cat "$WORK/$name.log" >&2; return 1; }
}
stop_service() { [ -n "$SVC_PID" ] && { kill "$SVC_PID"; wait "$SVC_PID" 2>/dev/null; }; SVC_PID=; }
bench_agents() { local n=$1 i; for i in $(seq "$n"); do printf -- '--agent bench%03d@example.com ' "$i"; done; }

# ---- Floors, side by side: bare tokio-tungstenite echo server (its own process) on loopback
echo "== floor: WebSocket ping-pong against a bare echo server" >&2
target/release/bench echo-server --max-secs 120 > "$WORK/echo.port" 2>/dev/null &
ECHO_PID=$!
for _ in $(seq 100); do [ -s "$WORK/echo.port" ] && break; sleep 0.05; done
ECHO_URL="http://127.0.0.1:$(head -1 "$WORK/echo.port")"
target/release/bench --url "$ECHO_URL" --pid "$ECHO_PID" floor --clients 1 --duration-secs 3 2>/dev/null | tail -1 > "$RES/floor-rtt.json"
target/release/bench --url "$ECHO_URL" --pid "$ECHO_PID" floor --clients 100 --duration-secs 5 2>/dev/null | tail -1 > "$RES/floor-throughput.json"
kill "$ECHO_PID" 2>/dev/null; wait "$ECHO_PID" 2>/dev/null

# ---- P2: offer -> Notify, python3-dbusmock and dunst
echo "== P2: offer -> Notify over $P2_OFFERS offers (dbusmock, dunst)" >&2
timeout 900 bench/offer-notify.sh "$P2_OFFERS" --json "$RES/p2.json" --no-build >&2 || echo "P2 failed" >&2

# ---- P4: idle connections per GiB
# When a count does not fit under the open-file limit, also measure the largest that does.
MAX_FIT=$(( (FD_LIMIT - 1000) / 1000 * 1000 ))
for n in $P4_COUNTS; do
  if [ $((n + 200)) -gt "$FD_LIMIT" ] && [ "$MAX_FIT" -gt 10000 ] && ! echo " $P4_COUNTS " | grep -q " $MAX_FIT "; then
    P4_COUNTS="$P4_COUNTS $MAX_FIT"; break
  fi
done
for n in $P4_COUNTS; do
  echo "== P4: $n idle connections (fd limit $FD_LIMIT)" >&2
  # The service and the load generator each hold n sockets (+ a margin for the database, logs).
  if [ $((n + 200)) -gt "$FD_LIMIT" ]; then
    echo "{\"bench\":\"connections\",\"target\":$n,\"skipped\":\"open-file limit is $FD_LIMIT (hard); raising it needs CAP_SYS_RESOURCE\"}" > "$RES/p4-$n.json"
    continue
  fi
  start_service "p4-$n" 0 --visitor-token-ttl-minutes 120 || continue
  timeout 600 target/release/bench --url "$URL" --pid "$SVC_PID" connections --count "$n" \
    --sources 8 --pss-tree /work/shared/tools/pss-tree 2>"$WORK/p4-$n.err" | tail -1 > "$RES/p4-$n.json"
  tail -3 "$WORK/p4-$n.err" >&2
  stop_service
done

# ---- P5: messages per second per core
echo "== P5: $P5_VISITORS visitors chatting with $P5_AGENTS agents for $P5_SECS s" >&2
if start_service p5 "$P5_AGENTS" --visitor-messages-per-10s 100000000 --max-live-chats 10; then
  # shellcheck disable=SC2046
  timeout 600 target/release/bench --url "$URL" --pid "$SVC_PID" $(bench_agents "$P5_AGENTS") \
    throughput --visitors "$P5_VISITORS" --duration-secs "$P5_SECS" --warmup-secs 3 \
    2>"$WORK/p5.err" | tail -1 > "$RES/p5.json"
  tail -3 "$WORK/p5.err" >&2
  stop_service
fi

# ---- P8: routing under a burst of 1,000 requests
echo "== P8: $P8_VISITORS visitors ask at once, 4 agents accept every offer" >&2
if start_service p8 0 --visitor-messages-per-10s 100000000 --max-live-chats 1000; then
  timeout 600 target/release/bench --url "$URL" --pid "$SVC_PID" routing --visitors "$P8_VISITORS" \
    2>"$WORK/p8.err" | tail -1 > "$RES/p8.json"
  tail -3 "$WORK/p8.err" >&2
  stop_service
fi

# ---- P1 and P6: the app beside Chromium showing the same UI (bench/app-vs-chromium.sh)
if [ "$MODE" = quick ]; then P1_IDLE_SECS=60 P6_LAUNCHES=5; else P1_IDLE_SECS=600 P6_LAUNCHES=9; fi
echo "== P1/P6: app vs Chromium --app, idle $P1_IDLE_SECS s, $P6_LAUNCHES cold starts each" >&2
P1_IDLE_SECS=$P1_IDLE_SECS P6_LAUNCHES=$P6_LAUNCHES bench/app-vs-chromium.sh "$RES" >/dev/null || echo "P1/P6 failed" >&2

# ---- P3 and P7: the real app (release build) under Xvfb over WebDriver (bench/app-latency.sh)
echo "== P3/P7: visitor message -> rendered in the app; 100,000 conversations" >&2
APP_QUICK=; [ "$MODE" = quick ] && APP_QUICK=--quick
CHAT_SERVICE_BIN="$(realpath "$SERVICE")" timeout 1800 bench/app-latency.sh "$RES" $APP_QUICK || echo "P3/P7 failed" >&2

# ---- table and BENCHMARKS.md
python3 bench/report.py "$RES" "$MODE" "$COMMAND" "$FD_LIMIT" > "$WORK/table.txt" && cat "$WORK/table.txt"
rm -rf target/bench-results && cp -r "$RES" target/bench-results   # raw results, kept for a look

exit 0
