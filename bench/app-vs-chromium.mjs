// P1 and P6 (issue 5): the real app beside Debian's Chromium showing the same UI (ui/dist served
// by the web bridge, `agent-inbox-web`, in a `--app` window), against one running chat service
// with its data. Run by bench/app-vs-chromium.sh inside tests/e2e/harness.sh (Xvfb, a private
// session bus with a keychain and a notification daemon).
//
//   P6 cold start: launch -> the inbox interactive, LAUNCHES times each, every launch fresh
//     (new config, data and cache folders for the app; a new --user-data-dir for Chromium).
//     "Interactive" is the same on both sides: the UI's `agent-inbox:painted` performance mark
//     (the mounted inbox's first frame, AppStore.inboxShown), read as wall-clock time (performance.timeOrigin + startTime)
//     and compared with the wall-clock time of the launch. The app is spawned directly and
//     its window reports the marks to the app's log, which is read here; Chromium is spawned
//     directly with --remote-debugging-port and the marks read over DevTools. Also given: from
//     the process's own start (/proc/PID/stat), which leaves the launcher out on both sides.
//     Chromium is measured twice: with the bridge already running and signed in (Chromium
//     alone), and with a fresh bridge started for each launch (bridge start + sign-in + Chromium).
//   P1 idle memory: one more launch of the app, under WebDriver (tauri-driver), and the last
//     launch of Chromium, once each shows the 10 live chats and is connected, left alone IDLE_SECS, then pss-tree (/proc/*/smaps_rollup) on the app's pid
//     (agent-inbox + WebKitWebProcess + WebKitNetworkProcess), on Chromium's pid (browser,
//     zygotes, GPU, renderer, utility processes) and on the bridge's pid. One side at a time.
//     Also the floor, idle as long: a blank WebKitGTK page in a GTK window, started with the
//     app's WebKit settings (src-tauri/examples/webkit_floor.rs), and for each tree the files
//     holding the most PSS.
//
// Environment: SERVICE_URL, APP_BIN, BRIDGE_BIN, FLOOR_BIN, DIST, IDLE_SECS, LAUNCHES, OUT (JSON file),
// LIVE_CHATS (expected live chats, 10); APP_VARIANTS, a JSON object {name: {ENV: value}}: after
// the two sides, the app's idle PSS once more per variant with those variables (WebKit knobs
// such as WEBKIT_DISABLE_DMABUF_RENDERER), to see where the app's memory goes.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { writeFileSync } from 'node:fs';
import { App, APP_BIN, CHROMIUM, ROOT, WORK, killGroup, stopPid, until } from '../tests/e2e/lib.mjs';

const WebSocket = createRequire(join(ROOT, 'tests/e2e/package.json'))('ws');
const run = promisify(execFile);
const SERVICE_URL = process.env.SERVICE_URL;
const BRIDGE_BIN = process.env.BRIDGE_BIN || join(ROOT, 'target/release/agent-inbox-web');
const FLOOR_BIN = process.env.FLOOR_BIN || join(ROOT, 'target/release/examples/webkit_floor');
const DIST = process.env.DIST || join(ROOT, 'ui/dist');
const IDLE_SECS = Number(process.env.IDLE_SECS || 60);
const LAUNCHES = Number(process.env.LAUNCHES || 5);
const LIVE_CHATS = Number(process.env.LIVE_CHATS || 10);
const PSS_TREE = process.env.PSS_TREE || '/work/shared/tools/pss-tree';
const OUT = process.env.OUT;
// Mapped by every WebKitGTK process and by every Chromium process: another instance running on
// the machine (a test, another bench) shares their pages and lowers the measured PSS.
const WEBKIT_LIB = 'libwebkit2gtk-4.1.so';
const CHROMIUM_LIB = '/usr/lib/chromium/chromium';
const LOGIN = { AGENT_INBOX_URL: SERVICE_URL, AGENT_INBOX_EMAIL: 'grace@example.com', AGENT_INBOX_PASSWORD: 'demo1234' };
// "Interactive": the inbox's first frame on screen (`agent-inbox:painted`, after the mounted
// inbox's next animation frame; AppStore.inboxShown).
const MARK = `(() => { const m = performance.getEntriesByName('agent-inbox:painted')[0]; return m ? performance.timeOrigin + m.startTime : 0; })()`;
// Where the page's part of a launch goes, ms after navigation start: the document received, the
// DOM parsed, and the UI's own `agent-inbox:*` marks (main.ts evaluated, signed in, state read,
// inbox mounted).
const PHASES = `(() => {
  const n = performance.getEntriesByType('navigation')[0] || {};
  const phases = { response_end: Math.round(n.responseEnd || 0), dom_content_loaded: Math.round(n.domContentLoadedEventStart || 0) };
  for (const m of performance.getEntriesByType('mark')) {
    if (m.name.startsWith('agent-inbox:')) phases[m.name.slice('agent-inbox:'.length)] = Math.round(m.startTime);
  }
  return phases;
})()`;
const phaseText = (p) => Object.entries(p).map(([k, v]) => `${k} ${v}`).join(', ');
// The inbox as the agent sees it: connected, the live chats listed.
const SHOWS_CHATS = `(() => {
  const connected = [...document.querySelectorAll('[role=status]')].some((e) => e.textContent.trim() === 'Connected');
  const count = document.querySelector('[aria-label$=" live chats"]')?.getAttribute('aria-label');
  return connected && count === '${LIVE_CHATS} live chats' ? count : '';
})()`;

