#!/usr/bin/env python3
"""Turns bench/run.sh's result files into a table (stdout) and BENCHMARKS.md.

    bench/report.py RESULTS_DIR MODE COMMAND FD_LIMIT
"""
import datetime
import glob
import json
import os
import platform
import re
import subprocess
import sys

res_dir, mode, command, fd_limit = sys.argv[1:5]
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Floors measured on a machine of this kind (issue 5).
FLOOR_WS_RTT_P50_MS = 0.095
FLOOR_WS_RTT_P99_MS = 0.150
FLOOR_MSGS_PER_CORE = 100_000 / 2  # 100 ping-pong clients ~100k msg/s on 2 cores
FLOOR_SQLITE_COMMIT_P99_MS = 0.015
FLOOR_DUNST_NOTIFY_P99_MS = 4.0


def load(name):
    try:
        with open(os.path.join(res_dir, name)) as f:
            text = f.read().strip()
        return json.loads(text) if text else None
    except (OSError, ValueError):
        return None


def sh(*args):
    try:
        return subprocess.run(args, capture_output=True, text=True, cwd=root).stdout.strip()
    except OSError:
        return "?"


def fmt(v, unit="", digits=0):
    if v is None:
        return "–"
    if isinstance(v, (int, float)):
        s = f"{v:,.{digits}f}"
    else:
        s = str(v)
    return f"{s} {unit}".strip()


floor_rtt = load("floor-rtt.json") or {}
floor_tp = load("floor-throughput.json") or {}
FLOOR_RTT_P99_MEASURED = (floor_rtt.get("rtt") or {}).get("p99_ms")
FLOOR_RTT_P50_MEASURED = (floor_rtt.get("rtt") or {}).get("p50_ms")
FLOOR_PER_CORE_MEASURED = floor_tp.get("messages_per_sec_per_core")

rows = []  # figure, what, value, goal, ratio to floor, verdict


def row(fig, what, value, goal, ratio, verdict):
    rows.append((fig, what, value, goal, ratio, verdict))


if floor_rtt.get("rtt"):
    r = floor_rtt["rtt"]
    row("floor", "WebSocket round trip on loopback, 1 client, bare tokio-tungstenite echo (side by side)",
        f"p50 {fmt(r.get('p50_ms'), 'ms', 3)}, p99 {fmt(r.get('p99_ms'), 'ms', 3)}", "", 
        f"{r['p50_ms'] / FLOOR_WS_RTT_P50_MS:.2f}x / {r['p99_ms'] / FLOOR_WS_RTT_P99_MS:.2f}x of issue floor", "")
if FLOOR_PER_CORE_MEASURED:
    row("floor", "100 ping-pong clients, bare echo server (side by side)",
        f"{fmt(floor_tp.get('messages_per_sec'))} msg/s on {floor_tp.get('cores', 0):.2f} server cores = {fmt(FLOOR_PER_CORE_MEASURED)} /core",
        "", f"{FLOOR_PER_CORE_MEASURED / FLOOR_MSGS_PER_CORE:.2f}x of issue's 50k/core", "")
