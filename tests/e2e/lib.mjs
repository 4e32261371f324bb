// Helpers of the end-to-end tests: the chat service, the app over WebDriver (tauri-driver),
// visitors (raw WebSocket and the widget in headless Chromium), an agent over raw WebSocket,
// and the notification daemon mock on the session bus.

import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import WebSocket from 'ws';

const here = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(here, '../..');
// run.sh builds into target/e2e (with tauri/custom-protocol, so the app serves the embedded
// ui/dist and never its devUrl), away from target/debug which other builds keep replacing.
export const APP_BIN = resolve(process.env.AGENT_INBOX_BIN || join(ROOT, 'target/e2e/debug/agent-inbox'));
export const SERVICE_BIN = resolve(process.env.CHAT_SERVICE_BIN || join(ROOT, 'target/e2e/debug/chat-service'));
export const TAURI_DRIVER = process.env.TAURI_DRIVER_BIN || 'tauri-driver';
export const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
export const SCREENSHOTS = join(here, 'screenshots');
export const STEP_MS = 45_000; // longest wait for any single step (generous: a loaded 2-core machine)
export const WORK = process.env.E2E_WORK || mkdtempSync(join(tmpdir(), 'e2e-'));
const run = promisify(execFile);

// ---- polling ---------------------------------------------------------------------------------

