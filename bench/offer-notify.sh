#!/usr/bin/env bash
# P2 (issue 5): time from a visitor's start_chat to the agent engine's `Notify` call on the
# session bus, and to the notification daemon's answer (the method return), over N offers,
# against python3-dbusmock and against a real dunst under Xvfb; plus the engine's reconnect
# time after the service is killed and restarted (dbusmock run). Release builds;
# `dbus-monitor` timestamps the Notify calls and their returns.
#   bench/offer-notify.sh [N] [--json FILE] [--no-build] [--daemons "dbusmock dunst"]
set -euo pipefail
cd "$(dirname "$0")/.."
N=300 JSON= BUILD=1 DAEMONS="dbusmock dunst"
while [ $# -gt 0 ]; do
  case "$1" in
    --json) JSON=$2; shift ;;
    --no-build) BUILD= ;;
    --daemons) DAEMONS=$2; shift ;;
    *) N=$1 ;;
  esac
  shift
done
if [ -n "$BUILD" ]; then
  cargo build --release --locked -p chat-service -p agent-core --bin chat-service --bin agent-inbox-cli >/dev/null
fi
(cd tests/browser && npm ci --no-audit --no-fund --silent)
work=$(mktemp -d)
XVFB=
trap '[ -n "$XVFB" ] && kill $XVFB 2>/dev/null; rm -rf "$work"' EXIT

# One run: a private session bus with DAEMON as the notification server.
run_daemon() {
  local daemon=$1 dir="$work/$1"
  mkdir -p "$dir/home/rt" && chmod 700 "$dir/home/rt"
  cat > "$dir/dunstrc" <<'RC'
[global]
    monitor = 0
    follow = none
    width = 300
    height = 100
    origin = top-right
    offset = 10x50
    notification_limit = 5
    idle_threshold = 0
    show_age_threshold = -1
    history_length = 20
    dmenu = /bin/true
    browser = /bin/true
[urgency_low]
    timeout = 10
[urgency_normal]
    timeout = 10
[urgency_critical]
    timeout = 10
RC
  cat > "$dir/inner.sh" <<INNER
set -e
export HOME="$dir/home" XDG_RUNTIME_DIR="$dir/home/rt" XDG_CACHE_HOME="$dir/home/cache" AGENT_INBOX_CONFIG_DIR="$dir/cfg" AGENT_INBOX_DATA_DIR="$dir/data"
if [ "$daemon" = dunst ]; then
  dunst -config "$dir/dunstrc" > "$dir/daemon.log" 2>&1 &
else
  /usr/bin/python3 -m dbusmock --template notification_daemon --parameters '{"capabilities":"actions body body-markup sound"}' > "$dir/daemon.log" 2>&1 &
fi
D=\$!
for i in \$(seq 200); do gdbus call --session -d org.freedesktop.DBus -o /org/freedesktop/DBus -m org.freedesktop.DBus.NameHasOwner org.freedesktop.Notifications 2>/dev/null | grep -q true && break; sleep 0.05; done
dbus-monitor --session "type='method_call',interface='org.freedesktop.Notifications',member='Notify'" "type='method_return',sender='org.freedesktop.Notifications'" > "$dir/monitor.log" 2>&1 &
MON=\$!
port=\$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url=http://127.0.0.1:\$port
target/release/chat-service --listen 127.0.0.1:\$port --db "$dir/m.db" --demo --visitor-messages-per-10s 100000 > "$dir/svc.log" 2>&1 &
SVC=\$!
for i in \$(seq 200); do curl -fs \$url/healthz >/dev/null && break; sleep 0.05; done
TOK=\$(AGENT_INBOX_PASSWORD=demo1234 target/release/agent-inbox-cli --url \$url --email grace@example.com login --print-token)
AGENT_INBOX_TOKEN=\$TOK target/release/agent-inbox-cli --url \$url --email grace@example.com --notify watch > "$dir/watch.log" 2>&1 &
W=\$!
for i in \$(seq 600); do grep -q '"state":"connected"' "$dir/watch.log" && break; sleep 0.02; done
sleep 0.3
node bench/offers.mjs \$url $N > "$dir/sent.log"
sleep 0.3
if [ "$daemon" = dbusmock ]; then
  kill -9 \$SVC; wait \$SVC 2>/dev/null || true
  T0=\$(date +%s%N)
  target/release/chat-service --listen 127.0.0.1:\$port --db "$dir/m.db" > "$dir/svc2.log" 2>&1 &
  SVC=\$!
  for i in \$(seq 3000); do [ \$(grep -c '"state":"connected"' "$dir/watch.log") -ge 2 ] && break; sleep 0.005; done
  echo \$(( (\$(date +%s%N)-T0)/1000000 )) > "$dir/reconnect_ms"
fi
kill \$W \$MON \$D \$SVC 2>/dev/null || true
INNER
  if [ "$daemon" = dunst ]; then
    Xvfb -displayfd 9 -screen 0 1280x800x24 -nolisten tcp 9>"$work/display" 2>/dev/null &
    XVFB=$!
    for _ in $(seq 100); do [ -s "$work/display" ] && break; sleep 0.05; done
    DISPLAY=:$(cat "$work/display") dbus-run-session -- bash "$dir/inner.sh" 2>/dev/null
    kill $XVFB 2>/dev/null || true; XVFB=
  else
    dbus-run-session -- bash "$dir/inner.sh" 2>/dev/null
  fi
}

