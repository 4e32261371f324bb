// The visitor widget in a real browser (headless Chromium) against the real chat service.
//
// The service binary comes from CHAT_SERVICE_BIN (default: target/debug/chat-service of this
// repository); it runs with --demo on a fresh database. The agent's side is a plain WebSocket
// client logged in as a demo agent, speaking the agent protocol of crates/protocol.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, mkdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { chromium } from 'playwright-core';
import WebSocket from 'ws';

const here = dirname(fileURLToPath(import.meta.url));
const SERVICE_BIN = resolve(here, process.env.CHAT_SERVICE_BIN || '../../target/debug/chat-service');
const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const SCREENSHOTS = join(here, 'screenshots');
const STEP_MS = 15_000; // longest wait for any single step
const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run', '--disable-quic',
];
const AGENT = { email: 'grace@example.com', password: 'demo1234' };

let service; // { url, child, logs() }
let workDir;
let agent; // AgentClient, shared by the tests (connected during the first)

// ---- the service -----------------------------------------------------------------------------

function startService(dbPath, listen = '127.0.0.1:0') {
  return new Promise((resolvePromise, reject) => {
    if (!existsSync(SERVICE_BIN)) {
      reject(new Error(`chat-service binary not found at ${SERVICE_BIN} (build it or set CHAT_SERVICE_BIN)`));
      return;
    }
    const child = spawn(SERVICE_BIN, ['--listen', listen, '--db', dbPath, '--demo'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1' },
    });
    let out = '';
    let done = false;
    const logs = () => out.slice(-8000);
    const timer = setTimeout(() => finish(new Error(`no "listening on" line within 30 s:\n${logs()}`)), 30_000);
    function finish(err, url) {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) {
        child.kill('SIGKILL');
        reject(err);
      } else {
        resolvePromise({ url, child, logs });
      }
    }
    function onData(chunk) {
      out += chunk.toString();
      const m = out.replace(/\x1b\[[0-9;]*m/g, '').match(/listening on (http:\/\/[0-9.:\[\]a-z]+)/i);
      if (m) finish(null, m[1].replace(/\/+$/, ''));
    }
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (err) => finish(err));
    child.on('exit', (code, signal) => finish(new Error(`chat-service exited (${code ?? signal}) before listening:\n${logs()}`)));
  });
}

