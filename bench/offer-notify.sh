#!/usr/bin/env bash
# Seed of the benchmarks (issue 5, P2): time from a visitor's start_chat to the agent
# engine's `Notify` call on the session bus, over N offers, plus the engine's reconnect time
# after the service is killed and restarted. Release builds; python3-dbusmock as the
# notification server; `dbus-monitor` timestamps the Notify calls.
#   bench/offer-notify.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-300}"
cargo build --release --locked -p chat-service -p agent-core --bin chat-service --bin agent-inbox-cli >/dev/null
(cd tests/browser && npm ci --no-audit --no-fund --silent)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export HOME="$work/home" XDG_RUNTIME_DIR="$work/home/rt" AGENT_INBOX_CONFIG_DIR="$work/cfg" AGENT_INBOX_DATA_DIR="$work/data"
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
cat > "$work/inner.sh" <<INNER
set -e
/usr/bin/python3 -m dbusmock --template notification_daemon --parameters '{"capabilities":"actions body body-markup sound"}' >/dev/null 2>&1 &
MOCK=\$!
for i in \$(seq 200); do gdbus call --session -d org.freedesktop.DBus -o /org/freedesktop/DBus -m org.freedesktop.DBus.NameHasOwner org.freedesktop.Notifications 2>/dev/null | grep -q true && break; sleep 0.05; done
dbus-monitor --session "type='method_call',interface='org.freedesktop.Notifications',member='Notify'" > "$work/monitor.log" 2>&1 &
MON=\$!
port=\$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url=http://127.0.0.1:\$port
target/release/chat-service --listen 127.0.0.1:\$port --db "$work/m.db" --demo --visitor-messages-per-10s 100000 > "$work/svc.log" 2>&1 &
SVC=\$!
for i in \$(seq 200); do curl -fs \$url/healthz >/dev/null && break; sleep 0.05; done
TOK=\$(AGENT_INBOX_PASSWORD=demo1234 target/release/agent-inbox-cli --url \$url --email grace@example.com login --print-token)
AGENT_INBOX_TOKEN=\$TOK target/release/agent-inbox-cli --url \$url --email grace@example.com --notify watch > "$work/watch.log" 2>&1 &
W=\$!
until grep -q '"state":"connected"' "$work/watch.log"; do sleep 0.02; done
node bench/offers.mjs \$url $N > "$work/sent.log"
kill -9 \$SVC; wait \$SVC 2>/dev/null || true
T0=\$(date +%s%N)
target/release/chat-service --listen 127.0.0.1:\$port --db "$work/m.db" > "$work/svc2.log" 2>&1 &
SVC=\$!
until [ \$(grep -c '"state":"connected"' "$work/watch.log") -ge 2 ]; do sleep 0.005; done
echo "reconnect after kill -9 and restart: \$(( (\$(date +%s%N)-T0)/1000000 )) ms"
kill \$W \$MON \$MOCK \$SVC 2>/dev/null || true
INNER
dbus-run-session -- bash "$work/inner.sh" 2>/dev/null
python3 - "$work/sent.log" "$work/monitor.log" <<'PY'
import re, sys
sent = [int(l) for l in open(sys.argv[1]) if l.strip()]
calls = []
for l in open(sys.argv[2]):
    m = re.search(r'method call time=(\d+)\.(\d+).*member=Notify', l)
    if m:
        calls.append(int(m.group(1)) * 1_000_000 + int(m.group(2)))
lat, j = [], 0
for t in sent:
    while j < len(calls) and calls[j] < t:
        j += 1
    if j < len(calls):
        lat.append((calls[j] - t) / 1000)
        j += 1
lat.sort()
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
print(f"start_chat -> Notify on the bus, {len(lat)} offers: p50 {q(0.5):.2f} ms, p99 {q(0.99):.2f} ms, max {lat[-1]:.2f} ms")
PY
