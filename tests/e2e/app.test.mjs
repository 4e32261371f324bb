// End-to-end tests of the real desktop app (target/debug/agent-inbox) driven over WebDriver
// (tauri-driver + WebKitWebDriver), against the real chat service with demo data. Run through
// tests/e2e/run.sh, which provides Xvfb, a private session bus with an unlocked keyring and
// python3-dbusmock's notification daemon, and fresh HOME/XDG folders.
//
// Each test starts its own chat service and its own app. Nothing waits a fixed time: every
// step polls for its condition with a bounded deadline.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import {
  App, CHROMIUM, SCREENSHOTS, RawAgent, RawVisitor, STEP_MS, WORK, alive, invokeAction, notifyCalls, startService, until,
} from './lib.mjs';

const run = promisify(execFile);
const X11CLOSE = join(dirname(fileURLToPath(import.meta.url)), 'x11close.py');
const GRACE = { email: 'grace@example.com', password: 'demo1234' };
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run', '--disable-quic'];

// Selectors, from ui/src/components (roles, aria-labels and visible text; no test ids needed).
const S = {
  inbox: 'nav[aria-label="Conversations"]',
  login: 'form[aria-labelledby="login-title"]',
  availability: 'button[role="switch"][aria-label="Available for new chats"]',
  banner: 'section[aria-labelledby="offer-tag offer-title"]',
  bannerName: '#offer-title',
  accept: 'section[aria-labelledby="offer-tag offer-title"] button[aria-keyshortcuts="Alt+A"]',
  composer: 'textarea[aria-label^="Reply to"]',
  calendarButton: 'button[aria-label^="Share a calendar"]',
  dialog: '[role="dialog"]',
  messages: 'main[aria-label="Conversation"] ol[aria-label="Messages"]',
  chatTitle: '#chat-title',
  visitorPanel: 'aside[aria-label="Visitor details"]',
  scopeActive: '//div[@aria-label="Show conversations"]/button[contains(normalize-space(.), "Active")]',
  scopeAll: '//div[@aria-label="Show conversations"]/button[normalize-space(.)="All"]',
  search: 'input[aria-label="Search conversations"]',
};
const ENTER = '\uE007';
const INJECTIONS = [
  '<img src=x onerror="window.__pwned=1">',
  '<script>window.__pwned=1</script>',
  '<svg onload="window.__pwned=1">',
  '<iframe srcdoc="<script>parent.__pwned=1</script>"></iframe>',
];

const tag = () => randomUUID().slice(0, 6);

/** Launches the app signed in as `who` through the environment; resolves once the inbox shows. */
async function launchSignedIn(service, who = GRACE, label = 'app') {
  const app = await App.launch({
    label,
    env: { AGENT_INBOX_URL: service.url, AGENT_INBOX_EMAIL: who.email, AGENT_INBOX_PASSWORD: who.password },
  });
  try {
    await app.waitFor(S.inbox, 'the inbox');
    app.inboxAt = performance.now();
    await app.waitScript(`const s = document.querySelector(${JSON.stringify(S.availability)});
      const c = [...document.querySelectorAll('[role=status]')].some((e) => e.textContent.trim() === 'Connected');
      return !!s && c;`, 'connected, with the availability switch');
  } catch (err) {
    // Nobody else holds the app yet: stop it here, or its processes keep the run alive.
    await app.screenshot(`failure-launch-${label}`).catch(() => {});
    await app.quit().catch(() => {});
    throw err;
  }
  return app;
}

/** Texts of the conversation rows currently listed (the list is virtual: rows in view). */
function listNames(app) {
  return app.exec(`return [...document.querySelectorAll('nav[aria-label="Conversations"] [role=option] .name')].map((e) => e.textContent);`);
}

async function setScope(app, scope) {
  await app.click(scope === 'all' ? S.scopeAll : S.scopeActive, `${scope} scope button`);
  await app.waitScript(`const b = document.evaluate(arguments[0], document, null, 9, null).singleNodeValue;
    return b && b.getAttribute('aria-pressed') === 'true';`, `${scope} pressed`, STEP_MS, scope === 'all' ? S.scopeAll : S.scopeActive);
}