# P1 and P6: bench/app-vs-chromium.sh (the app beside Chromium --app showing the same UI)
p16 = load("p1-p6.json") or {}
p16_app, p16_chr, p16_both = p16.get("app") or {}, p16.get("chromium") or {}, p16.get("chromium_with_bridge") or {}
if p16_app.get("pss_mib") and p16_chr.get("pss_mib"):
    a, c = p16_app["pss_mib"], p16_chr["pss_mib"]
    br = (p16.get("bridge") or {}).get("pss_mib")
    by = {}
    for proc in p16_app.get("processes") or []:
        by[proc["comm"]] = by.get(proc["comm"], 0) + proc["pss_kib"] / 1024
    parts = ", ".join(f"{k} {v:.0f}" for k, v in sorted(by.items(), key=lambda kv: -kv[1]))
    value = (f"app {fmt(a, 'MiB')} ({parts}); Chromium {fmt(c, 'MiB')} in {len(p16_chr.get('processes') or [])} processes"
             f" (+ bridge {fmt(br, 'MiB', 1)} = {fmt(p16_both.get('pss_mib'), 'MiB')})")
    value += f"; USS (pages only this tree maps; also lower when others map the same libraries) app {fmt(p16_app.get('uss_mib'), 'MiB')}, Chromium {fmt(p16_chr.get('uss_mib'), 'MiB')}"
    ok = a <= 150 and a <= 0.5 * c
    shared = len(p16_app.get("others_sharing") or []) + len(p16_chr.get("others_sharing") or [])
    fl = (p16.get("webkit_floor") or {}).get("pss_mib")
    files = lambda r: ", ".join(f"{k} {v:.1f}" for k, v in (r.get("pss_by_file_mib") or {}).items())
    if fl:
        row("floor", f"P1's floor: idle PSS after {p16.get('idle_secs')} s of a blank WebKitGTK page in a GTK window of the "
            "app's size, started with the app's WebKit settings (`src-tauri/examples/webkit_floor.rs`; side by side)",
            f"{fmt(fl, 'MiB')} (by file, MiB: {files(p16['webkit_floor'])})", "", "", "")
    ratio = f"{a / c:.2f}x of Chromium ({a / p16_both['pss_mib']:.2f}x of Chromium + bridge)"
    if fl:
        ratio += f"; {a / fl:.2f}x of the WebKitGTK floor (+{a - fl:.0f} MiB)"
    verdict = "pass" if ok else "miss"
    if not ok and fl and fl > 150:
        verdict += " (the WebKitGTK floor alone is over 150 MiB)"
    row("P1", f"idle PSS after {p16.get('idle_secs')} s, {p16.get('live_chats')} live chats, "
        f"{fmt(p16.get('past_conversations_of_agent'))} past conversations (app tree vs Chromium tree)",
        value + (f"; app by file, MiB: {files(p16_app)}" if p16_app.get("pss_by_file_mib") else ""),
        "<= 150 MiB and <= 0.5x Chromium", ratio,
        verdict + (f" (other WebKit/Chromium processes ran meanwhile: {shared}; PSS understated)" if shared else ""))
else:
    row("P1", "idle PSS, app vs Chromium showing the same UI", "failed", "<= 150 MiB and <= 0.5x Chromium", "–", "no data")

# P2
p2 = load("p2.json") or {}
for daemon in ("dunst", "dbusmock"):
    d = p2.get(daemon) or {}
    ans = d.get("notify_answered") or {}
    call = d.get("notify_call") or {}
    p99 = ans.get("p99_ms")
    what = f"offer -> Notify answered by {daemon} ({ans.get('n', 0)}/{p2.get('offers', '?')} offers)"
    value = f"p50 {fmt(ans.get('p50_ms'), 'ms', 2)}, p99 {fmt(p99, 'ms', 2)}" if p99 is not None else "failed"
    ratio = f"{p99 / FLOOR_DUNST_NOTIFY_P99_MS:.2f}x of 4 ms" if p99 is not None else "–"
    verdict = ("pass" if p99 <= 10 else "miss") if p99 is not None else "no data"
    if daemon == "dbusmock":
        verdict = f"({verdict}; reference)"
    row("P2", what, value, "p99 <= 10 ms", ratio, verdict)
    if call.get("n"):
        row("", f"  of which offer -> Notify sent on the bus ({daemon})",
            f"p50 {fmt(call.get('p50_ms'), 'ms', 2)}, p99 {fmt(call.get('p99_ms'), 'ms', 2)}", "", "", "")
if (p2.get("dbusmock") or {}).get("reconnect_ms") is not None:
    row("", "  engine reconnect after kill -9 + restart", fmt(p2["dbusmock"]["reconnect_ms"], "ms"), "", "", "")