const CLK_TCK = Number(process.env.CLK_TCK || 100);
/** A process's start as wall-clock ms (10 ms resolution): its start in ticks since boot, against
 * the uptime read now (both on the boot clock; btime from /proc/stat drifts from the wall clock). */
function startedAt(pid) {
  const now = Date.now();
  const uptime = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const ticks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
  return now - (uptime - ticks / CLK_TCK) * 1000;
}

function summary(values) {
  const s = [...values].sort((a, b) => a - b);
  return { runs: values, median: s[Math.floor((s.length - 1) / 2)], max: s[s.length - 1], min: s[0] };
}

/** Each mapping of a process (/proc/PID/smaps) as [name, PSS in KiB]; the name is '' when anonymous. */
function mappings(pid) {
  let text;
  try { text = readFileSync(`/proc/${pid}/smaps`, 'utf8'); } catch { return []; }
  const out = [];
  for (const line of text.split('\n')) {
    const head = line.match(/^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$/);
    if (head) { out.push([head[1].trim(), 0]); continue; }
    const m = out.length && line.match(/^Pss:\s+(\d+) kB/);
    if (m) out[out.length - 1][1] += Number(m[1]);
  }
  return out;
}

/** The `top` largest sums of `entries` ([name, KiB]) grouped by `key(name)`, in MiB, largest first. */
function largest(entries, key, top) {
  const by = {};
  for (const [name, kib] of entries) { const k = key(name); by[k] = (by[k] || 0) + kib; }
  return Object.fromEntries(Object.entries(by).sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, v]) => [k, Math.round(v / 102.4) / 10]));
}

/** Where a process's PSS is, by kind of mapping, largest first, in MiB. */
const byKind = (entries) => largest(entries, (name) => name === '' ? 'anonymous' : name.startsWith('[') ? name
  : /\.so(\.|$)/.test(name) ? 'shared libraries' : name.startsWith('/memfd:') ? `memfd:${name.slice(7).split(' ')[0]}`
  : name.startsWith('/dev/') ? name : 'other files', 8);

/** The files (libraries, the binary) and kinds of anonymous memory holding the most PSS across
 * a process tree, in MiB, largest first: where the memory goes. */
const byFile = (entries) => largest(entries, (name) => {
  const n = name === '' ? 'anonymous' : name.startsWith('/') ? name.split('/').pop().replace(/\.so[.\d]*$/, '.so') : name;
  return /^libflite/.test(n) ? 'libflite*.so (speech synthesis)' : n;
}, 12);