async function search(app, text) {
  const el = await app.waitFor(S.search);
  // WebDriver's Element Clear fires no input event; clear as the user's Backspace would.
  await app.exec(`const e = document.querySelector(${JSON.stringify(S.search)}); e.value = '';
    e.dispatchEvent(new Event('input', { bubbles: true }));`);
  if (text) await app.req('POST', `/element/${el}/value`, { text });
}

/** The texts of the transcript's message bubbles and cards. */
function transcript(app) {
  return app.exec(`const ol = document.querySelector(${JSON.stringify(S.messages)});
    return ol ? [...ol.children].map((li) => li.textContent.replace(/\\s+/g, ' ').trim()) : [];`);
}

async function waitNotify(summary, timeout = STEP_MS) {
  return until(async () => (await notifyCalls()).find((c) => c.summary === summary), `a Notify call "${summary}"`, timeout);
}

/** Runs `body` with cleanup of everything registered in `stack`, adding logs to failures. */
async function scenario(t, name, body) {
  const stack = [];
  const ctx = { defer: (fn) => stack.push(fn), service: null, app: null };
  try {
    await body(ctx);
  } catch (err) {
    if (ctx.app?.session) await ctx.app.screenshot(`failure-${name}`).catch(() => {});
    const extra = [
      ctx.app ? `--- tauri-driver/app log tail ---\n${ctx.app.logs()}` : '',
      ctx.service ? `--- service log tail ---\n${ctx.service.logs().slice(-2500)}` : '',
    ].join('\n');
    throw new Error(`${err.message}\n${extra}`, { cause: err });
  } finally {
    for (const fn of stack.reverse()) await Promise.resolve().then(fn).catch(() => {});
  }
}

// ---- tests -----------------------------------------------------------------------------------

test('sign in on the login screen; the keychain session signs in the next start', { timeout: 180_000 }, (t) => scenario(t, 'login', async (ctx) => {
  const service = ctx.service = await startService();
  ctx.defer(() => service.stop());

  // No AGENT_INBOX_* in the environment and fresh folders: the login screen.
  let app = ctx.app = await App.launch({ label: 'login' });
  ctx.defer(() => app.quit());
  await app.waitFor(S.login, 'the login form');
  await app.screenshot('01-login');
  await app.type('input[name="service_url"]', service.url);
  await app.type('input[name="email"]', GRACE.email);
  await app.type('input[name="password"]', 'wrong-password');
  await app.click('//form[@aria-labelledby="login-title"]//button[@type="submit"]', 'Sign in');
  const alert = await app.waitScript(`const a = document.querySelector('form [role=alert]'); return a && a.textContent;`, 'the sign-in error');
  assert.match(alert, /Wrong email or password/);
  const pw = await app.find('input[name="password"]');
  await app.req('POST', `/element/${pw}/clear`, {});
  await app.type('input[name="password"]', GRACE.password + ENTER);
  await app.waitFor(S.inbox, 'the inbox after signing in');
  const who = await app.waitScript(`return document.querySelector('header .agent')?.textContent;`, 'the agent name in the header');
  assert.match(who, /Grace/);

  // The token went to the keychain (Secret Service), never to a file.
  const { stdout } = await run('secret-tool', ['search', '--all', 'service', 'agent-inbox'], { env: process.env }).catch((e) => e);
  assert.match(String(stdout), /grace@example\.com/, 'a keychain entry for grace');
  const configDir = app.configDir;
  await app.quit();

  // Next start, same preferences folder, still no credentials in the environment: signed in
  // from the keychain, without the login screen.
  app = ctx.app = await App.launch({ label: 'restore', configDir });
  ctx.defer(() => app.quit());
  await app.waitFor(S.inbox, 'the inbox restored from the keychain');
  assert.equal(await app.exec(`return !!document.querySelector(${JSON.stringify(S.login)});`), false);
}));

