// P3 and P7 of issue 5, measured in the real app (run by bench/app-latency.sh inside
// tests/e2e/harness.sh, with the e2e helpers of tests/e2e/lib.mjs).
//
// P3: the app signed in as grace with a live chat accepted in its window; a raw visitor sends
//   P3_MESSAGES messages P3_GAP_MS apart. Inside the webview a MutationObserver on the chat
//   records when each message's text enters the DOM and the animation frame after it (the frame
//   that paints it); latency = that instant - the instant the visitor sent it (same machine
//   clock: performance.timeOrigin + performance.now() on both sides). Splits: a second agent
//   socket of grace (raw WebSocket in this process) timestamps the service's `message` event,
//   and a `core://event` listener in the webview timestamps the engine's event reaching the UI.
// P7: the service on a copy of a database seeded with 100,000 ended conversations (P7_DB):
//   (a) GET /api/v1/conversations?scope=all, first page, P7_REQUESTS times with limit 100 (the
//   app's page) and 50 (the API default); (b) in the app: click "All" -> first rows painted,
//   P7_RENDERS times; then a script scrolls the virtual list P7_STEP_PX per animation frame
//   until P7_ROWS rows have gone by (pages load as it goes), recording every frame's duration
//   (requestAnimationFrame deltas).
// Writes p3.json and p7.json into BENCH_RESULTS.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { App, APP_BIN, RawAgent, RawVisitor, SERVICE_BIN, STEP_MS, startService, until } from '../tests/e2e/lib.mjs';