/** USS (pages only this process maps: also lower while another process maps the same library pages) of one process, in KiB. */
function uss(pid) {
  try {
    const t = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    return ['Private_Clean', 'Private_Dirty'].reduce((a, k) => a + Number(t.match(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm'))?.[1] || 0), 0);
  } catch { return 0; }
}

/** Processes outside `pids` that map `file`: they share its pages, so the PSS of `pids` is lower. */
function othersMapping(file, pids) {
  const others = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || pids.has(Number(d))) continue;
    try {
      if (readFileSync(`/proc/${d}/maps`, 'utf8').includes(file)) others.push(`${d} ${readFileSync(`/proc/${d}/comm`, 'utf8').trim()}`);
    } catch { /* gone, or not ours to read */ }
  }
  return others;
}

async function pss(pid, sharedFile = null) {
  const { stdout } = await run(PSS_TREE, [String(pid)]);
  const processes = stdout.trim().split('\n').filter((l) => /pss=/.test(l) && !l.startsWith('total')).map((l) => {
    const m = l.trim().match(/^(\d+)\s+(.*?)\s+pss=\s*(\d+) KiB rss=\s*(\d+) KiB/);
    return m ? { pid: Number(m[1]), comm: m[2], pss_kib: Number(m[3]), rss_kib: Number(m[4]), mappings: mappings(Number(m[1])) } : null;
  }).filter(Boolean);
  const total = processes.reduce((a, p) => a + p.pss_kib, 0);
  const all = processes.flatMap((p) => p.mappings);
  for (const p of processes) { p.pss_by_mapping_mib = byKind(p.mappings); delete p.mappings; p.uss_kib = uss(p.pid); }
  const others = sharedFile ? othersMapping(sharedFile, new Set(processes.map((p) => p.pid))) : [];
  if (others.length) console.log(`note: ${others.length} other processes map ${sharedFile} (their share lowers this PSS): ${others.join(', ')}`);
  return { uss_mib: Math.round(processes.reduce((a, p) => a + p.uss_kib, 0) / 102.4) / 10, others_sharing: others,
    pss_by_file_mib: byFile(all), pss_mib: Math.round((total / 1024) * 10) / 10, rss_mib: Math.round(processes.reduce((a, p) => a + p.rss_kib, 0) / 102.4) / 10, processes, text: stdout.trim() };
}

const idle = (what) => {
  console.log(`${what}: idle for ${IDLE_SECS} s ...`);
  // The measurement is "after N seconds idle": this wait is the point, not a synchronisation.
  return new Promise((r) => setTimeout(r, IDLE_SECS * 1000));
};

// ---- the app -----------------------------------------------------------------------------------

async function launchApp(extraEnv = {}) {
  const cache = mkdtempSync(join(WORK, 'app-cache-'));
  const data = mkdtempSync(join(WORK, 'app-xdgdata-'));
  const app = await App.launch({ env: { ...LOGIN, XDG_CACHE_HOME: cache, XDG_DATA_HOME: data, ...extraEnv } });
  const launched = Date.now() - (performance.now() - app.launchedAt);
  const mark = await app.waitScript(`return ${MARK};`, 'the inbox mark in the app');
  const seen = Date.now(); // the mark cannot be later than this (a check on the clocks)
  const origin = await app.exec('return performance.timeOrigin;');
  const phases = await app.exec(`return ${PHASES};`);
  const pid = await until(() => app.appPid(), 'the app pid');
  return { app, pid, phases, ms: mark - launched, seenMs: seen - launched, navMs: origin - launched, fromExecMs: mark - startedAt(pid) };
}

/**
 * The app as an agent starts it: spawned directly (no WebDriver, whose automation session made
 * WebKit's 500 ms first-draw wait more likely; docs/decisions.md), fresh config, data and cache
 * folders. The window reports its start-up marks to the app's log
 * (`window started: ... (navigation_at_ms=... painted_at_ms=...)`, agent_core::startup), which
 * is read here; the same `agent-inbox:painted` mark as in Chromium.
 */
async function launchAppDirect() {
  const env = {
    ...process.env, ...LOGIN, RUST_LOG: 'agent_inbox_lib=info,agent_core=info',
    XDG_CACHE_HOME: mkdtempSync(join(WORK, 'app-cache-')), XDG_DATA_HOME: mkdtempSync(join(WORK, 'app-xdgdata-')),
    AGENT_INBOX_CONFIG_DIR: mkdtempSync(join(WORK, 'app-config-')), AGENT_INBOX_DATA_DIR: mkdtempSync(join(WORK, 'app-data-')),
  };
  const launched = Date.now();
  // Its own process group, so that stopping it stops its WebKit processes too.
  const child = spawn(APP_BIN, [], { env, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let log = '';
  child.stderr.on('data', (c) => { log += c; });
  const stop = () => killGroup(child);
  try {
    const line = await until(() => {
      if (child.exitCode !== null) throw new Error(`the app exited: ${log.slice(-3000)}`);
      return log.replace(/\x1b\[[0-9;]*m/g, '').match(/window started: ms after navigation: ([^;(]*).*\((navigation_at_ms=[^)]*painted_at_ms=[^)]*)\)/);
    }, 'the app to log its start-up', 45_000, 5);
    const seen = Date.now();
    const phases = Object.fromEntries(line[1].split(', ').map((p) => p.trim().split(' ')).map(([k, v]) => [k, Number(v)]));
    const at = Object.fromEntries(line[2].split(' ').map((p) => p.split('=')).map(([k, v]) => [k, Number(v)]));
    const nav = at.navigation_at_ms, mark = at.painted_at_ms;
    return { pid: child.pid, phases, stop, ms: mark - launched, seenMs: seen - launched, navMs: nav - launched, fromExecMs: mark - startedAt(child.pid) };
  } catch (e) {
    await stop();
    throw new Error(`${e.message}; the app's log ends: ${log.slice(-2000)}`);
  }
}

/**
 * The floor: a blank WebKitGTK page in a GTK window of the app's size, started with the app's
 * WebKit settings (src-tauri/examples/webkit_floor.rs), nothing else. It prints `loaded`.
 */
async function launchFloor() {
  const env = {
    ...process.env,
    XDG_CACHE_HOME: mkdtempSync(join(WORK, 'floor-cache-')), XDG_DATA_HOME: mkdtempSync(join(WORK, 'floor-xdgdata-')),
  };
  const child = spawn(FLOOR_BIN, [], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '', err = '';
  child.stdout.on('data', (c) => { out += c; });
  child.stderr.on('data', (c) => { err += c; });
  const stop = () => killGroup(child);
  try {
    await until(() => {
      if (child.exitCode !== null) throw new Error(`the floor exited: ${err.slice(-2000)}`);
      return out.includes('loaded\n');
    }, 'the WebKitGTK floor to load its page', 45_000, 10);
    return { pid: child.pid, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

// ---- Chromium over a minimal DevTools connection ---------------------------------------------

class Page {
  static async connect(port, urlPrefix) {
    const target = await until(async () => {
      const list = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
      return list.find((t) => t.type === 'page' && t.url.startsWith(urlPrefix));
    }, 'the Chromium page', 30_000, 20);
    const p = new Page();
    p.ws = new WebSocket(target.webSocketDebuggerUrl, { perMessageDeflate: false });
    p.next = 1;
    p.pending = new Map();
    p.ws.on('message', (d) => {
      const m = JSON.parse(d.toString());
      const cb = p.pending.get(m.id);
      if (cb) { p.pending.delete(m.id); cb(m); }
    });
    await new Promise((res, rej) => { p.ws.once('open', res); p.ws.once('error', rej); });
    return p;
  }

  async eval(expression) {
    const id = this.next++;
    const reply = await new Promise((res) => {
      this.pending.set(id, res);
      this.ws.send(JSON.stringify({ id, method: 'Runtime.evaluate', params: { expression, returnByValue: true } }));
    });
    if (reply.error || reply.result?.exceptionDetails) throw new Error(JSON.stringify(reply.error || reply.result.exceptionDetails).slice(0, 300));
    return reply.result.result.value;
  }

  close() { this.ws.close(); }
}

async function startBridge() {
  const config = mkdtempSync(join(WORK, 'bridge-config-'));
  const data = mkdtempSync(join(WORK, 'bridge-data-'));
  const t0 = Date.now();
  const child = spawn(BRIDGE_BIN, ['--dist', DIST], {
    env: { ...process.env, ...LOGIN, AGENT_INBOX_CONFIG_DIR: config, AGENT_INBOX_DATA_DIR: data, RUST_LOG: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c) => { out += c; });
  child.stderr.on('data', (c) => { out += c; });
  const url = await until(() => {
    if (child.exitCode !== null) throw new Error(`agent-inbox-web exited: ${out}`);
    return out.match(/listening on (http:\/\/127\.0\.0\.1:\d+\/)/)?.[1];
  }, 'the bridge to listen', 30_000, 5);
  return { child, url, t0, logs: () => out.slice(-3000) };
}

async function launchChromium(url, t0 = null) {
  const profile = mkdtempSync(join(WORK, 'chromium-profile-'));
  const launched = t0 ?? Date.now();
  const child = spawn(CHROMIUM, [`--app=${url}`, `--user-data-dir=${profile}`, '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-sandbox',
    '--window-size=1280,800', '--remote-debugging-port=0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (c) => { err += c; });
  const port = await until(() => {
    if (child.exitCode !== null) throw new Error(`chromium exited: ${err.slice(-2000)}`);
    return err.match(/DevTools listening on ws:\/\/127\.0\.0\.1:(\d+)\//)?.[1];
  }, 'Chromium DevTools', 30_000, 5);
  const page = await Page.connect(port, url);
  const mark = await until(() => page.eval(MARK), 'the inbox mark in Chromium', 45_000, 20);
  const seen = Date.now();
  const origin = await page.eval('performance.timeOrigin');
  const phases = await page.eval(PHASES);
  return { child, page, pid: child.pid, phases, ms: mark - launched, seenMs: seen - launched, navMs: origin - launched, fromExecMs: mark - startedAt(child.pid) };
}

async function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await stopPid(child.pid);
}

// ---- the run ----------------------------------------------------------------------------------

const result = { bench: 'app-vs-chromium', idle_secs: IDLE_SECS, launches: LAUNCHES, live_chats: LIVE_CHATS };
const cleanup = [];
try {
  // P6, the app: launched directly, as an agent launches it.
  const appRuns = [];
  for (let i = 0; i < LAUNCHES; i++) {
    const app = await launchAppDirect();
    appRuns.push(app);
    console.log(`app launch ${i + 1}: inbox interactive ${Math.round(app.ms)} ms after spawn (navigation at ${Math.round(app.navMs)} ms; ${Math.round(app.fromExecMs)} ms after the app process started; seen in its log at ${Math.round(app.seenMs)} ms)`);
    console.log(`  page phases (ms after navigation): ${phaseText(app.phases)}`);
    await app.stop();
  }
  // P1, the app: launched under WebDriver, which can tell when it shows the live chats.
  const app = await launchApp();
  console.log(`app launch under WebDriver (P1): inbox interactive ${Math.round(app.ms)} ms after POST /session (navigation at ${Math.round(app.navMs)} ms)`);
  await app.app.waitScript(`return ${SHOWS_CHATS};`, `the app showing ${LIVE_CHATS} live chats, connected`);
  await idle('app');
  const appMem = await pss(app.pid, WEBKIT_LIB);
  console.log(appMem.text);
  await app.app.quit();
  result.app = {
    cold_start_ms: summary(appRuns.map((r) => Math.round(r.ms))),
    cold_start_from_exec_ms: summary(appRuns.map((r) => Math.round(r.fromExecMs))),
    cold_start_seen_in_log_ms: summary(appRuns.map((r) => Math.round(r.seenMs))),
    // Launch -> the page's navigation start (the engine's own start-up), then the page's share.
    to_navigation_ms: summary(appRuns.map((r) => Math.round(r.navMs))),
    page_ms: summary(appRuns.map((r) => Math.round(r.ms - r.navMs))),
    page_phases_ms: appRuns.map((r) => r.phases),
    // The P1 launch, for comparison: WebDriver's automation session delays the start.
    cold_start_under_webdriver_ms: Math.round(app.ms),
    ...appMem, text: undefined,
  };

  // P1's floor: what any WebKitGTK window costs here, beside what the app adds to it.
  const floor = await launchFloor();
  await idle('WebKitGTK floor');
  const floorMem = await pss(floor.pid, WEBKIT_LIB);
  console.log(floorMem.text);
  await floor.stop();
  result.webkit_floor = { ...floorMem, text: undefined };

  // P6, Chromium alone: one bridge, signed in once, already running.
  const bridge = await startBridge();
  cleanup.push(() => stopChild(bridge.child));
  const chromeRuns = [];
  for (let i = 0; i < LAUNCHES; i++) {
    const c = await launchChromium(bridge.url);
    chromeRuns.push(c);
    console.log(`chromium launch ${i + 1}: inbox interactive ${Math.round(c.ms)} ms after spawn (navigation at ${Math.round(c.navMs)} ms; ${Math.round(c.fromExecMs)} ms after its process started; seen by polling at ${Math.round(c.seenMs)} ms)`);
    console.log(`  page phases (ms after navigation): ${phaseText(c.phases)}`);
    c.page.close();
    await stopChild(c.child);
  }
  await stopChild(bridge.child);

  // P6, Chromium with a fresh bridge each time; the last one stays for P1.
  const bothRuns = [];
  let last = null;
  for (let i = 0; i < LAUNCHES; i++) {
    if (last) { last.page.close(); await stopChild(last.child); await stopChild(last.bridge.child); }
    const b = await startBridge();
    cleanup.push(() => stopChild(b.child));
    last = { ...(await launchChromium(b.url, b.t0)), bridge: b };
    cleanup.push(() => stopChild(last.child));
    bothRuns.push(last);
    console.log(`bridge + chromium launch ${i + 1}: inbox interactive ${Math.round(last.ms)} ms after the bridge was spawned`);
  }
  await until(() => last.page.eval(SHOWS_CHATS), `Chromium showing ${LIVE_CHATS} live chats, connected`);
  last.page.close(); // no DevTools client attached while idle
  await idle('chromium');
  const chromeMem = await pss(last.pid, CHROMIUM_LIB);
  const bridgeMem = await pss(last.bridge.child.pid);
  console.log(chromeMem.text);
  console.log(bridgeMem.text);
  result.chromium = {
    cold_start_ms: summary(chromeRuns.map((r) => Math.round(r.ms))),
    cold_start_from_exec_ms: summary(chromeRuns.map((r) => Math.round(r.fromExecMs))),
    cold_start_seen_by_polling_ms: summary(chromeRuns.map((r) => Math.round(r.seenMs))),
    to_navigation_ms: summary(chromeRuns.map((r) => Math.round(r.navMs))),
    page_ms: summary(chromeRuns.map((r) => Math.round(r.ms - r.navMs))),
    page_phases_ms: chromeRuns.map((r) => r.phases),
    ...chromeMem, text: undefined,
  };
  result.chromium_with_bridge = {
    cold_start_ms: summary(bothRuns.map((r) => Math.round(r.ms))),
    pss_mib: Math.round((chromeMem.pss_mib + bridgeMem.pss_mib) * 10) / 10,
  };
  result.bridge = { ...bridgeMem, text: undefined };
  await stopChild(last.child);
  await stopChild(last.bridge.child);

  const variants = JSON.parse(process.env.APP_VARIANTS || '{}');
  for (const [name, env] of Object.entries(variants)) {
    const v = await launchApp(env);
    await v.app.waitScript(`return ${SHOWS_CHATS};`, `the app (${name}) showing ${LIVE_CHATS} live chats`);
    await idle(`app with ${name}`);
    const mem = await pss(v.pid, WEBKIT_LIB);
    console.log(`${name}: ${mem.text}`);
    await v.app.quit();
    (result.app_variants ??= {})[name] = { env, cold_start_ms: Math.round(v.ms), ...mem, text: undefined };
  }

  result.chromium_version = (await run(CHROMIUM, ['--version']).catch(() => ({ stdout: '?' }))).stdout.trim();
  const a = result.app, c = result.chromium;
  console.log(`summary: P1 idle PSS after ${IDLE_SECS} s: app ${a.pss_mib} MiB, Chromium ${c.pss_mib} MiB ` +
    `(+ bridge ${result.bridge.pss_mib} = ${result.chromium_with_bridge.pss_mib} MiB); ratio ${(a.pss_mib / c.pss_mib).toFixed(2)}x; ` +
    `a blank WebKitGTK window ${result.webkit_floor.pss_mib} MiB`);
  console.log(`summary: P1 where the app's PSS is (MiB): ${Object.entries(a.pss_by_file_mib).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  console.log(`summary: P6 cold start median (max): app ${a.cold_start_ms.median} (${a.cold_start_ms.max}) ms, ` +
    `Chromium ${c.cold_start_ms.median} (${c.cold_start_ms.max}) ms, bridge + Chromium ${result.chromium_with_bridge.cold_start_ms.median} ` +
    `(${result.chromium_with_bridge.cold_start_ms.max}) ms`);
} finally {
  for (const f of cleanup.reverse()) await f().catch(() => {});
  if (OUT) writeFileSync(OUT, JSON.stringify(result) + '\n');
}