async function stopService() {
  if (!service) return;
  const { child } = service;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

async function http(method, path, body, token) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  // Visitor endpoints check Origin as a browser would send it: the widget's own origin.
  if (path.startsWith('/api/v1/visitor/')) headers.Origin = service.url;
  const res = await fetch(service.url + path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  if (!res.ok) throw new Error(`${method} ${path} -> ${res.status} ${text}`);
  return json;
}

// ---- the agent's side ------------------------------------------------------------------------

class AgentClient {
  static async connect(credentials) {
    const login = await http('POST', '/api/v1/auth/login', credentials);
    assert.ok(login && login.token, 'login returns a token');
    const c = new AgentClient(login);
    await c.open();
    return c;
  }

  constructor(login) {
    this.token = login.token;
    this.profile = login.agent;
    this.frames = [];
    this.waiters = [];
    this.ready = null;
  }

  async open() {
    const wsUrl = service.url.replace(/^http/, 'ws') + '/api/v1/agent/ws';
    this.ws = new WebSocket(wsUrl, { headers: { Authorization: `Bearer ${this.token}` } });
    this.ws.on('message', (data) => {
      let frame;
      try { frame = JSON.parse(data.toString()); } catch { return; }
      this.frames.push(frame);
      for (const w of [...this.waiters]) w.check();
    });
    this.ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      for (const w of [...this.waiters]) w.check();
    });
    await new Promise((res, rej) => {
      this.ws.once('open', res);
      this.ws.once('error', rej);
      this.ws.once('unexpected-response', (_req, resp) => rej(new Error(`agent socket upgrade -> ${resp.statusCode}`)));
    });
    this.send({ type: 'hello', protocol: 1 });
    this.ready = await this.waitFor((f) => f.type === 'ready', 'ready');
    const every = Math.max(5, Math.min(30, Number(this.ready.heartbeat_secs) || 20)) * 1000;
    this.heartbeat = setInterval(() => this.send({ type: 'ping' }), every);
  }

  send(frame) {
    this.ws.send(JSON.stringify(frame));
  }

  // Resolves with the first frame (already received or still to come) matching `pred`.
  waitFor(pred, what, timeout = STEP_MS) {
    return new Promise((res, rej) => {
      const w = {
        check: () => {
          const f = this.frames.find(pred);
          if (f) {
            cleanup();
            res(f);
          } else if (this.closed) {
            cleanup();
            rej(new Error(`agent socket closed (${this.closed.code} ${this.closed.reason}) waiting for ${what}`));
          }
        },
      };
      const timer = setTimeout(() => {
        cleanup();
        const tail = this.frames.slice(-8).map((f) => JSON.stringify(f).slice(0, 400)).join('\n');
        rej(new Error(`agent: no ${what} within ${timeout} ms; last frames:\n${tail}`));
      }, timeout);
      const cleanup = () => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((x) => x !== w);
      };
      this.waiters.push(w);
      w.check();
    });
  }

  event(kind, pred, what) {
    return this.waitFor((f) => f.type === 'event' && f.event && f.event.kind === kind && pred(f.event), what);
  }

  // A command with a client id; resolves with its ack, rejects on its error.
  async command(frame) {
    const id = randomUUID();
    this.send({ ...frame, id });
    const answer = await this.waitFor((f) => (f.type === 'ack' || f.type === 'error') && f.id === id, `answer to ${frame.type}`);
    if (answer.type === 'error') throw new Error(`${frame.type} refused: ${JSON.stringify(answer.error)}`);
    return answer;
  }

  // Waits for the offer of the chat whose first message is `firstMessage`, declining others.
  async offerFor(firstMessage) {
    const matches = (o) => o && o.first_message === firstMessage;
    const seen = new Set();
    const decline = (o) => {
      if (!o || matches(o) || seen.has(o.id)) return;
      seen.add(o.id);
      this.send({ type: 'decline', id: randomUUID(), offer_id: o.id });
    };
    if (this.ready && matches(this.ready.offer)) return this.ready.offer;
    const ev = await this.waitFor((f) => {
      if (f.type !== 'event' || !f.event || f.event.kind !== 'offer') return false;
      decline(f.event.offer);
      return matches(f.event.offer);
    }, `offer with first_message ${JSON.stringify(firstMessage)}`);
    return ev.event.offer;
  }

  close() {
    clearInterval(this.heartbeat);
    if (this.ws) this.ws.close();
  }
}

// ---- the visitor's side ----------------------------------------------------------------------

async function openVisitor(name, viewport) {
  const userDataDir = mkdtempSync(join(workDir, `chromium-${name}-`));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport,
  });
  const page = context.pages()[0] || (await context.newPage());
  const problems = [];
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    const text = msg.text();
    // A CSP violation means the page tried to run or load something it must not.
    if (msg.type() === 'error' && /Content Security Policy|Refused to/i.test(text)) problems.push(`console: ${text}`);
  });
  await page.goto(`${service.url}/widget`);
  return { context, page, problems };
}

function waitText(page, selector, substring, timeout = STEP_MS) {
  return page.waitForFunction(
    ([sel, sub]) => {
      const n = document.querySelector(sel);
      return !!n && n.textContent.includes(sub);
    },
    [selector, substring],
    { timeout },
  ).catch(async (err) => {
    const now = await page.evaluate((sel) => document.querySelector(sel)?.textContent ?? '(missing)', selector);
    throw new Error(`${selector} never contained ${JSON.stringify(substring)}; it shows ${JSON.stringify(now)} (${err.message.split('\n')[0]})`);
  });
}

async function shot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

// Sends a visitor message through the composer and returns once the agent has it.
async function visitorSays(page, text, conversationId) {
  await page.fill('#composer', text);
  await page.click('#send-button');
  const ev = await agent.event('message', (e) => e.message.conversation_id === conversationId
    && e.message.author.role === 'visitor' && e.message.content.kind === 'text'
    && e.message.content.text === text, `visitor message ${JSON.stringify(text)}`);
  return ev.event.message;
}

// ---- setup -----------------------------------------------------------------------------------

before(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'widget-test-'));
  service = await startService(join(workDir, 'chat.db'));
});