# P3 (bench/app-latency.sh): the real app under Xvfb
p3 = load("p3.json") or {}
r3 = p3.get("sent_to_rendered") or {}
if r3.get("n"):
    p99 = r3["p99_ms"]
    row("P3", f"visitor message sent -> rendered in the app's chat ({r3['n']}/{p3.get('messages')} messages, "
        f"{p3.get('gap_ms')} ms apart; release app, WebKitGTK under Xvfb)",
        f"p50 {fmt(r3.get('p50_ms'), 'ms', 2)}, p99 {fmt(p99, 'ms', 2)}, max {fmt(r3.get('max_ms'), 'ms', 2)}",
        "p99 <= 50 ms", f"p99 {p99 / FLOOR_WS_RTT_P99_MS:.0f}x of 0.15 ms WS RTT", "pass" if p99 <= 50 else "miss")
    for key, what in (("sent_to_service_event_at_socket", "sent -> the service's event at a client socket"),
                      ("sent_to_engine_event_in_webview", "sent -> the engine's event in the webview"),
                      ("sent_to_dom", "sent -> text in the DOM (before the frame)")):
        s3 = p3.get(key) or {}
        if s3.get("n"):
            row("", f"  of which {what}", f"p50 {fmt(s3.get('p50_ms'), 'ms', 2)}, p99 {fmt(s3.get('p99_ms'), 'ms', 2)}", "", "", "")
else:
    row("P3", "visitor message sent -> rendered in the app", "failed", "p99 <= 50 ms", "–", "no data")

# P4
for path in sorted(glob.glob(os.path.join(res_dir, "p4-*.json")), key=lambda p: int(re.findall(r"\d+", os.path.basename(p))[-1])):
    r = load(os.path.basename(path)) or {}
    n = r.get("target", "?")
    if r.get("skipped"):
        row("P4", f"{fmt(n)} idle sockets per GiB of service RSS", "not possible here", ">= 50,000 per GiB", "–", r["skipped"])
        continue
    per = r.get("per_gib_rss")
    est = r.get("established", 0)
    value = f"{fmt(per)} /GiB (RSS {fmt((r.get('service_rss_kib') or 0) / 1024, 'MiB')}, PSS {fmt(r.get('per_gib_pss'))} /GiB; {fmt(r.get('bytes_per_conn_rss'), 'B')}/socket)"
    verdict = ("pass" if per >= 50_000 else "miss") if per else "no data"
    if est < (n if isinstance(n, int) else 0):
        verdict += f" ({est} of {n} opened)"
    row("P4", f"{fmt(n)} idle sockets (half agent, half visitor) per GiB of service RSS", value, ">= 50,000 per GiB", "no floor", verdict)

# P5
p5 = load("p5.json") or {}
if p5.get("delivered_per_sec_per_core"):
    per_core = p5["delivered_per_sec_per_core"]
    lat = p5.get("latency") or {}
    p99 = lat.get("p99_ms")
    ok = per_core >= 20_000 and p99 is not None and p99 < 50
    value = (f"{fmt(per_core)} msg/s/core ({fmt(p5['delivered_per_sec'])} msg/s on {p5['service_cores']:.2f} cores; "
             f"p50 {fmt(lat.get('p50_ms'), 'ms', 2)}, p99 {fmt(p99, 'ms', 2)})")
    ratio = f"{per_core / FLOOR_MSGS_PER_CORE:.2f}x of 50k/core (issue); p99 {p99 / FLOOR_WS_RTT_P99_MS:.0f}x of 0.15 ms"
    if FLOOR_PER_CORE_MEASURED and FLOOR_RTT_P99_MEASURED:
        ratio += (f"; side by side: {per_core / FLOOR_PER_CORE_MEASURED:.3f}x of {FLOOR_PER_CORE_MEASURED:,.0f}/core, "
                  f"p99 {p99 / FLOOR_RTT_P99_MEASURED:.0f}x of {FLOOR_RTT_P99_MEASURED:.3f} ms")
    row("P5", f"messages delivered per second per core ({p5['live_chats']} chats, {p5['agents']} agents)", value,
        ">= 20,000 with p99 < 50 ms", ratio, "pass" if ok else "miss")