test('offer, accept, chat both ways, lists, visitor panel, history, calendar booking, availability', { timeout: 300_000 }, (t) => scenario(t, 'main', async (ctx) => {
  const service = ctx.service = await startService();
  ctx.defer(() => service.stop());
  const app = ctx.app = await launchSignedIn(service);
  ctx.defer(() => app.quit());
  console.log(`# timing: WebDriver session ${Math.round(app.sessionAt - app.launchedAt)} ms, ` +
    `launch -> inbox shown ${Math.round(app.inboxAt - app.launchedAt)} ms`);
  await app.screenshot('02-inbox');

  // -- Availability off: routing stops. A new visitor is queued, told nobody is available, and
  //    the app shows no banner.
  await app.click(S.availability, 'the availability switch');
  await app.waitScript(`return document.querySelector(${JSON.stringify(S.availability)})?.getAttribute('aria-checked') === 'false';`, 'switch off');
  const quinn = `Quinn ${tag()}`;
  const quinnText = `Is anyone there? ${tag()}`;
  const queued = await RawVisitor.start(service, { name: quinn, text: quinnText });
  ctx.defer(() => queued.close());
  const q = await queued.waitFor((f) => f.type === 'queued', 'queued');
  assert.equal(q.agents_available, false, 'the queue says no agent is available');
  assert.equal(await app.exec(`return !!document.querySelector(${JSON.stringify(S.banner)});`), false, 'no banner while unavailable');
  assert.ok(!(await notifyCalls()).some((c) => c.summary.includes(quinn)), 'no notification while unavailable');
  await app.screenshot('03-unavailable');

  // -- Another agent (linus, over the raw agent socket) takes Quinn's chat.
  const linus = await RawAgent.connect(service, 'linus@example.com');
  ctx.defer(() => linus.close());
  await linus.take(quinnText);
  await queued.waitFor((f) => f.type === 'agent_joined', 'agent_joined (linus)');

  // Back on.
  await app.click(S.availability, 'the availability switch');
  await app.waitScript(`return document.querySelector(${JSON.stringify(S.availability)})?.getAttribute('aria-checked') === 'true';`, 'switch on');

  // -- A visitor in the widget (headless Chromium) asks for a chat; no email, no phone.
  const browser = await chromium.launchPersistentContext(mkdtempSync(join(WORK, 'chromium-')), {
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 420, height: 800 },
  });
  ctx.defer(() => browser.close());
  const page = browser.pages()[0] || (await browser.newPage());
  await page.goto(`${service.url}/widget`);
  const vera = `Vera ${tag()}`;
  const veraFirst = `Hello, can you help me with pricing? ${tag()}`;
  await page.fill('#name', vera);
  await page.fill('#first-message', veraFirst);
  await page.click('#start-button');

  // The blue banner, and a native notification with Accept/Decline on the session bus.
  await app.waitScript(`return document.querySelector('#offer-title')?.textContent === arguments[0];`, 'the banner for Vera', STEP_MS, vera);
  const note = await waitNotify(`Chat request from ${vera}`);
  const pairs = Object.fromEntries(note.actions.flatMap((v, i, a) => (i % 2 === 0 ? [[v, a[i + 1]]] : [])));
  assert.equal(pairs.accept, 'Accept', `actions ${JSON.stringify(note.actions)}`);
  assert.equal(pairs.decline, 'Decline', `actions ${JSON.stringify(note.actions)}`);
  const bannerText = await app.exec(`return document.querySelector(${JSON.stringify(S.banner)}).textContent;`);
  assert.ok(bannerText.includes(veraFirst), 'the banner shows the first message');
  await app.screenshot('04-offer-banner');

  // Accept in the window.
  await app.click(S.accept, 'Accept');
  await page.waitForFunction(() => /Grace/.test(document.querySelector('#chat-status')?.textContent || ''), null, { timeout: STEP_MS });
  await app.waitScript(`return document.querySelector('#chat-title')?.textContent === arguments[0];`, 'Vera\'s chat open', STEP_MS, vera);
  await app.waitScript(`return !document.querySelector(${JSON.stringify(S.banner)});`, 'the banner gone');

  // Messages both ways.
  const reply = `Of course! Which plan are you looking at? ${tag()}`;
  await app.type(S.composer, reply + ENTER);
  await page.locator('#messages li.msg.agent').getByText(reply).waitFor({ timeout: STEP_MS });
  const question = `The team plan, for 12 people ${tag()}`;
  await page.fill('#composer', question);
  await page.click('#send-button');
  await until(async () => (await transcript(app)).some((m) => m.includes(question)), 'the visitor message in the app');
  assert.equal(await app.exec(`return document.querySelector(${JSON.stringify(S.composer)}).value;`), '', 'composer cleared after Enter');

  // The visitor panel: a dash for what the visitor did not give.
  const fields = await app.waitScript(`const p = document.querySelector(${JSON.stringify(S.visitorPanel)});
    const rows = p ? [...p.querySelectorAll('dl > div')].map((d) => [d.querySelector('dt').textContent.trim(), d.querySelector('dd').textContent.trim()]) : [];
    const o = Object.fromEntries(rows); return o.Name === arguments[0] ? o : null;`, 'the visitor panel for Vera', STEP_MS, vera);
  assert.equal(fields.Email, '-', 'missing email shows a dash');
  assert.equal(fields.Phone, '-', 'missing phone shows a dash');
  await app.screenshot('05-chat');

  // -- Active shows the live chat, never linus's; All never shows linus's live chat either.
  await until(async () => (await listNames(app)).includes(vera), 'Vera in Active');
  assert.ok(!(await listNames(app)).includes(quinn), 'linus\'s chat is not in Active');
  await setScope(app, 'all');
  await until(async () => (await listNames(app)).length > 1, 'the All list loaded');
  assert.ok(!(await listNames(app)).includes(quinn), 'linus\'s chat is not in All');
  await search(app, quinn.split(' ')[1]);
  await app.waitScript(`return /No conversations match/.test(document.querySelector(${JSON.stringify(S.inbox)}).textContent);`,
    'no match for linus\'s visitor in All');
  await search(app, vera.split(' ')[1]);
  await until(async () => JSON.stringify(await listNames(app)) === JSON.stringify([vera]), 'Vera found by search in All');
  await search(app, '');
  await until(async () => (await listNames(app)).length > 1, 'the All list back');

  // -- History stops at 90 days: open demo conversations and read their activity dates.
  const cutoff = Date.now() - 90 * 86_400_000;
  let checked = 0;
  for (let i = 0; i < 6 && checked < 2; i++) {
    const names = await listNames(app);
    const name = names[i];
    if (!name || name === vera) continue;
    await app.exec(`document.querySelectorAll('nav[aria-label="Conversations"] [role=option]')[arguments[0]].click();`, i);
    await app.waitScript(`return document.querySelector('#chat-title')?.textContent === arguments[0];`, `conversation of ${name}`, STEP_MS, name);
    const dates = await app.waitScript(`const h = document.querySelector(${JSON.stringify(S.visitorPanel)} + ' section.history');
      if (!h || h.querySelector('[role=status]')) return null;
      return { times: [...h.querySelectorAll('time[datetime]')].map((t) => t.getAttribute('datetime')) };`, `history of ${name}`);
    const old = dates.times.filter((d) => Date.parse(d) < cutoff);
    assert.deepEqual(old, [], `no activity older than 90 days for ${name}`);
    if (dates.times.length > 0) checked++;
  }
  assert.ok(checked > 0, 'at least one demo visitor has activity in the last 90 days');
  await app.screenshot('06-all-history');

  // Back to Vera's live chat.
  await setScope(app, 'active');
  await until(async () => (await listNames(app)).includes(vera), 'Vera in Active again');
  await app.exec(`[...document.querySelectorAll('nav[aria-label="Conversations"] [role=option]')].find((r) => r.querySelector('.name').textContent === arguments[0]).click();`, vera);
  await app.waitScript(`return document.querySelector('#chat-title')?.textContent === arguments[0];`, 'Vera\'s chat again', STEP_MS, vera);

  // -- Send a calendar; the visitor books a slot in the widget; the booking shows in the app.
  await app.click(S.calendarButton, 'the calendar button');
  await app.waitFor('[role="dialog"] input[name="calendar"]', 'the calendar choices');
  await app.click('//div[@role="dialog"]//label[.//input[@name="calendar"]][contains(., "My calendar")]', 'my calendar');
  await app.waitScript(`const d = document.querySelector('[role=dialog]'); return d && /free slots/.test(d.textContent) && !d.querySelector('[aria-busy=true]');`, 'free slots in the picker');
  await app.screenshot('07-calendar-picker');
  await app.click('//div[@role="dialog"]//button[normalize-space(.)="Send calendar"]', 'Send calendar');
  await app.waitScript(`return !document.querySelector('[role=dialog]');`, 'the picker closed');
  await until(async () => (await transcript(app)).some((m) => m.includes('Calendar shared')), 'the calendar card in the app');
  const slot = page.locator('#booking-card .slot-button').first();
  await slot.waitFor({ timeout: STEP_MS });
  await slot.click();
  await page.waitForFunction(() => /Meeting booked/.test(document.querySelector('#booking-confirmation')?.textContent || ''), null, { timeout: STEP_MS });
  await until(async () => (await transcript(app)).some((m) => m.includes('Meeting booked') && /with Grace/.test(m)), 'the booking in the app');
  await app.screenshot('08-booked');
  await page.screenshot({ path: join(SCREENSHOTS, '08-widget-booked.png') }).catch(() => {});
}));