const OUT = process.env.BENCH_RESULTS;
if (!OUT) throw new Error('BENCH_RESULTS (a results directory) is required');
const num = (name, dflt) => Number(process.env[name] || dflt);
const P3_MESSAGES = num('P3_MESSAGES', 100);
const P3_GAP_MS = num('P3_GAP_MS', 100);
const P7_DB = process.env.P7_DB;
const P7_REQUESTS = num('P7_REQUESTS', 200);
const P7_RENDERS = num('P7_RENDERS', 5);
const P7_ROWS = num('P7_ROWS', 3000);
const P7_STEP_PX = num('P7_STEP_PX', 340);
const ONLY = (process.env.BENCH_ONLY || 'p3,p7').split(',');
// A variant of the app's environment, measured side by side (say BENCH_APP_ENV=
// "WEBKIT_DISABLE_COMPOSITING_MODE=1"); its results go to p3<BENCH_SUFFIX>.json, p7<...>.json.
const APP_ENV = Object.fromEntries((process.env.BENCH_APP_ENV || '').split(/\s+/).filter(Boolean)
  .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
const SUFFIX = process.env.BENCH_SUFFIX || '';
const GRACE = { email: 'grace@example.com', password: 'demo1234' };
const S = {
  inbox: 'nav[aria-label="Conversations"]',
  availability: 'button[role="switch"][aria-label="Available for new chats"]',
  accept: 'section[aria-labelledby="offer-tag offer-title"] button[aria-keyshortcuts="Alt+A"]',
  rows: '[data-testid="conversation-rows"]',
  scopeAll: '//div[@aria-label="Show conversations"]/button[normalize-space(.)="All"]',
};

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const r3 = (x) => (x === undefined || x === null ? null : Math.round(x * 1000) / 1000);

/** n, p50, p90, p99, max (nearest rank) of a list of milliseconds. */
function stats(xs) {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return { n: 0 };
  const q = (p) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
  return { n: s.length, p50_ms: r3(q(0.5)), p90_ms: r3(q(0.9)), p99_ms: r3(q(0.99)), max_ms: r3(s[s.length - 1]), mean_ms: r3(s.reduce((a, b) => a + b, 0) / s.length) };
}

async function launchSignedIn(service) {
  const app = await App.launch({
    env: { ...APP_ENV, AGENT_INBOX_URL: service.url, AGENT_INBOX_EMAIL: GRACE.email, AGENT_INBOX_PASSWORD: GRACE.password },
  });
  try {
    await app.waitFor(S.inbox, 'the inbox');
    app.inboxAt = performance.now();
    await app.waitScript(`const s = document.querySelector(${JSON.stringify(S.availability)});
      return !!s && [...document.querySelectorAll('[role=status]')].some((e) => e.textContent.trim() === 'Connected');`,
    'connected, with the availability switch');
    // Long in-page scripts (the scroll) run as async scripts.
    await app.req('POST', '/timeouts', { script: 900_000 });
  } catch (err) {
    await app.quit().catch(() => {});
    throw err;
  }
  return app;
}

/** The webview's clock minus this process's clock, from the tightest of a few round trips. */
async function clockOffset(app) {
  let best = null;
  for (let i = 0; i < 10; i++) {
    const t0 = now();
    const w = await app.exec('return performance.timeOrigin + performance.now();');
    const t1 = now();
    if (!best || t1 - t0 < best.rtt) best = { rtt: t1 - t0, offset: w - (t0 + t1) / 2 };
  }
  return { offset_ms: r3(best.offset), uncertainty_ms: r3(best.rtt / 2) };
}

// ---- P3 --------------------------------------------------------------------------------------

async function p3() {
  const service = await startService();
  let app; let spy; let visitor;
  try {
    app = await launchSignedIn(service);
    // A second socket of the same agent: when the service's `message` event reaches a client.
    spy = await RawAgent.connect(service, GRACE.email, GRACE.password);
    const run = `p3m${randomUUID().slice(0, 8)}`;
    const markerRe = new RegExp(`${run}-(\\d+)\\b`);
    const atSocket = {};
    spy.ws.on('message', (data) => {
      const t = now();
      const s = data.toString();
      if (!s.includes(run)) return;
      try {
        const f = JSON.parse(s);
        const m = f.type === 'event' && f.event?.kind === 'message' && markerRe.exec(f.event.message?.content?.text ?? '');
        if (m && !(m[1] in atSocket)) atSocket[m[1]] = t;
      } catch { /* not JSON */ }
    });

    const name = `P3 Visitor ${run.slice(3)}`;
    visitor = await RawVisitor.start(service, { name, text: `${run} start` });
    await app.waitScript('return document.querySelector("#offer-title")?.textContent === arguments[0];', 'the banner', STEP_MS, name);
    await app.click(S.accept, 'Accept');
    await visitor.waitFor((f) => f.type === 'agent_joined', 'agent_joined');
    await app.waitScript('return document.querySelector("#chat-title")?.textContent === arguments[0] && !!document.querySelector(\'main[aria-label="Conversation"] ol[aria-label="Messages"]\');',
      'the chat open', STEP_MS, name);

    // Recorders inside the webview.
    const installed = await app.req('POST', '/execute/async', {
      args: [run],
      script: `const done = arguments[arguments.length - 1];
        const run = arguments[0];
        const re = new RegExp(run + '-(\\\\d+)\\\\b', 'g');
        const now = () => performance.timeOrigin + performance.now();
        const rec = window.__p3 = { dom: {}, frame: {}, event: {} };
        const main = document.querySelector('main[aria-label="Conversation"]');
        new MutationObserver((muts) => {
          const t = now();
          const fresh = [];
          for (const mu of muts) {
            const nodes = mu.type === 'characterData' ? [mu.target] : mu.addedNodes;
            for (const n of nodes) {
              const text = n.textContent;
              if (!text || !text.includes(run)) continue;
              for (const m of text.matchAll(re)) if (!(m[1] in rec.dom)) { rec.dom[m[1]] = t; fresh.push(m[1]); }
            }
          }
          if (fresh.length) requestAnimationFrame(() => { const f = now(); for (const k of fresh) rec.frame[k] = f; });
        }).observe(main, { childList: true, subtree: true, characterData: true });
        const T = window.__TAURI_INTERNALS__;
        if (!T) { done('no __TAURI_INTERNALS__'); return; }
        const handler = T.transformCallback((e) => {
          const t = now();
          const p = e && e.payload;
          if (!p || p.kind !== 'message_received') return;
          const text = (p.message && p.message.content && p.message.content.text) || '';
          for (const m of text.matchAll(re)) if (!(m[1] in rec.event)) rec.event[m[1]] = t;
        });
        T.invoke('plugin:event|listen', { event: 'core://event', target: { kind: 'Any' }, handler })
          .then(() => done('ok'), (e) => done('listen failed: ' + e));`,
    });
    if (installed !== 'ok') console.error(`p3: webview event listener: ${installed}`);
    const offsetBefore = await clockOffset(app);

    const sent = {};
    console.error(`p3: ${P3_MESSAGES} visitor messages, ${P3_GAP_MS} ms apart`);
    for (let i = 0; i < P3_MESSAGES; i++) {
      const text = `${run}-${i} Hello, a question about my order number ${1000 + i}?`;
      const frame = JSON.stringify({ type: 'send_message', id: randomUUID(), text });
      sent[i] = now();
      visitor.ws.send(frame);
      await sleep(P3_GAP_MS);
    }
    await until(async () => {
      const n = await app.exec('return Object.keys(window.__p3.frame).length;');
      return n >= P3_MESSAGES;
    }, `all ${P3_MESSAGES} messages rendered`, 60_000, 250).catch((e) => console.error(`p3: ${e.message}`));
    const rec = await app.exec('return window.__p3;');
    const offsetAfter = await clockOffset(app);
    // Webview instants on this process's clock: minus the offset measured around the run.
    const offset = (offsetBefore.offset_ms + offsetAfter.offset_ms) / 2;
    const lat = (at, off = offset) => Object.keys(sent).map((k) => (at[k] === undefined ? undefined : at[k] - off - sent[k]));
    const result = {
      bench: 'app-p3',
      app_env: APP_ENV,
      app_bin: APP_BIN,
      service_bin: SERVICE_BIN,
      messages: P3_MESSAGES,
      gap_ms: P3_GAP_MS,
      rendered: Object.keys(rec.frame).length,
      // The headline: sent -> the animation frame after the text entered the DOM.
      sent_to_rendered: stats(lat(rec.frame)),
      sent_to_dom: stats(lat(rec.dom)),
      sent_to_service_event_at_socket: stats(lat(atSocket, 0)),
      sent_to_engine_event_in_webview: stats(lat(rec.event)),
      webview_event_to_rendered: stats(Object.keys(sent).map((k) => rec.frame[k] - rec.event[k])),
      // Subtracted from the webview's instants above (the mean of the two).
      clock_offset_webview_minus_node: { before: offsetBefore, after: offsetAfter, applied_ms: r3(offset) },
    };
    writeFileSync(join(OUT, `p3${SUFFIX}.json`), JSON.stringify(result) + '\n');
    console.error(`p3: sent -> rendered ${JSON.stringify(result.sent_to_rendered)}; at socket ${JSON.stringify(result.sent_to_service_event_at_socket)}`);
    await app.screenshot('bench-p3-chat').catch(() => {});
  } finally {
    visitor?.close();
    spy?.close();
    if (app) await app.quit();
    await service.stop();
  }
}

// ---- P7 --------------------------------------------------------------------------------------

async function timeFirstPage(service, token, limit) {
  const url = `${service.url}/api/v1/conversations?scope=all&limit=${limit}`;
  const headers = { Authorization: `Bearer ${token}`, Accept: 'application/json' };
  let items = 0;
  for (let i = 0; i < 10; i++) await (await fetch(url, { headers })).text(); // warm: connection, page cache
  const times = [];
  for (let i = 0; i < P7_REQUESTS; i++) {
    const t0 = performance.now();
    const res = await fetch(url, { headers });
    const body = await res.text();
    times.push(performance.now() - t0);
    if (!res.ok) throw new Error(`GET ${url} -> ${res.status} ${body.slice(0, 200)}`);
    if (i === 0) items = JSON.parse(body).items.length;
  }
  return { limit, items, ...stats(times) };
}

async function p7() {
  if (!P7_DB) throw new Error('P7_DB (a seeded database) is required for p7');
  const service = await startService({ db: P7_DB });
  let app;
  try {
    const login = await service.http('POST', '/api/v1/auth/login', GRACE);
    const total = (await service.http('GET', '/api/v1/conversations?scope=all&limit=1', undefined, login.token)).items.length;
    if (!total) throw new Error('no conversations listed');
    console.error(`p7: first page from the service, ${P7_REQUESTS} requests each`);
    const rest = [await timeFirstPage(service, login.token, 100), await timeFirstPage(service, login.token, 50)];

    app = await launchSignedIn(service);
    const launchToInbox = app.inboxAt - app.launchedAt; // POST /session (the app starts) -> the inbox

    // First render: click "All" (the list starts over from the first page) -> rows in the DOM
    // -> the next animation frame; from Active each time.
    const renders = [];
    for (let i = 0; i < P7_RENDERS; i++) {
      const r = await app.req('POST', '/execute/async', {
        args: [],
        script: `const done = arguments[arguments.length - 1];
          const pick = (label) => [...document.querySelectorAll('[aria-label="Show conversations"] button')]
            .find((b) => b.textContent.trim().startsWith(label));
          const rowsOf = (label) => document.querySelectorAll('[aria-label="' + label + '"] [role=option]').length;
          const waitFor = (pred, then) => { if (pred()) then(); else requestAnimationFrame(() => waitFor(pred, then)); };
          pick('Active').click();
          waitFor(() => rowsOf('All conversations') === 0 && pick('Active').getAttribute('aria-pressed') === 'true', () => {
            setTimeout(() => {
              let domAt = null;
              const t0 = performance.now();
              const mo = new MutationObserver(() => { if (domAt === null && rowsOf('All conversations') > 0) domAt = performance.now(); });
              mo.observe(document.body, { childList: true, subtree: true });
              pick('All').click();
              waitFor(() => domAt !== null, () => requestAnimationFrame(() => {
                const painted = performance.now();
                mo.disconnect();
                done({ dom_ms: domAt - t0, frame_ms: painted - t0, rows: rowsOf('All conversations') });
              }));
            }, 300);
          });`,
      });
      renders.push(r);
    }
    console.error(`p7: first renders ${JSON.stringify(renders)}`);

    // Scrolling: P7_STEP_PX per frame until P7_ROWS rows went by.
    console.error(`p7: scrolling ${P7_ROWS} rows, ${P7_STEP_PX} px per frame`);
    // Started in the page and polled: it outlasts one WebDriver request.
    await app.exec(`const [targetRows, step, sel] = arguments;
        const done = (r) => { window.__p7scroll = r; };
        const vp = document.querySelector(sel);
        const rowH = vp.querySelector('[role=option]').offsetHeight;
        const deltas = [];
        const waiting = [];
        const slow = []; // frames over 50 ms: where they fell (a page just appended?)
        let last = null; let lastTop = -1;
        const t0 = performance.now();
        const loaded = () => Math.round(vp.firstElementChild.offsetHeight / rowH);
        const startRows = loaded();
        function frame(ts) {
          if (last !== null) {
            deltas.push(ts - last);
            waiting.push(vp.scrollTop === lastTop);
            if (ts - last > 50) slow.push({ ms: ts - last, frame: deltas.length, row: Math.floor(vp.scrollTop / rowH), rows_loaded: loaded() });
          }
          last = ts;
          lastTop = vp.scrollTop;
          const rows = vp.scrollTop / rowH;
          if (rows >= targetRows || performance.now() - t0 > 600000) {
            done({ deltas, waiting, slow_frames: slow, rows_scrolled: Math.floor(rows), rows_loaded: loaded(), rows_loaded_at_start: startRows,
              row_height_px: rowH, viewport_px: vp.clientHeight, seconds: (performance.now() - t0) / 1000 });
            return;
          }
          vp.scrollTop = vp.scrollTop + step;
          requestAnimationFrame(frame);
        }
        requestAnimationFrame(frame);`, P7_ROWS, P7_STEP_PX, S.rows);
    await until(() => app.exec('return !!window.__p7scroll;'), `${P7_ROWS} rows scrolled`, 660_000, 2000);
    const scroll = await app.exec('return window.__p7scroll;');
    await app.screenshot('bench-p7-scrolled').catch(() => {});
    const { deltas, waiting, ...rest7 } = scroll;
    rest7.slow_frames = (rest7.slow_frames || []).map((f) => ({ ...f, ms: r3(f.ms) }));
    const moving = deltas.filter((_, i) => !waiting[i]);
    const result = {
      bench: 'app-p7',
      app_env: APP_ENV,
      app_bin: APP_BIN,
      service_bin: SERVICE_BIN,
      conversations_seeded: Number(process.env.P7_SEEDED || 0),
      first_page: rest,
      launch_to_inbox_ms: r3(launchToInbox),
      first_render: {
        runs: renders.map((r) => ({ dom_ms: r3(r.dom_ms), frame_ms: r3(r.frame_ms), rows: r.rows })),
        frame: stats(renders.map((r) => r.frame_ms)),
        dom: stats(renders.map((r) => r.dom_ms)),
      },
      scroll: {
        ...rest7,
        step_px: P7_STEP_PX,
        frames: stats(deltas),
        frames_while_moving: stats(moving),
        frames_over_50ms: deltas.filter((d) => d > 50).length,
        frames_over_33ms: deltas.filter((d) => d > 33.4).length,
        frames_waiting_for_a_page: waiting.filter(Boolean).length,
        worst_frames_ms: [...deltas].sort((a, b) => b - a).slice(0, 10).map(r3),
      },
    };
    writeFileSync(join(OUT, `p7${SUFFIX}.json`), JSON.stringify(result) + '\n');
    console.error(`p7: first page ${JSON.stringify(rest)}; first render ${JSON.stringify(result.first_render.frame)}; ` +
      `frames ${JSON.stringify(result.scroll.frames)} over 50 ms: ${result.scroll.frames_over_50ms}`);
  } finally {
    if (app) await app.quit();
    await service.stop();
  }
}

if (ONLY.includes('p3')) await p3().catch((e) => { console.error(`p3 failed: ${e.stack}`); process.exitCode = 1; });
if (ONLY.includes('p7')) await p7().catch((e) => { console.error(`p7 failed: ${e.stack}`); process.exitCode = 1; });