else:
    row("P5", "messages delivered per second per core", "failed", ">= 20,000 with p99 < 50 ms", "–", "no data")

if (p16_app.get("cold_start_ms") or {}).get("median") and (p16_chr.get("cold_start_ms") or {}).get("median"):
    a, c, b = p16_app["cold_start_ms"], p16_chr["cold_start_ms"], p16_both.get("cold_start_ms") or {}
    ax = p16_app.get("cold_start_from_exec_ms") or {}
    value = (f"app median {fmt(a['median'], 'ms')} (max {fmt(a['max'], 'ms')}; from its exec {fmt(ax.get('median'), 'ms')}); "
             f"Chromium {fmt(c['median'], 'ms')} (max {fmt(c['max'], 'ms')}); bridge + Chromium {fmt(b.get('median'), 'ms')} "
             f"(max {fmt(b.get('max'), 'ms')}); {p16.get('launches')} launches each")
    ok = a["median"] <= 1000 and a["median"] < c["median"]
    row("P6", "cold start, launch -> inbox interactive, app vs Chromium --app", value, "<= 1 s and faster than Chromium",
        f"{a['median'] / c['median']:.2f}x of Chromium", "pass" if ok else "miss")
else:
    row("P6", "cold start, app vs Chromium --app", "failed", "<= 1 s and faster than Chromium", "–", "no data")
# P7 (bench/app-latency.sh): a database with 100,000 more conversations
p7 = load("p7.json") or {}
seeded = p7.get("conversations_seeded") or 0
for fp in p7.get("first_page") or []:
    if fp.get("n"):
        row("P7", f"first page from the service, {fmt(seeded)} conversations (GET scope=all, limit {fp['limit']}"
            f"{', the app' if fp['limit'] == 100 else ', the default'}; {fp['n']} requests)",
            f"p50 {fmt(fp.get('p50_ms'), 'ms', 2)}, p99 {fmt(fp.get('p99_ms'), 'ms', 2)}, max {fmt(fp.get('max_ms'), 'ms', 2)}",
            "first page <= 50 ms", "no floor", "pass" if fp["p99_ms"] <= 50 else "miss")
fr = (p7.get("first_render") or {}).get("frame") or {}
if fr.get("n"):
    row("P7", f"the app's first render of the list (\"All\" clicked -> first page painted; {fr['n']} runs)",
        f"p50 {fmt(fr.get('p50_ms'), 'ms')}, max {fmt(fr.get('max_ms'), 'ms')} (launch -> inbox {fmt(p7.get('launch_to_inbox_ms'), 'ms')})",
        "report", "", "reported")
sc = p7.get("scroll") or {}
fs = sc.get("frames") or {}
if fs.get("n"):
    over = sc.get("frames_over_50ms", 0)
    row("P7", f"frame times scrolling the list through {fmt(sc.get('rows_scrolled'))} rows "
        f"({sc.get('step_px')} px per frame, {fmt(sc.get('rows_loaded'))} rows loaded page by page)",
        f"p50 {fmt(fs.get('p50_ms'), 'ms', 1)}, p99 {fmt(fs.get('p99_ms'), 'ms', 1)}, max {fmt(fs.get('max_ms'), 'ms', 1)}; "
        f"{over} of {fs['n']} frames over 50 ms",
        "no frame over 50 ms", f"max {fs['max_ms'] / (1000 / 60):.1f}x of a 60 Hz frame", "pass" if over == 0 else "miss")
if not p7:
    row("P7", "100,000 conversations: first page; first render and frames while scrolling", "failed",
        "first page <= 50 ms; no frame over 50 ms", "–", "no data")