test('visitor-supplied markup renders as plain text', { timeout: 180_000 }, (t) => scenario(t, 'injection', async (ctx) => {
  // The service's database is the test's own: the fields a visitor session cannot set (job
  // title, phone, CRM status; a CRM would fill them) are written into it directly.
  const db = join(mkdtempSync(join(WORK, 'injection-db-')), 'chat.db');
  const service = ctx.service = await startService({ db });
  ctx.defer(() => service.stop());
  const app = ctx.app = await launchSignedIn(service);
  ctx.defer(() => app.quit());

  const name = INJECTIONS[0];
  const first = `${INJECTIONS[1]} ${tag()}`;
  // Every visitor field carries a payload; the email one passes the service's email check.
  const fields = {
    Name: name,
    Email: `${INJECTIONS[0]}@example.com`,
    'Job title': INJECTIONS[1],
    Phone: INJECTIONS[2],
    'CRM status': INJECTIONS[3],
  };
  const visitor = await RawVisitor.start(service, { name, email: fields.Email });
  ctx.defer(() => visitor.close());
  const visitorId = visitor.welcome.visitor.id;
  assert.equal(visitor.welcome.visitor.email, fields.Email, 'the service kept the email payload as given');
  await run('/usr/bin/python3', ['-c', `import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=10)
n = db.execute('UPDATE visitors SET job_title = ?, phone = ?, crm_status = ? WHERE id = ?', sys.argv[2:6]).rowcount
db.commit()
sys.exit(0 if n == 1 else 3)`, db, fields['Job title'], fields.Phone, fields['CRM status'], String(visitorId)]);
  visitor.send({ type: 'start_chat', id: randomUUID(), text: first });
  await app.waitScript(`return document.querySelector('#offer-title')?.textContent === arguments[0];`, 'the banner with the markup name', STEP_MS, name);
  await app.click(S.accept, 'Accept');
  await visitor.waitFor((f) => f.type === 'agent_joined', 'agent_joined');
  await app.waitScript(`return document.querySelector('#chat-title')?.textContent === arguments[0];`, 'the chat open', STEP_MS, name);
  for (const text of INJECTIONS) await visitor.say(text);
  await until(async () => {
    const m = await transcript(app);
    return INJECTIONS.every((x) => m.some((line) => line.startsWith(x)));
  }, 'every payload in the transcript as text');

  // The visitor panel shows what the service says of the visitor: wait until it is every field.
  const panelRows = `return Object.fromEntries([...document.querySelectorAll('aside[aria-label="Visitor details"] dl > div')]
      .map((d) => [d.querySelector('dt').textContent.trim(), { text: d.querySelector('dd').textContent, elements: d.querySelector('dd').children.length }]));`;
  await app.waitScript(`const rows = (() => { ${panelRows} })(); const want = arguments[0];
    return Object.keys(want).every((k) => rows[k]?.text === want[k]);`, 'every visitor field in the panel', STEP_MS, fields)
    .catch(async (err) => { throw new Error(`${err.message}; panel: ${JSON.stringify(await app.exec(panelRows))}`); });
  const panel = await app.exec(panelRows);
  for (const [label, payload] of Object.entries(fields)) {
    assert.equal(panel[label]?.text, payload, `${label} is shown literally in the visitor panel`);
    assert.equal(panel[label]?.elements, 0, `no element inside the ${label} field`);
  }

  const found = await app.exec(`
    const areas = ['nav[aria-label="Conversations"]', 'main[aria-label="Conversation"]', 'aside[aria-label="Visitor details"]', 'header'];
    const injected = areas.flatMap((sel) => [...(document.querySelector(sel)?.querySelectorAll('img, script, iframe, object, embed') ?? [])].map((e) => sel + ' ' + e.outerHTML));
    // The UI's own icons are <svg> without event handlers; an injected one would carry onload.
    const svgs = [...document.querySelectorAll('svg')].filter((s) => s.hasAttribute('onload')).map((s) => s.outerHTML);
    return {
      pwned: typeof window.__pwned,
      injected, svgs,
      title: document.querySelector('#chat-title')?.textContent,
      listed: [...document.querySelectorAll('nav[aria-label="Conversations"] [role=option] .name')].map((e) => e.textContent),
      panelName: [...document.querySelectorAll('aside[aria-label="Visitor details"] dl > div')].find((d) => d.querySelector('dt').textContent.trim() === 'Name')?.querySelector('dd').textContent,
    };`);
  assert.equal(found.pwned, 'undefined', 'window.__pwned stays undefined');
  assert.deepEqual(found.injected, [], 'no element injected in the list, chat or visitor panel');
  assert.deepEqual(found.svgs, [], 'no svg with onload');
  assert.equal(found.title, name, 'the name is shown literally as the chat title');
  assert.ok(found.listed.includes(name), 'the name is shown literally in the list');
  assert.equal(found.panelName, name, 'the name is shown literally in the visitor panel');
  await app.screenshot('09-markup-as-text');
}));