for d in $DAEMONS; do
  echo "offer-notify: $N offers with $d" >&2
  run_daemon "$d" || echo "offer-notify: the $d run failed" >&2
done

python3 - "$work" "$N" "${JSON:-}" $DAEMONS <<'PY'
import json, os, re, sys
work, n, out, daemons = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
def us(sec, frac):
    return int(sec) * 1_000_000 + int(frac)
def q(lat, p):
    lat = sorted(lat)
    return lat[min(len(lat) - 1, max(0, -(-int(p * len(lat) * 1000) // 1000) - 1))] if lat else None
def summary(lat):
    return {"n": len(lat), "p50_ms": q(lat, 0.5), "p99_ms": q(lat, 0.99), "max_ms": max(lat) if lat else None}
result = {"offers": n}
for d in daemons:
    dir = os.path.join(work, d)
    try:
        sent = [int(l) for l in open(os.path.join(dir, "sent.log")) if l.strip()]
        mon = open(os.path.join(dir, "monitor.log")).read().splitlines()
    except OSError:
        result[d] = {"error": "run failed"}
        continue
    calls, returns = [], {}
    for l in mon:
        m = re.search(r'method call time=(\d+)\.(\d+) sender=(\S+) -> destination=\S+ serial=(\d+).*member=Notify', l)
        if m:
            calls.append((us(m.group(1), m.group(2)), m.group(3), m.group(4)))
            continue
        m = re.search(r'method return time=(\d+)\.(\d+) sender=\S+ -> destination=(\S+) serial=\d+ reply_serial=(\d+)', l)
        if m:
            returns[(m.group(3), m.group(4))] = us(m.group(1), m.group(2))
    call_lat, answer_lat, j = [], [], 0
    for t in sent:
        while j < len(calls) and calls[j][0] < t:
            j += 1
        if j < len(calls):
            at, who, serial = calls[j]
            call_lat.append((at - t) / 1000)
            if (who, serial) in returns:
                answer_lat.append((returns[(who, serial)] - t) / 1000)
            j += 1
    r = {"notify_call": summary(call_lat), "notify_answered": summary(answer_lat)}
    rc = os.path.join(dir, "reconnect_ms")
    if os.path.exists(rc):
        r["reconnect_ms"] = int(open(rc).read().strip() or 0)
    result[d] = r
    fmt = lambda s: f"p50 {s['p50_ms']:.2f} ms, p99 {s['p99_ms']:.2f} ms, max {s['max_ms']:.2f} ms" if s["n"] else "no samples"
    print(f"{d}: start_chat -> Notify on the bus, {len(call_lat)}/{n} offers: {fmt(r['notify_call'])}")
    print(f"{d}: start_chat -> Notify answered by the daemon, {len(answer_lat)}/{n}: {fmt(r['notify_answered'])}")
    if "reconnect_ms" in r:
        print(f"{d}: reconnect after kill -9 and restart: {r['reconnect_ms']} ms")
if out:
    json.dump(result, open(out, "w"))
PY