# P8
p8 = load("p8.json") or {}
if p8.get("offers_per_sec"):
    o = p8.get("request_to_offer") or {}
    value = (f"{fmt(p8['offers_per_sec'])} offers/s; request -> offer p50 {fmt(o.get('p50_ms'), 'ms')}, "
             f"p99 {fmt(o.get('p99_ms'), 'ms')} ({p8['offers']}/{p8['visitors']} offered)")
    ratio = f"p50 {o['p50_ms'] / FLOOR_WS_RTT_P50_MS:,.0f}x of 0.095 ms WS RTT"
    if FLOOR_RTT_P50_MEASURED:
        ratio += f" ({o['p50_ms'] / FLOOR_RTT_P50_MEASURED:,.0f}x of {FLOOR_RTT_P50_MEASURED:.3f} ms measured)"
    row("P8", f"routing {p8['visitors']} queued visitors, {p8['agents']} agents accepting at once", value,
        "report, then improve", ratio, "reported")
else:
    row("P8", "routing under 1,000 queued visitors", "failed", "report, then improve", "–", "no data")

header = ("figure", "what", "value", "goal", "ratio to floor", "pass/miss")
widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(6)]
line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()
print(line(header))
print("  ".join("-" * w for w in widths))
for r in rows:
    print(line(r))

# ---- BENCHMARKS.md
def meminfo():
    try:
        for l in open("/proc/meminfo"):
            if l.startswith("MemTotal:"):
                return f"{int(l.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "?"


def cpu_model():
    try:
        for l in open("/proc/cpuinfo"):
            if l.startswith("model name"):
                return l.split(":", 1)[1].strip()
    except OSError:
        pass
    return "?"


commit = sh("git", "rev-parse", "--short=12", "HEAD")
dirty = sh("git", "status", "--porcelain", "--untracked-files=no")
profile = re.search(r"\[profile\.release\]\n((?:[^\[\n].*\n?)*)", open(os.path.join(root, "Cargo.toml")).read())
profile = ", ".join(l.strip() for l in (profile.group(1).splitlines() if profile else []) if l.strip()) or "default"
load_avg = open("/proc/loadavg").read().split()[:3] if os.path.exists("/proc/loadavg") else ["?"]

md = []
md.append("# Benchmarks\n")
md.append(f"Written by `{command}` ({mode} mode) on {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}. "
          "Benchmarks measure and never gate CI. Each figure runs against a fresh release `chat-service` with a fresh "
          "SQLite database on loopback; load generators: `target/release/bench` (`crates/sim/src/bin/bench.rs`) and "
          "`bench/offer-notify.sh`. Ratios to floors use the floors of issue 5 measured on a machine of this kind.\n")
md.append("## How it was obtained\n")
md.append(f"- Machine: {os.cpu_count()} cores ({cpu_model()}), {meminfo()} memory, kernel {platform.release()}, "
          f"load average at the end {' '.join(load_avg)}. **Shared with other engineers compiling**: figures are noisy, "
          "and the load generators run on the same 2 cores as the service.")
md.append(f"- Open-file limit: {fd_limit} (hard limit; raising it needs CAP_SYS_RESOURCE, which this container lacks).")
md.append(f"- Build: commit `{commit}`{' with local changes' if dirty else ''}, `{sh('rustc', '--version')}`, "
          f"`cargo build --release --locked` (profile.release: {profile}).")
svc = os.environ.get("BENCH_SERVICE_BIN", "target/release/chat-service")
md.append(f"- Service binary: `{svc}`" + ("" if svc == "target/release/chat-service" else " (**not this commit's build**)"))
md.append(f"- Command: `{command}`\n")
md.append("## Results\n")
md.append("| " + " | ".join(header) + " |")
md.append("| " + " | ".join("---" for _ in header) + " |")
for r in rows:
    md.append("| " + " | ".join(str(c).replace("|", "/") for c in r) + " |")