after(async () => {
  if (agent) agent.close();
  await stopService();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

// ---- tests -----------------------------------------------------------------------------------

// First, while no agent is connected: nobody can take the chat, so the visitor may leave a message.
test('with nobody available the visitor can leave a message', { timeout: 60_000 }, async (t) => {
  const { context, page, problems } = await openVisitor('leave', { width: 360, height: 640 });
  t.after(() => context.close());
  try {
    const firstMessage = `Please call me back ${randomUUID().slice(0, 8)}`;
    await page.fill('#name', 'Left Message Visitor');
    await page.fill('#first-message', firstMessage);
    await page.click('#start-button');
    await waitText(page, '#queue-status', 'in the queue');
    await page.locator('#leave-message').waitFor({ state: 'visible', timeout: STEP_MS });
    await page.fill('#composer', 'My number is +1 555 0100.');
    await page.click('#leave-message');
    await waitText(page, '#chat-status', 'Message left');
    await page.locator('#messages').getByText('your message was left', { exact: false }).waitFor({ timeout: STEP_MS });
    assert.ok(await page.isDisabled('#composer'), 'composer disabled once the message is left');
    assert.equal(await page.locator('#messages li.msg.visitor.pending').count(), 0);
    await shot(page, '0-message-left');

    // Every agent sees it under All.
    const login = await http('POST', '/api/v1/auth/login', { email: 'ada@example.com', password: 'demo1234' });
    const all = await http('GET', '/api/v1/conversations?scope=all&limit=50', undefined, login.token);
    const mine = all.items.find((c) => c.visitor && c.visitor.name === 'Left Message Visitor');
    assert.ok(mine, 'the left message is listed under All');
    assert.equal(mine.status, 'left_message');
    assert.deepEqual(problems, []);
  } catch (err) {
    await shot(page, 'failure-leave').catch(() => {});
    throw new Error(`${err.message}\n--- service log tail ---\n${service.logs().slice(-3000)}`, { cause: err });
  }
});

test('visitor chats with an agent and books a meeting', { timeout: 180_000 }, async (t) => {
  const { context, page, problems } = await openVisitor('chat', { width: 390, height: 780 });
  t.after(() => context.close());
  try {
    const firstMessage = `Hello, I need help with my order ${randomUUID().slice(0, 8)}`;

    // Start form; nobody is connected yet, so the chat waits in the queue.
    await page.fill('#name', 'Test Visitor');
    await page.fill('#email', 'visitor@example.org');
    await page.fill('#first-message', firstMessage);
    await page.click('#start-button');
    await page.locator('#messages').getByText(firstMessage).waitFor({ timeout: STEP_MS });
    await waitText(page, '#queue-status', 'in the queue');
    await shot(page, '1-queued');

    // The agent connects and gets the offer for this chat.
    agent = await AgentClient.connect(AGENT);
    const offer = await agent.offerFor(firstMessage);
    assert.equal(offer.visitor.name, 'Test Visitor');
    const conversationId = offer.conversation_id;
    await agent.command({ type: 'accept', offer_id: offer.id });
    await agent.event('conversation_started', (e) => e.conversation.summary.id === conversationId, 'conversation_started');

    // The visitor sees the agent join.
    await waitText(page, '#chat-status', agent.profile.name);
    assert.equal(await page.textContent('#queue-status'), '');

    // The visitor's own message is shown pending, then sent, exactly once.
    const visitorText = 'My order number is 12345 & it never arrived';
    await page.fill('#composer', visitorText.slice(0, 5));
    const typing = agent.waitFor((f) => f.type === 'typing' && f.conversation_id === conversationId && f.typing === true, 'visitor typing');
    await page.type('#composer', visitorText.slice(5));
    await typing;
    await page.click('#send-button');
    const vmsg = await agent.event('message', (e) => e.message.conversation_id === conversationId
      && e.message.author.role === 'visitor' && e.message.content.text === visitorText, 'visitor message');
    assert.ok(vmsg.event.message.client_id, 'the visitor message carries its client id');
    await page.waitForFunction((text) => {
      const items = [...document.querySelectorAll('#messages li.msg.visitor')].filter((li) => li.querySelector('.bubble').textContent === text);
      return items.length === 1 && !items[0].classList.contains('pending');
    }, visitorText, { timeout: STEP_MS });

    // The agent answers; the visitor sees it.
    const agentText = 'Sorry about that! Let me check order 12345 for you.';
    await agent.command({ type: 'send_message', conversation_id: conversationId, text: agentText });
    await page.locator('#messages li.msg.agent').getByText(agentText).waitFor({ timeout: STEP_MS });

    // The agent's typing shows in the widget, and clears.
    agent.send({ type: 'typing', conversation_id: conversationId, typing: true });
    await waitText(page, '#typing-indicator', `${agent.profile.name} is typing`);
    await shot(page, '2-chatting');
    agent.send({ type: 'typing', conversation_id: conversationId, typing: false });
    await page.waitForFunction(() => document.getElementById('typing-indicator').textContent === '', null, { timeout: STEP_MS });

    // The agent shares their calendar; the visitor gets a booking card with slots.
    await agent.command({ type: 'share_calendar', conversation_id: conversationId, calendar_agent_id: agent.profile.id });
    await waitText(page, '#booking-card h2', `Book a meeting with ${agent.profile.name}`);
    const firstSlot = page.locator('#booking-card .slot-button').first();
    await firstSlot.waitFor({ timeout: STEP_MS });
    const slotStart = await firstSlot.getAttribute('data-start');
    await shot(page, '3-booking-card');
    await firstSlot.click();

    // Both sides see the booking, the visitor once.
    await waitText(page, '#booking-confirmation', `Meeting booked with ${agent.profile.name}`);
    const booked = await agent.event('message', (e) => e.message.conversation_id === conversationId
      && e.message.content.kind === 'booking', 'booking message');
    const booking = booked.event.message.content.booking;
    assert.equal(booking.calendar_agent_id, agent.profile.id);
    assert.equal(new Date(booking.start).getTime(), new Date(slotStart).getTime());
    await page.waitForFunction((id) => Number(document.getElementById('messages').dataset.lastMessageId) >= id,
      booked.event.message.id, { timeout: STEP_MS });
    assert.equal(await page.locator(`#messages [data-booking-id="${booking.id}"]`).count(), 1, 'one confirmation line');
    await shot(page, '4-booked');

    // The slot is gone for everyone now.
    const slots = await http('GET', `/api/v1/calendars/${agent.profile.id}/slots?days=7`, undefined, agent.token);
    assert.ok(!slots.slots.some((s) => new Date(s.start).getTime() === new Date(slotStart).getTime()), 'booked slot no longer offered');
    // ... and the meeting is in the visitor's activity history (R7).
    const activities = await http('GET', `/api/v1/conversations/${conversationId}/activities`, undefined, agent.token);
    assert.ok(activities.items.some((a) => a.kind === 'meeting_booked'), 'meeting_booked activity recorded');

    // A reload continues the same chat from sessionStorage, without duplicating anything.
    await page.reload();
    await page.locator('#messages li.msg.agent').getByText(agentText).waitFor({ timeout: STEP_MS });
    assert.equal(await page.locator('#messages li.msg.visitor', { hasText: visitorText }).count(), 1);
    assert.equal(await page.locator(`#messages [data-booking-id="${booking.id}"]`).count(), 1);
    await waitText(page, '#chat-status', agent.profile.name);
    const afterReload = 'Still here after a reload';
    await visitorSays(page, afterReload, conversationId);

    assert.deepEqual(problems, []);
  } catch (err) {
    await shot(page, 'failure-chat').catch(() => {});
    throw new Error(`${err.message}\n--- service log tail ---\n${service.logs().slice(-3000)}`, { cause: err });
  }
});

test('visitor and agent text is shown as text, never run as markup', { timeout: 120_000 }, async (t) => {
  const { context, page, problems } = await openVisitor('xss', { width: 1024, height: 768 });
  t.after(() => context.close());
  try {
    if (!agent) agent = await AgentClient.connect(AGENT);
    const name = '<img src=x onerror="window.__pwned=1">';
    const firstMessage = `<script>window.__pwned=1</script> ${randomUUID().slice(0, 8)}`;
    await page.fill('#name', name);
    await page.fill('#first-message', firstMessage);
    await page.click('#start-button');

    const offer = await agent.offerFor(firstMessage);
    assert.equal(offer.visitor.name, name, 'the agent receives the name verbatim');
    const conversationId = offer.conversation_id;
    await agent.command({ type: 'accept', offer_id: offer.id });
    await waitText(page, '#chat-status', agent.profile.name);

    const visitorText = '<img src=x onerror="window.__pwned=1"><b>bold?</b>';
    await visitorSays(page, visitorText, conversationId);
    const agentText = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=1"><a href="javascript:alert(1)">x</a>';
    await agent.command({ type: 'send_message', conversation_id: conversationId, text: agentText });
    await page.locator('#messages li.msg.agent').getByText(agentText, { exact: true }).waitFor({ timeout: STEP_MS });

    const found = await page.evaluate(() => {
      const log = document.getElementById('messages');
      return {
        pwned: typeof window.__pwned,
        elements: log.querySelectorAll('img, script, b, a, iframe').length,
        bubbles: [...log.querySelectorAll('.bubble')].map((b) => b.textContent),
      };
    });
    assert.equal(found.pwned, 'undefined');
    assert.equal(found.elements, 0, 'no element was injected into #messages');
    assert.ok(found.bubbles.includes(firstMessage), 'first message shown literally');
    assert.ok(found.bubbles.includes(visitorText), 'visitor message shown literally');
    assert.ok(found.bubbles.includes(agentText), 'agent message shown literally');
    await shot(page, '5-markup-as-text');

    await agent.command({ type: 'end_chat', conversation_id: conversationId });
    await waitText(page, '#chat-status', 'Chat ended');
    assert.ok(await page.isDisabled('#composer'), 'composer disabled after the chat ended');
    assert.equal(await page.evaluate(() => typeof window.__pwned), 'undefined');
    assert.deepEqual(problems, []);
  } catch (err) {
    await shot(page, 'failure-xss').catch(() => {});
    throw new Error(`${err.message}\n--- service log tail ---\n${service.logs().slice(-3000)}`, { cause: err });
  }
});

test('embed.js adds a button that opens the widget in an iframe', { timeout: 60_000 }, async (t) => {
  const userDataDir = mkdtempSync(join(workDir, 'chromium-embed-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1024, height: 768 },
  });
  t.after(() => context.close());
  // The host site: another origin (frame-ancestors * does not cover about:blank or data:).
  const host = createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><title>Host site</title><h1>Some shop</h1>
      <script src="${service.url}/widget/embed.js" async></script>`);
  });
  await new Promise((r) => host.listen(0, '127.0.0.1', r));
  t.after(() => host.close());
  const page = context.pages()[0] || (await context.newPage());
  await page.goto(`http://localhost:${host.address().port}/`);
  const button = page.getByRole('button', { name: 'Chat with us' });
  await button.click({ timeout: STEP_MS });
  const frame = page.frameLocator('iframe[title="Chat with us"]');
  await frame.locator('#start-form').waitFor({ timeout: STEP_MS });
  assert.equal(await page.getAttribute('iframe[title="Chat with us"]', 'src'), `${service.url}/widget`);
  assert.equal(await page.getAttribute('button[aria-controls="agent-inbox-frame"]', 'aria-expanded'), 'true');
  await shot(page, '6-embed');
});

test('a slot taken meanwhile is reported and the slots reload', { timeout: 120_000 }, async (t) => {
  const { context, page, problems } = await openVisitor('conflict', { width: 800, height: 900 });
  t.after(() => context.close());
  try {
    if (!agent) agent = await AgentClient.connect(AGENT);
    const firstMessage = `Can we meet? ${randomUUID().slice(0, 8)}`;
    await page.fill('#first-message', firstMessage);
    await page.click('#start-button');
    const offer = await agent.offerFor(firstMessage);
    const conversationId = offer.conversation_id;
    await agent.command({ type: 'accept', offer_id: offer.id });
    await waitText(page, '#chat-status', agent.profile.name);
    await agent.command({ type: 'share_calendar', conversation_id: conversationId, calendar_agent_id: agent.profile.id });
    const firstSlot = page.locator('#booking-card .slot-button').first();
    await firstSlot.waitFor({ timeout: STEP_MS });
    const takenStart = await firstSlot.getAttribute('data-start');

    // Someone else takes that slot while the card is open (here: a direct booking).
    const token = await page.evaluate(() => sessionStorage.getItem('agent-inbox.visitor-token'));
    assert.ok(token, 'the visitor token is kept in sessionStorage');
    await http('POST', '/api/v1/visitor/bookings',
      { conversation_id: conversationId, calendar_agent_id: agent.profile.id, start: takenStart }, token);

    await firstSlot.click();
    await waitText(page, '#booking-card .card-status', 'just taken');
    await page.waitForFunction((start) => {
      const buttons = [...document.querySelectorAll('#booking-card .slot-button')];
      return buttons.length > 0 && !buttons.some((b) => b.dataset.start === start) && buttons.every((b) => !b.disabled);
    }, takenStart, { timeout: STEP_MS });
    await shot(page, '7-slot-taken');

    // Booking another slot works.
    const next = page.locator('#booking-card .slot-button').first();
    const nextStart = await next.getAttribute('data-start');
    await next.click();
    const booked = await agent.event('message', (e) => e.message.conversation_id === conversationId
      && e.message.content.kind === 'booking'
      && new Date(e.message.content.booking.start).getTime() === new Date(nextStart).getTime(), 'second booking message');
    await page.locator(`#messages [data-booking-id="${booked.event.message.content.booking.id}"]`).waitFor({ timeout: STEP_MS });

    // The visitor ends the chat; the agent is told, the widget says so once.
    await page.click('#end-chat-button');
    await waitText(page, '#chat-status', 'Chat ended');
    const ended = await agent.event('conversation_ended', (e) => e.conversation_id === conversationId, 'conversation_ended');
    assert.equal(ended.event.reason, 'visitor');
    assert.equal(await page.locator('#messages li.notice', { hasText: 'You ended the chat.' }).count(), 1);
    assert.ok(await page.isVisible('#new-chat-button'), 'a new chat can be started');
    assert.deepEqual(problems, []);
  } catch (err) {
    await shot(page, 'failure-conflict').catch(() => {});
    throw new Error(`${err.message}\n--- service log tail ---\n${service.logs().slice(-3000)}`, { cause: err });
  }
});

// Last, because it restarts the service: the widget reconnects by itself, resumes the chat, and
// what the visitor typed while the service was down is delivered exactly once.
test('the widget reconnects after the service restarts and loses nothing', { timeout: 120_000 }, async (t) => {
  const { context, page, problems } = await openVisitor('restart', { width: 800, height: 900 });
  t.after(() => context.close());
  try {
    if (!agent) agent = await AgentClient.connect(AGENT);
    const firstMessage = `Will you still be there? ${randomUUID().slice(0, 8)}`;
    await page.fill('#first-message', firstMessage);
    await page.click('#start-button');
    const offer = await agent.offerFor(firstMessage);
    const conversationId = offer.conversation_id;
    await agent.command({ type: 'accept', offer_id: offer.id });
    await waitText(page, '#chat-status', agent.profile.name);

    const listen = new URL(service.url).host;
    agent.close();
    agent = null;
    await stopService();
    await waitText(page, '#chat-status', 'Reconnecting');

    const offlineText = 'Typed while the service was down';
    await page.fill('#composer', offlineText);
    await page.click('#send-button');
    await page.locator('#messages li.msg.visitor.pending', { hasText: offlineText }).waitFor({ timeout: STEP_MS });

    service = await startService(join(workDir, 'chat.db'), listen);
    agent = await AgentClient.connect(AGENT);
    await page.waitForFunction((text) => {
      const items = [...document.querySelectorAll('#messages li.msg.visitor')].filter((li) => li.querySelector('.bubble').textContent === text);
      return items.length === 1 && !items[0].classList.contains('pending');
    }, offlineText, { timeout: 30_000 });
    await waitText(page, '#chat-status', agent.profile.name);

    // The agent has it exactly once: in the snapshot of the live chat or as an event.
    const inSnapshot = (agent.ready.conversations || []).filter((c) => c.summary.id === conversationId)
      .flatMap((c) => c.messages).filter((m) => m.content.kind === 'text' && m.content.text === offlineText);
    if (inSnapshot.length === 0) {
      await agent.event('message', (e) => e.message.conversation_id === conversationId
        && e.message.content.text === offlineText, 'message typed while the service was down');
    }
    const msgs = await http('GET', `/api/v1/conversations/${conversationId}/messages?limit=100`, undefined, agent.token);
    assert.equal(msgs.items.filter((m) => m.content.kind === 'text' && m.content.text === offlineText).length, 1, 'stored once');

    const reply = 'Yes, still here after the restart.';
    await agent.command({ type: 'send_message', conversation_id: conversationId, text: reply });
    await page.locator('#messages li.msg.agent').getByText(reply).waitFor({ timeout: STEP_MS });
    assert.equal(await page.locator('#messages li.msg.visitor', { hasText: firstMessage }).count(), 1);
    await shot(page, '8-after-restart');
    assert.deepEqual(problems, []);
  } catch (err) {
    await shot(page, 'failure-restart').catch(() => {});
    throw new Error(`${err.message}\n--- service log tail ---\n${service.logs().slice(-3000)}`, { cause: err });
  }
});