/** Calls `fn` until it returns a truthy value (returned) or `timeout` ms pass (throws). */
export async function until(fn, what, timeout = STEP_MS, every = 100) {
  const deadline = Date.now() + timeout;
  let last;
  let lastErr;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeout} ms waiting for ${what}` +
        (lastErr ? ` (last error: ${lastErr.message})` : ` (last value: ${JSON.stringify(last)})`));
    }
    await new Promise((r) => setTimeout(r, every));
  }
}

export function freePort() {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
  });
}

/** Kills a child's whole process group (it was spawned detached, so it leads one). */
export async function killGroup(child, grace = 5000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  try { process.kill(-child.pid, 'SIGTERM'); } catch { /* gone */ }
  const timer = setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } }, grace);
  await exited;
  clearTimeout(timer);
  // Whatever is left in the group (the app under WebKitWebDriver): gone too.
  try { process.kill(-child.pid, 'SIGKILL'); } catch { /* none left */ }
}

// ---- the chat service ------------------------------------------------------------------------

/** The service with demo data on a fresh database, or on `db` (benchmarks: a seeded copy). */
export async function startService({ db } = {}) {
  assert.ok(existsSync(SERVICE_BIN), `chat-service binary missing at ${SERVICE_BIN}`);
  const dir = mkdtempSync(join(WORK, 'service-'));
  const child = spawn(SERVICE_BIN, ['--listen', '127.0.0.1:0', '--db', db || join(dir, 'chat.db'), '--demo',
    '--visitor-messages-per-10s', '100000'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' }, detached: true });
  let out = '';
  const logs = () => out.slice(-6000);
  child.stdout.on('data', (c) => { out += c; });
  child.stderr.on('data', (c) => { out += c; });
  const url = await until(() => {
    if (child.exitCode !== null) throw new Error(`chat-service exited: ${logs()}`);
    const m = out.replace(/\x1b\[[0-9;]*m/g, '').match(/listening on (http:\/\/[0-9.:]+)/);
    return m && m[1];
  }, 'chat-service to listen', 30_000, 50);
  const service = {
    url, child, logs,
    async stop() { await killGroup(child); },
    async http(method, path, body, token) {
      const headers = { Accept: 'application/json' };
      if (body !== undefined) headers['Content-Type'] = 'application/json';
      if (token) headers.Authorization = `Bearer ${token}`;
      if (path.startsWith('/api/v1/visitor/')) headers.Origin = url;
      const res = await fetch(url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await res.text();
      if (!res.ok) throw new Error(`${method} ${path} -> ${res.status} ${text}`);
      return text ? JSON.parse(text) : null;
    },
  };
  return service;
}

// ---- frames over a WebSocket -----------------------------------------------------------------

class FrameSocket {
  constructor(label) {
    this.label = label;
    this.frames = [];
    this.waiters = new Set();
  }

  async connect(url, headers) {
    this.ws = new WebSocket(url, { headers });
    this.ws.on('message', (data) => {
      try { this.frames.push(JSON.parse(data.toString())); } catch { return; }
      for (const w of [...this.waiters]) w();
    });
    this.ws.on('close', (code) => {
      this.closed = code;
      for (const w of [...this.waiters]) w();
    });
    await new Promise((res, rej) => {
      this.ws.once('open', res);
      this.ws.once('error', rej);
      this.ws.once('unexpected-response', (_q, r) => rej(new Error(`${this.label}: upgrade -> ${r.statusCode}`)));
    });
  }

  send(frame) { this.ws.send(JSON.stringify(frame)); }

  /** The first frame, received or still to come, matching `pred`. */
  waitFor(pred, what, timeout = STEP_MS) {
    return new Promise((res, rej) => {
      const check = () => {
        const f = this.frames.find(pred);
        if (f) { done(); res(f); } else if (this.closed !== undefined) { done(); rej(new Error(`${this.label}: socket closed (${this.closed}) waiting for ${what}`)); }
      };
      const timer = setTimeout(() => {
        done();
        const tail = this.frames.slice(-6).map((f) => JSON.stringify(f).slice(0, 300)).join('\n');
        rej(new Error(`${this.label}: no ${what} within ${timeout} ms; last frames:\n${tail}`));
      }, timeout);
      const done = () => { clearTimeout(timer); this.waiters.delete(check); };
      this.waiters.add(check);
      check();
    });
  }

  close() {
    clearInterval(this.heartbeat);
    try { this.ws?.close(); } catch { /* closed */ }
  }
}

/** A visitor speaking the visitor protocol directly (no browser). */
export class RawVisitor extends FrameSocket {
  static async start(service, { name, email, text }) {
    const session = await service.http('POST', '/api/v1/visitor/sessions', { ...(name ? { name } : {}), ...(email ? { email } : {}) });
    const v = new RawVisitor(`visitor ${name}`);
    await v.connect(service.url.replace(/^http/, 'ws') + '/api/v1/visitor/ws', { Origin: service.url });
    v.send({ type: 'hello', protocol: 1, token: session.token });
    v.welcome = await v.waitFor((f) => f.type === 'welcome', 'welcome');
    v.heartbeat = setInterval(() => v.send({ type: 'ping' }), 15_000);
    if (text !== undefined) v.send({ type: 'start_chat', id: randomUUID(), text });
    return v;
  }

  say(text) {
    const id = randomUUID();
    this.send({ type: 'send_message', id, text });
    return this.waitFor((f) => f.type === 'ack' && f.id === id, `ack of ${JSON.stringify(text)}`);
  }
}

/** An agent over the agent WebSocket; declines every offer it was not told to take. */
export class RawAgent extends FrameSocket {
  static async connect(service, email, password = 'demo1234') {
    const login = await service.http('POST', '/api/v1/auth/login', { email, password });
    const a = new RawAgent(`agent ${email}`);
    a.token = login.token;
    a.profile = login.agent;
    a.wanted = new Set();
    a.handled = new Set();
    await a.connect(service.url.replace(/^http/, 'ws') + '/api/v1/agent/ws', { Authorization: `Bearer ${login.token}` });
    a.ws.on('message', () => a.triage());
    a.send({ type: 'hello', protocol: 1 });
    a.ready = await a.waitFor((f) => f.type === 'ready', 'ready');
    a.heartbeat = setInterval(() => a.send({ type: 'ping' }), 15_000);
    a.triage();
    return a;
  }

  offers() {
    const list = this.ready?.offer ? [this.ready.offer] : [];
    for (const f of this.frames) if (f.type === 'event' && f.event?.kind === 'offer') list.push(f.event.offer);
    return list;
  }

  triage() {
    if (this.wanted.size === 0) return; // nothing asked for yet: leave offers alone
    for (const o of this.offers()) {
      if (this.handled.has(o.id)) continue;
      const want = [...this.wanted].some((w) => o.first_message === w);
      this.handled.add(o.id);
      this.send({ type: want ? 'accept' : 'decline', id: randomUUID(), offer_id: o.id });
    }
  }

  /** Accepts the chat whose first message is `text` (now or when it is offered). */
  async take(text) {
    this.wanted.add(text);
    this.triage();
    const ev = await this.waitFor((f) => f.type === 'event' && f.event?.kind === 'conversation_started'
      && f.event.conversation?.messages?.some((m) => m.content?.text === text), `conversation_started for ${JSON.stringify(text)}`);
    return ev.event.conversation;
  }
}

// ---- notifications (python3-dbusmock on the session bus) --------------------------------------

const NOTIFY_HELPER = join(here, 'notifications.py');

export async function notifyCalls() {
  const { stdout } = await run('/usr/bin/python3', [NOTIFY_HELPER, 'calls']);
  return JSON.parse(stdout);
}

export async function invokeAction(id, key) {
  await run('/usr/bin/python3', [NOTIFY_HELPER, 'invoke', String(id), key]);
}

// ---- processes -------------------------------------------------------------------------------

export function childrenOf(pid) {
  const kids = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) kids.push({ pid: Number(d), comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) });
    } catch { /* exited */ }
  }
  return kids;
}

/** Whether a process runs (a zombie does not count). */
export function alive(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Stops one process by its pid: SIGTERM, then SIGKILL after `grace` ms; waits until it is gone. */
export async function stopPid(pid, grace = 5000) {
  if (!pid || !alive(pid)) return;
  try { process.kill(pid, 'SIGTERM'); } catch { return; }
  try {
    await until(() => !alive(pid), `pid ${pid} to exit`, grace, 50);
  } catch {
    try { process.kill(pid, 'SIGKILL'); } catch { return; }
    await until(() => !alive(pid), `pid ${pid} to die`, 5000, 50).catch(() => {});
  }
}

// ---- the app over WebDriver ------------------------------------------------------------------

const ELEMENT = 'element-6066-11e4-a52e-4f735466cecf';

/**
 * One run of the real app: its own tauri-driver (free ports) whose environment the app
 * inherits, its own config and data folders. `env` adds AGENT_INBOX_* for the automatic sign-in.
 */
export class App {
  static async launch({ env = {}, configDir, dataDir, label = 'app' } = {}) {
    assert.ok(existsSync(APP_BIN), `app binary missing at ${APP_BIN}`);
    const app = new App();
    app.label = label;
    app.configDir = configDir || mkdtempSync(join(WORK, 'config-'));
    app.dataDir = dataDir || mkdtempSync(join(WORK, 'data-'));
    const port = await freePort();
    let nativePort = await freePort();
    while (nativePort === port) nativePort = await freePort();
    app.base = `http://127.0.0.1:${port}`;
    const childEnv = { ...process.env, AGENT_INBOX_CONFIG_DIR: app.configDir, AGENT_INBOX_DATA_DIR: app.dataDir, ...env };
    for (const k of ['AGENT_INBOX_URL', 'AGENT_INBOX_EMAIL', 'AGENT_INBOX_PASSWORD']) if (!(k in env)) delete childEnv[k];
    app.driver = spawn(TAURI_DRIVER, ['--port', String(port), '--native-port', String(nativePort)], {
      env: childEnv, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
    });
    app.out = '';
    app.driver.stdout.on('data', (c) => { app.out += c; });
    app.driver.stderr.on('data', (c) => { app.out += c; });
    await until(async () => {
      if (app.driver.exitCode !== null) throw new Error(`tauri-driver exited: ${app.out}`);
      const r = await fetch(`${app.base}/status`).catch(() => null);
      return r && r.ok;
    }, 'tauri-driver to answer /status', 20_000, 50);
    app.launchedAt = performance.now();
    const res = await app.req('POST', '/session', {
      capabilities: { alwaysMatch: { browserName: 'wry', 'tauri:options': { application: APP_BIN } } },
    }, false);
    app.sessionAt = performance.now();
    app.session = res.sessionId;
    // A debug build without tauri/custom-protocol loads build.devUrl (a Vite server that is
    // not running here) instead of the embedded UI: say so rather than time out later.
    const href = await app.exec('return location.href;').catch(() => '');
    if (/^https?:\/\/(127\.0\.0\.1|localhost)[:/]/.test(href)) {
      await app.quit();
      throw new Error(`the app loaded ${href} (tauri.conf.json build.devUrl), not its embedded UI: ` +
        'build it with `cargo build -p agent-inbox --features tauri/custom-protocol` (tests/e2e/run.sh does)');
    }
    return app;
  }

  logs() { return this.out.slice(-5000); }

  /** The app's pid: the child of WebKitWebDriver, itself the child of tauri-driver. */
  appPid() {
    for (const wd of childrenOf(this.driver.pid)) {
      const app = childrenOf(wd.pid).find((c) => c.comm.startsWith('agent-inbox'));
      if (app) return app.pid;
    }
    return null;
  }

  async req(method, path, body, inSession = true) {
    const url = this.base + (inSession ? `/session/${this.session}` : '') + path;
    const res = await fetch(url, {
      signal: AbortSignal.timeout(60_000),
      method, headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await res.json().catch(() => ({}));
    if (!res.ok) {
      const err = new Error(`WebDriver ${method} ${path} -> ${res.status} ${JSON.stringify(json.value ?? json).slice(0, 400)}`);
      err.webdriver = json.value;
      throw err;
    }
    return json.value;
  }

  exec(script, ...args) {
    return this.req('POST', '/execute/sync', { script, args });
  }

  async find(selector, using = 'css selector') {
    const v = await this.req('POST', '/element', { using, value: selector });
    return v[ELEMENT];
  }

  /** Waits for an element (CSS, or XPath when it starts with "/") and returns its id. */
  waitFor(selector, what = selector, timeout = STEP_MS) {
    const using = selector.startsWith('/') ? 'xpath' : 'css selector';
    return until(() => this.find(selector, using), what, timeout);
  }

  async click(selector, what) {
    const el = await this.waitFor(selector, what);
    await this.req('POST', `/element/${el}/click`, {});
  }

  async type(selector, text) {
    const el = await this.waitFor(selector);
    await this.req('POST', `/element/${el}/value`, { text });
  }

  /** Polls a script (a function body returning a value) until it is truthy. */
  waitScript(body, what, timeout = STEP_MS, ...args) {
    return until(() => this.exec(body, ...args), what, timeout);
  }

  async screenshot(name) {
    mkdirSync(SCREENSHOTS, { recursive: true });
    // Two animation frames: what the DOM holds now is painted.
    await this.req('POST', '/execute/async', {
      script: 'const done = arguments[arguments.length - 1]; requestAnimationFrame(() => requestAnimationFrame(() => done(true)));', args: [],
    }).catch(() => {});
    // What a person sees: the X screen the app paints on (Xvfb), not WebKitWebDriver's
    // snapshot, which never returns while WebKit renders without DMABUF (the app's default).
    const file = join(SCREENSHOTS, `${name}.png`);
    const wid = await run('xdotool', ['search', '--onlyvisible', '--pid', String(this.appPid()), '--name', '.'])
      .then(({ stdout }) => stdout.trim().split('\n').pop())
      .catch(() => '');
    await run('import', ['-window', wid || 'root', file]);
  }

  /** Ends the session and stops tauri-driver, WebKitWebDriver and the app (by pid). */
  async quit() {
    const pid = this.appPid();
    if (this.session) await this.req('DELETE', '').catch(() => {});
    this.session = null;
    await killGroup(this.driver);
    // The app must be gone before the next one starts (single-instance plugin on the session bus).
    await stopPid(pid);
  }
}