md.append("")
md.append("## What each figure does\n")
md.append("- **floor**: `bench echo-server` (bare tokio-tungstenite, same buffers as the load generators, its own process) "
          "and `bench floor`: 1 client for round trips, 100 ping-pong clients for messages per second (ping and echo "
          "count as two messages) per core of the server's CPU time. Same machine, same run as the figures.")
md.append("- **P1, P6** (`bench/app-vs-chromium.sh`, `.mjs`): one release `chat-service` with `--demo` data, 1,000 more "
          "ended conversations of grace@ (copied demo chats with their messages) and 10 live chats that `visitor-sim` "
          "visitors hold open with grace@ (one message each every 5 min). The same UI build (`ui/dist`) runs in the app "
          "(release, WebKitGTK) and in Debian's Chromium (`--app` window, fresh `--user-data-dir`, `--no-first-run "
          "--disable-background-networking --disable-component-update --disable-sync --no-sandbox`) served by the web "
          "bridge `agent-inbox-web` (crates/web-bridge: the shell's commands over HTTP, its events over a WebSocket, the "
          "same agent-core engine and sign-in), under Xvfb with a private session bus. P6: launch -> the UI's "
          "`agent-inbox:painted` performance mark (the mounted inbox's first frame on screen), read as wall-clock time; "
          "both sides spawned directly (the app's window reports its marks to the app's log, Chromium's are read over "
          "DevTools); every launch with fresh profile, config and cache "
          "folders; Chromium alone (bridge already signed in) and bridge + Chromium (both started, sign-in included). "
          "P1: one more launch of the app under tauri-driver (WebDriver tells when it shows the chats) and the last "
          "launch of Chromium, connected and showing the 10 live chats, idle, then PSS of the process "
          "tree (`smaps_rollup`, as `pss-tree`): agent-inbox + WebKitWebProcess + WebKitNetworkProcess vs Chromium's "
          "browser, zygotes, GPU, renderer and utility processes; the bridge separately. One side at a time. P1's "
          "floor: `target/release/examples/webkit_floor`, a GTK window with one WebKitGTK web view showing a static "
          "page, started with the app's own WebKit settings (`without_gl_rendering`), idle as long, its tree's PSS "
          "read the same way; the files holding the most PSS are listed for each tree.")
md.append("- **P2**: a visitor (`bench/offers.mjs`) sends `start_chat` one chat at a time; the only available agent runs "
          "`agent-inbox-cli --notify watch` (the app's engine and notifier, one kept bus connection). `dbus-monitor` "
          "timestamps the `Notify` call and the daemon's method return; latency = return time - `start_chat` send time. "
          "Daemons: `dunst` 1.9 under Xvfb (the goal's daemon) and python3-dbusmock's notification template (reference).")
md.append("- **P3** (`bench/app-latency.sh`, `bench/app-latency.mjs`): the release app (`target/release/agent-inbox`, "
          "WebKitGTK) under Xvfb, driven by tauri-driver as in `tests/e2e`, signed in as grace, accepts a chat in its "
          "window; a raw WebSocket visitor sends N messages 100 ms apart. A MutationObserver installed in the webview "
          "over WebDriver stamps each text's arrival in the chat's DOM, and the animation frame after it (the frame that "
          "paints it); latency = that frame - the visitor's send, both `performance.timeOrigin + performance.now()` on "
          "the same machine clock (the offset between the two is measured and recorded). Splits: a second socket of "
          "grace stamps the service's `message` event; a `core://event` listener in the webview stamps the engine's event.")
md.append("- **P4**: N sockets opened 256 at a time from 127.0.0.2-9 (each source address has its own ephemeral ports): "
          "even ones are agent sockets (4 demo agents logged in once, each holding N/8 sockets, `hello` -> `ready`), odd "
          "ones visitor sockets (one session each, `hello` -> `welcome`). After all are open and 3 s of quiet: VmRSS and "
          "PSS (`smaps_rollup`, as `/work/shared/tools/pss-tree`) of the service. B/socket is (RSS after - RSS before) / N.")