test('window closed to the tray: an offer is accepted from the notification action', { timeout: 180_000 }, (t) => scenario(t, 'hidden', async (ctx) => {
  const service = ctx.service = await startService();
  ctx.defer(() => service.stop());
  const app = ctx.app = await launchSignedIn(service);
  ctx.defer(() => app.quit());
  const pid = app.appPid();
  assert.ok(pid, 'found the app process under WebKitWebDriver');

  // Close the window as its title bar's close button would (WM_DELETE_WINDOW; there is no window
  // manager on Xvfb). WebDriver's "close window" is no good here: WebKitWebDriver ends the
  // session and the browser (the app) with the last window.
  const visible = async () => {
    const r = await run('xdotool', ['search', '--onlyvisible', '--pid', String(pid), '--name', '^Agent Inbox$']).catch(() => ({ stdout: '' }));
    return r.stdout.trim().split(/\s+/).filter(Boolean);
  };
  // The window starts hidden and shows itself once its page has loaded (window::on_page_load).
  const windows = await until(visible, 'the app window on the display');
  for (const w of windows) await run('/usr/bin/python3', [X11CLOSE, w]);
  await until(async () => (await visible()).length === 0, 'the app window to be hidden');
  assert.ok(alive(pid), 'the app keeps running with its window hidden');

  const text = `Anyone? ${tag()}`;
  const name = `Hidden Hannah ${tag()}`;
  const before = (await notifyCalls()).length;
  const visitor = await RawVisitor.start(service, { name, text });
  ctx.defer(() => visitor.close());
  const note = await waitNotify(`Chat request from ${name}`);
  assert.ok((await notifyCalls()).length > before);
  assert.ok(note.actions.includes('accept'));
  await invokeAction(note.id, 'accept');
  const joined = await visitor.waitFor((f) => f.type === 'agent_joined', 'agent_joined after the notification action');
  assert.match(joined.agent_name, /Grace/);
  assert.ok(alive(pid), 'the app still runs');
  // Accepting from the notification opens the chat: the window is shown again, on that chat.
  await until(async () => (await visible()).length > 0, 'the app window shown again after the notification action');
  await app.waitScript(`return document.querySelector('#chat-title')?.textContent === arguments[0];`, 'the accepted chat open in the window', STEP_MS, name);
  assert.equal(await app.exec(`return document.querySelector('#chat-title')?.textContent;`), name, 'the accepted chat is the one open');
}));