md.append("- **P5**: agents (copies of the demo agent, one socket each, max 10 live chats) accept every offer; each visitor "
          "chats with one of them ping-pong style: it sends a stamped message, the agent answers it at once with a "
          "stamped message, the visitor sends the next when the answer arrives. Delivered = visitor->agent messages "
          "received by agents + agent->visitor messages received by visitors in the measured window (after a 3 s warm-up). "
          "Cores = service CPU time (utime+stime, /proc/PID/stat) / wall time. Latency = send -> received at the other "
          "end, both directions.")
md.append("- **P7** (`bench/app-latency.sh`): the demo database plus 100,000 ended conversations (each with its own "
          "visitor and two messages; `bench/seed-conversations.sql`, straight SQL). First page: `GET "
          "/api/v1/conversations?scope=all` on one kept-alive connection, after 10 warm-up requests. In the release app: "
          "\"All\" clicked -> first rows in the DOM -> the next animation frame, from Active each time; then a script "
          "scrolls the virtual list by a fixed step every animation frame (pages of 100 load as it goes) and records every "
          "frame's duration (requestAnimationFrame deltas).")
md.append("- **P8**: all visitors connect and say `hello` first, then send `start_chat` at the same instant; 4 demo agents "
          "(max 1,000 live chats) accept every offer the moment it arrives. Request -> offer = `start_chat` sent -> the "
          "offer event read by the agent; offers/s = offers / time from the burst to the last offer.")
md.append("")
md.append("## Caveats\n")
md.append("- The machine is shared: P2's p99 and P5's latency move by several times between runs when others compile "
          "(P2 dunst p99 was 7 ms, 41 ms and 8 ms in three quick runs on the same commit).")
md.append("- The side-by-side round-trip floor depends on whether the vCPUs are idle: ~0.07 ms p50 on an idle machine, "
          "~0.007 ms when both are busy (no wake-up from idle). Ratios to the issue's floors are given as well.")
md.append("- P4 at 20,000 and 50,000 sockets cannot run here: the service and the load generator each need one fd per "
          "socket and the hard open-file limit is 20,000 without CAP_SYS_RESOURCE; full mode measures the largest count "
          "that fits instead. On a host, raise `ulimit -Hn` (or `LimitNOFILE=`) and it runs as is.")
md.append("- P3 and P7 run the app's WebKitGTK under Xvfb without a GPU. With WebKit's DMABUF renderer "
          "(`AGENT_INBOX_GPU=1`) it composites through Mesa's software GL (llvmpipe), which took most of the web process's "
          "time in `perf` and doubled frame times; the app runs without it by default. Both figures move with the "
          "machine's load more than with the page: P3's service part (the event at a client socket) is in the same run, "
          "so its share shows. `BENCH_APP_ENV=\"VAR=value\" BENCH_SUFFIX=-x bench/app-latency.sh DIR` measures a variant "
          "of the app's environment side by side.")
md.append("- P6 launches the app directly, as an agent does, and reads the start-up line its window writes to the app's log; "
          "under WebDriver (`cold_start_under_webdriver_ms`, the P1 launch) WebKit's automation session made a 500 ms "
          "wait of the first draw more likely. The first launch on a fresh Xvfb is the slowest on both sides (caches, "
          "the X server's first clients).")
md.append("- `BENCH_SERVICE_BIN=/path/to/chat-service bench/run.sh` measures another build with the same load generators "
          "(to check a proposed change side by side).\n")
md.append("## Raw results\n")
for name in sorted(os.listdir(res_dir)):
    if name.endswith(".json"):
        md.append(f"`{name}`:\n")
        try:
            md.append("```json\n" + json.dumps(json.load(open(os.path.join(res_dir, name))), indent=1, sort_keys=True) + "\n```\n")
        except (OSError, ValueError):
            md.append("(no result)\n")
open(os.path.join(root, "BENCHMARKS.md"), "w").write("\n".join(md) + "\n")
print(f"\nwrote {os.path.join(root, 'BENCHMARKS.md')}")
