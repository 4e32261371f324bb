// An in-memory stand-in for the desktop shell + chat service, with realistic demo data.
// `npm run dev` uses it outside Tauri (simulate: offers, visitor messages, typing and bookings
// arrive by themselves); tests drive it by hand through the `push*`/`visitor*` helpers.
// Everything crosses a JSON round trip, as it would over Tauri's IPC.
import type { Activity } from '../bindings/Activity';
import type { ActivityKind } from '../bindings/ActivityKind';
import type { ActivityList } from '../bindings/ActivityList';
import type { AgentId } from '../bindings/AgentId';
import type { AgentProfile } from '../bindings/AgentProfile';
import type { AgentSettings } from '../bindings/AgentSettings';
import type { Availability } from '../bindings/Availability';
import type { AvailabilityStatus } from '../bindings/AvailabilityStatus';
import type { CalendarSummary } from '../bindings/CalendarSummary';
import type { ClientState } from '../bindings/ClientState';
import type { ConnectionStatus } from '../bindings/ConnectionStatus';
import type { ConversationId } from '../bindings/ConversationId';
import type { ConversationScope } from '../bindings/ConversationScope';
import type { ConversationSummary } from '../bindings/ConversationSummary';
import type { CoreEvent } from '../bindings/CoreEvent';
import type { ErrorBody } from '../bindings/ErrorBody';
import type { LiveChat } from '../bindings/LiveChat';
import type { Message } from '../bindings/Message';
import type { MessageContent } from '../bindings/MessageContent';
import type { MessageId } from '../bindings/MessageId';
import type { MessagePage } from '../bindings/MessagePage';
import type { Offer } from '../bindings/Offer';
import type { OfferId } from '../bindings/OfferId';
import type { Preferences } from '../bindings/Preferences';
import type { Slot } from '../bindings/Slot';
import type { SlotList } from '../bindings/SlotList';
import type { TimeBlock } from '../bindings/TimeBlock';
import type { VisitorInfo } from '../bindings/VisitorInfo';
import type { Backend, ConversationPage, SessionInfo } from './types';

export interface MockOptions {
  /** Offers, visitor messages, typing and bookings arrive by themselves. Off in tests. */
  simulate?: boolean;
  /** How many ended conversations "All" holds (generated on demand, so 100,000 is cheap). */
  historySize?: number;
  /** Start signed in (restoreSession answers with a session). */
  signedIn?: boolean;
  /** Delay of every answer and of message delivery, in ms. 0 = next macrotask. */
  latencyMs?: number;
  /** How long an offer lasts (R2: 45 s). */
  offerSeconds?: number;
  /** Live chats at start. */
  liveChats?: number;
}

const MIN = 60_000;
const DAY = 24 * 60 * MIN;

export const DEMO_AGENTS: (AgentProfile & { time_zone: string })[] = [
  { id: 1, name: 'Ada Lovelace', email: 'ada@example.com', time_zone: 'Europe/London' },
  { id: 2, name: 'Grace Hopper', email: 'grace@example.com', time_zone: 'America/New_York' },
  { id: 3, name: 'Linus Torvalds', email: 'linus@example.com', time_zone: 'Europe/Helsinki' },
  { id: 4, name: 'Margaret Hamilton', email: 'margaret@example.com', time_zone: 'UTC' },
];
export const DEMO_PASSWORD = 'demo1234';

type VisitorSeed = Omit<VisitorInfo, 'id'>;
const VISITORS: VisitorSeed[] = [
  { name: 'Sofia Martínez', job_title: 'Head of Operations', email: 'sofia.martinez@northwind.io', phone: '+34 612 345 678', crm_status: 'Qualified lead' },
  { name: 'Jonas Weber', job_title: 'IT Manager', email: 'j.weber@contoso.de', crm_status: 'Customer' },
  {},
  { name: 'Priya Natarajan', job_title: 'Procurement Lead', email: 'priya@acme-logistics.com', phone: '+44 20 7946 0958', crm_status: 'Opportunity' },
  { name: "Liam O'Connor", email: 'liam.oconnor@fabrikam.ie' },
  { name: 'Mei Chen', job_title: 'Product Designer', email: 'mei.chen@tailspin.com', phone: '+1 415 555 0142', crm_status: 'Trial' },
  { name: 'Olusegun Adeyemi', job_title: 'CTO', email: 'olu@brightpath.ng', crm_status: 'Customer' },
  { email: 'h.schmidt@example.org' },
  { name: 'Mateo Rossi', job_title: 'Store Manager', phone: '+39 02 1234 5678' },
  { name: 'Aiko Tanaka', job_title: 'Marketing Director', email: 'aiko.tanaka@lumen.jp', phone: '+81 3 1234 5678', crm_status: 'Qualified lead' },
  { name: 'Noah Williams', email: 'noah.w@contoso.com', crm_status: 'Churned' },
  { name: 'Fatima Al-Sayed', job_title: 'Finance Analyst', email: 'fatima@gulfcap.ae' },
  { name: 'Lucas Dubois', job_title: 'Founder', email: 'lucas@atelier-dubois.fr', phone: '+33 1 23 45 67 89', crm_status: 'Opportunity' },
  { name: 'Emma Johansson', job_title: 'HR Business Partner', email: 'emma.johansson@nordic.se' },
];

const OPENERS = [
  'Hi! Do you offer volume discounts for teams over 50 people?',
  'Hello, I was double charged on my last invoice. Can you help?',
  'Is there a way to export all our data to CSV?',
  "We're comparing vendors — can I book a demo for next week?",
  'The integration with our CRM stopped syncing this morning.',
  'Can I change the billing contact on our account?',
  'Does the Pro plan include SSO?',
  'Hi, quick question about your data retention policy.',
];
const VISITOR_LINES = [
  'Thanks, that makes sense.',
  'Could you send me a link to the documentation?',
  'We are on the Business plan, if that matters.',
  'One more thing: does it work with Outlook calendars?',
  'Great — what would the next step be?',
  'Let me check with my manager and get back to you.',
  'Perfect, thank you for the quick answer!',
];
const AGENT_LINES = [
  'Happy to help! Let me look into that for you.',
  'Good question — yes, that is included in your plan.',
  "I've checked your account and everything looks in order now.",
  'Would a short call with our solutions team be useful?',
];
const LAST_LINES = [
  'Thanks for your help, have a great day!',
  'Okay, I will try that and come back if it fails.',
  'Left a message: please call me back tomorrow morning.',
  'Booked a meeting for Thursday.',
  'That solved it, thanks.',
  'Can you send the quote to my email?',
];

const json = <T>(v: T): T => (v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T));

export class MockBackend implements Backend {
  readonly opts: Required<MockOptions>;
  private signedIn: boolean;
  private me: AgentProfile = DEMO_AGENTS[0];
  private serviceUrl = 'http://127.0.0.1:8080';
  private connection: ConnectionStatus = { state: 'connected' };
  private override: { status: AvailabilityStatus; until: string } | null = null;
  private chats: LiveChat[] = [];
  private offers: { offer: Offer; answering: boolean }[] = [];
  private ended: { summary: ConversationSummary; messages: Message[] }[] = [];
  private stateListeners = new Set<(s: ClientState) => void>();
  private eventListeners = new Set<(e: CoreEvent) => void>();
  private openListeners = new Set<(id: ConversationId | null) => void>();
  private timers = new Set<ReturnType<typeof setTimeout>>();
  private intervals: ReturnType<typeof setInterval>[] = [];
  private nextMessageId = 5_000_000;
  private nextOfferId = 1;
  private nextConversationId = 1;
  private nextClientId = 1;
  private visitorCursor = 0;
  private failNext: ErrorBody | null = null;
  settings: AgentSettings = {
    time_zone: 'Europe/London',
    schedule: weekdays('09:00', '17:00'),
    calendar: { working_hours: weekdays('09:00', '17:00'), meeting_minutes: 30, buffer_minutes: 10 },
  };
  preferences: Preferences = {
    service_url: 'http://127.0.0.1:8080',
    email: 'ada@example.com',
    notify_messages: true,
    sound: true,
    presence_follows_lock: true,
    launch_at_login: false,
    theme: 'system',
  };

  constructor(options: MockOptions = {}) {
    this.opts = {
      simulate: options.simulate ?? false,
      historySize: options.historySize ?? 500,
      signedIn: options.signedIn ?? true,
      latencyMs: options.latencyMs ?? 0,
      offerSeconds: options.offerSeconds ?? 45,
      liveChats: options.liveChats ?? 3,
    };
    this.signedIn = this.opts.signedIn;
    if (!this.signedIn) this.connection = { state: 'signed_out', reason: 'Not signed in' };
    this.seedLiveChats(this.opts.liveChats);
    if (this.opts.simulate && this.signedIn) this.startSimulation();
  }

  // ---- plumbing -------------------------------------------------------------------------

  private later(ms: number, fn: () => void) {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private answer<T>(value: T | (() => T)): Promise<T> {
    return new Promise((resolve, reject) => {
      const run = () => {
        try {
          resolve(json(typeof value === 'function' ? (value as () => T)() : value));
        } catch (e) {
          reject(e);
        }
      };
      if (this.opts.latencyMs > 0) this.later(this.opts.latencyMs, run);
      else queueMicrotask(run);
    });
  }

  private fail(code: ErrorBody['code'], message: string): Promise<never> {
    return Promise.reject({ code, message } satisfies ErrorBody);
  }

  private requireSession(): ErrorBody | null {
    return this.signedIn ? null : { code: 'unauthorized', message: 'Not signed in' };
  }

  snapshot(): ClientState {
    return json({
      connection: this.connection,
      agent: this.signedIn ? this.me : undefined,
      availability: this.signedIn ? this.availability() : undefined,
      chats: [...this.chats].sort((a, b) => b.summary.last_activity_at.localeCompare(a.summary.last_activity_at)),
      offers: this.offers,
      outbox_len: this.chats.reduce((n, c) => n + c.pending.filter((p) => !p.failed).length, 0),
    });
  }

  private emitState() {
    const s = this.snapshot();
    for (const cb of this.stateListeners) cb(json(s));
  }

  private emit(e: CoreEvent) {
    for (const cb of this.eventListeners) cb(json(e));
  }

  /** Stops the simulation and every pending timer. */
  dispose() {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const i of this.intervals) clearInterval(i);
    this.intervals = [];
  }

  // ---- demo data ------------------------------------------------------------------------

  private nextVisitor(): VisitorInfo {
    const i = this.visitorCursor++;
    return { id: 100 + i, ...VISITORS[i % VISITORS.length] };
  }

  private seedLiveChats(n: number) {
    const now = Date.now();
    for (let i = 0; i < n; i++) {
      const visitor = this.nextVisitor();
      const id = this.nextConversationId++;
      const start = now - (n - i) * 7 * MIN;
      const messages: Message[] = [];
      const add = (author: Message['author'], text: string, at: number) =>
        messages.push(this.message(id, author, { kind: 'text', text }, at));
      add({ role: 'system' }, 'Chat started', start);
      add({ role: 'visitor' }, OPENERS[(i + 1) % OPENERS.length], start + 10_000);
      add(this.agentAuthor(), AGENT_LINES[i % AGENT_LINES.length], start + 60_000);
      add({ role: 'visitor' }, VISITOR_LINES[i % VISITOR_LINES.length], start + 2 * MIN);
      if (i === n - 1) add({ role: 'visitor' }, VISITOR_LINES[(i + 3) % VISITOR_LINES.length], start + 3 * MIN);
      const last = messages[messages.length - 1];
      this.chats.push({
        summary: {
          id,
          status: 'live',
          visitor,
          agent: { id: this.me.id, name: this.me.name },
          created_at: iso(start),
          last_activity_at: last.created_at,
          last_message: textOf(last.content),
          unread: i === n - 1 ? 2 : 0,
        },
        messages,
        pending: [],
        visitor_typing: false,
      });
    }
  }

  private agentAuthor(agent: AgentProfile = this.me): Message['author'] {
    return { role: 'agent', agent_id: agent.id, name: agent.name };
  }

  private message(conversation_id: ConversationId, author: Message['author'], content: MessageContent, at = Date.now(), client_id?: string): Message {
    return { id: this.nextMessageId++, conversation_id, author, content, created_at: iso(at), client_id };
  }

  /** The i-th ended conversation of the generated history (0 = newest). Pure: same i, same answer. */
  historyItem(i: number): ConversationSummary {
    const seed = VISITORS[(i * 3 + 1) % VISITORS.length];
    const agent = DEMO_AGENTS[i % DEMO_AGENTS.length];
    const base = Math.floor(Date.now() / MIN) * MIN - 25 * MIN;
    const last = base - i * 17 * MIN;
    const leftMessage = i % 9 === 4;
    return {
      id: 100_000 + i,
      status: leftMessage ? 'left_message' : 'ended',
      visitor: { id: 10_000 + i, ...seed },
      agent: leftMessage ? undefined : { id: agent.id, name: agent.name },
      created_at: iso(last - 12 * MIN),
      last_activity_at: iso(last),
      last_message: leftMessage ? LAST_LINES[2] : LAST_LINES[i % LAST_LINES.length],
      unread: leftMessage && i < 40 ? 1 : 0,
      ended_at: iso(last),
      end_reason: leftMessage ? undefined : i % 3 === 0 ? 'visitor' : i % 5 === 0 ? 'inactivity' : 'agent',
    };
  }

  private historyMessages(summary: ConversationSummary): Message[] {
    const start = Date.parse(summary.created_at);
    const id = summary.id;
    const agent = DEMO_AGENTS.find((a) => a.id === summary.agent?.id) ?? DEMO_AGENTS[1];
    let mid = id * 100;
    const m = (author: Message['author'], content: MessageContent, at: number): Message => ({
      id: mid++,
      conversation_id: id,
      author,
      content,
      created_at: iso(at),
    });
    if (summary.status === 'left_message') {
      return [m({ role: 'visitor' }, { kind: 'text', text: summary.last_message ?? '' }, start)];
    }
    const k = id % OPENERS.length;
    const out = [
      m({ role: 'system' }, { kind: 'notice', text: 'Chat started' }, start),
      m({ role: 'visitor' }, { kind: 'text', text: OPENERS[k] }, start + 20_000),
      m(this.agentAuthor(agent), { kind: 'text', text: AGENT_LINES[k % AGENT_LINES.length] }, start + 80_000),
      m({ role: 'visitor' }, { kind: 'text', text: VISITOR_LINES[k % VISITOR_LINES.length] }, start + 3 * MIN),
      m(this.agentAuthor(agent), { kind: 'text', text: AGENT_LINES[(k + 1) % AGENT_LINES.length] }, start + 5 * MIN),
    ];
    if (id % 4 === 0) {
      out.push(m(this.agentAuthor(agent), { kind: 'calendar_share', calendar_agent_id: agent.id, calendar_agent_name: agent.name }, start + 6 * MIN));
      const s = start + 2 * DAY;
      out.push(
        m({ role: 'system' }, {
          kind: 'booking',
          booking: { id: id, calendar_agent_id: agent.id, calendar_agent_name: agent.name, visitor_id: summary.visitor.id, conversation_id: id, start: iso(s), end: iso(s + 30 * MIN) },
        }, start + 8 * MIN),
      );
    }
    out.push(m({ role: 'visitor' }, { kind: 'text', text: summary.last_message ?? 'Thanks!' }, Date.parse(summary.last_activity_at) - 30_000));
    out.push(m({ role: 'system' }, { kind: 'notice', text: 'Chat ended' }, Date.parse(summary.last_activity_at)));
    return out;
  }

  private findSummary(id: ConversationId): ConversationSummary | null {
    const live = this.chats.find((c) => c.summary.id === id);
    if (live) return live.summary;
    const ended = this.ended.find((c) => c.summary.id === id);
    if (ended) return ended.summary;
    const i = id - 100_000;
    if (i >= 0 && i < this.opts.historySize) return this.historyItem(i);
    return null;
  }

  private availability(): Availability {
    const now = new Date();
    const scheduled: AvailabilityStatus = 'available';
    if (this.override && Date.parse(this.override.until) <= now.getTime()) this.override = null;
    if (this.override) {
      return { effective: this.override.status, source: 'override', scheduled, override_status: this.override.status, override_until: this.override.until };
    }
    return { effective: scheduled, source: 'schedule', scheduled, next_change: this.boundary() };
  }

  /** Next block boundary (17:00 local) or midnight, whichever comes first. */
  private boundary(): string {
    const now = new Date();
    const five = new Date(now);
    five.setHours(17, 0, 0, 0);
    if (five.getTime() > now.getTime()) return five.toISOString();
    const midnight = new Date(now);
    midnight.setHours(24, 0, 0, 0);
    return midnight.toISOString();
  }

  // ---- test and simulation controls ---------------------------------------------------

  /** A new offer, as routing would send it. */
  pushOffer(partial: Partial<Offer> & { visitor?: VisitorInfo } = {}): Offer {
    const visitor = partial.visitor ?? this.nextVisitor();
    const now = Date.now();
    const offer: Offer = {
      id: this.nextOfferId++,
      conversation_id: this.nextConversationId++,
      visitor,
      first_message: 'first_message' in partial ? partial.first_message : OPENERS[visitor.id % OPENERS.length],
      created_at: iso(now),
      expires_at: iso(now + this.opts.offerSeconds * 1000),
      ...partial,
    };
    this.offers.push({ offer, answering: false });
    this.later(Date.parse(offer.expires_at) - now, () => this.closeOffer(offer.id, 'expired'));
    this.emit({ kind: 'offer_received', offer });
    this.emitState();
    return offer;
  }

  closeOffer(id: OfferId, reason: 'expired' | 'withdrawn' | 'declined' | 'accepted') {
    const i = this.offers.findIndex((o) => o.offer.id === id);
    if (i < 0) return;
    this.offers.splice(i, 1);
    this.emit({ kind: 'offer_closed', offer_id: id, reason });
    this.emitState();
  }

  visitorTyping(conversationId: ConversationId, typing: boolean) {
    const chat = this.chats.find((c) => c.summary.id === conversationId);
    if (!chat) return;
    chat.visitor_typing = typing;
    this.emitState();
  }

  visitorSays(conversationId: ConversationId, text: string): Message | null {
    const chat = this.chats.find((c) => c.summary.id === conversationId);
    if (!chat) return null;
    const msg = this.message(conversationId, { role: 'visitor' }, { kind: 'text', text });
    chat.messages.push(msg);
    chat.visitor_typing = false;
    chat.summary.last_message = text;
    chat.summary.last_activity_at = msg.created_at;
    chat.summary.unread += 1;
    this.emit({ kind: 'message_received', message: msg });
    this.emitState();
    return msg;
  }

  /** The visitor books the first free slot of the shared calendar (R7). */
  visitorBooks(conversationId: ConversationId, calendarAgentId: AgentId) {
    const chat = this.chats.find((c) => c.summary.id === conversationId);
    if (!chat) return;
    const agent = DEMO_AGENTS.find((a) => a.id === calendarAgentId) ?? DEMO_AGENTS[0];
    const slot = this.slots(calendarAgentId, 7)[2];
    const msg = this.message(conversationId, { role: 'system' }, {
      kind: 'booking',
      booking: { id: this.nextMessageId, calendar_agent_id: agent.id, calendar_agent_name: agent.name, visitor_id: chat.summary.visitor.id, conversation_id: conversationId, start: slot.start, end: slot.end },
    });
    chat.messages.push(msg);
    chat.summary.last_message = `Meeting booked with ${agent.name}`;
    chat.summary.last_activity_at = msg.created_at;
    this.emit({ kind: 'message_received', message: msg });
    this.emitState();
  }

  /** A live chat with the given visitor and visitor messages (tests, demos). */
  addLiveChat(visitor: Omit<VisitorInfo, 'id'> & { id?: number }, texts: string[] = [], unread = 0): ConversationId {
    const id = this.nextConversationId++;
    const v: VisitorInfo = { id: visitor.id ?? 900 + id, ...visitor };
    const messages = texts.map((t, i) => this.message(id, { role: 'visitor' }, { kind: 'text', text: t }, Date.now() - (texts.length - i) * 1000));
    const last = messages[messages.length - 1];
    this.chats.push({
      summary: {
        id,
        status: 'live',
        visitor: v,
        agent: { id: this.me.id, name: this.me.name },
        created_at: iso(Date.now() - 60_000),
        last_activity_at: last?.created_at ?? iso(Date.now()),
        last_message: last ? textOf(last.content) : undefined,
        unread,
      },
      messages,
      pending: [],
      visitor_typing: false,
    });
    this.emitState();
    return id;
  }

  setConnection(status: ConnectionStatus) {
    this.connection = status;
    this.emit({ kind: 'connection', status });
    this.emitState();
    if (status.state === 'connected') {
      for (const chat of this.chats) for (const p of chat.pending) if (!p.failed) this.deliver(p.client_id);
    }
  }

  /** The service refuses the next message sent (it stays as a failed pending message). */
  failNextSend(error: ErrorBody) {
    this.failNext = error;
  }

  openConversation(id: ConversationId | null) {
    for (const cb of this.openListeners) cb(id);
  }

  private startSimulation() {
    this.later(1500, () => this.pushOffer());
    this.intervals.push(
      setInterval(() => {
        if (this.offers.length === 0 && this.connection.state === 'connected' && this.chats.length < 8) this.pushOffer();
      }, 50_000),
    );
    let n = 0;
    this.intervals.push(
      setInterval(() => {
        if (this.chats.length === 0) return;
        const chat = this.chats[n++ % this.chats.length];
        const id = chat.summary.id;
        this.visitorTyping(id, true);
        this.later(2500, () => this.visitorSays(id, VISITOR_LINES[n % VISITOR_LINES.length]));
      }, 14_000),
    );
  }

  private deliver(clientId: string) {
    this.later(Math.max(this.opts.latencyMs * 3, 1), () => {
      if (this.connection.state !== 'connected') return;
      for (const chat of this.chats) {
        const i = chat.pending.findIndex((p) => p.client_id === clientId && !p.failed);
        if (i < 0) continue;
        const [p] = chat.pending.splice(i, 1);
        const msg = this.message(chat.summary.id, this.agentAuthor(), { kind: 'text', text: p.text }, Date.now(), p.client_id);
        chat.messages.push(msg);
        chat.summary.last_message = p.text;
        chat.summary.last_activity_at = msg.created_at;
        this.emitState();
      }
    });
  }

  private slots(agentId: AgentId, days: number): Slot[] {
    const cal = this.calendar(agentId);
    const out: Slot[] = [];
    const day0 = new Date();
    day0.setHours(0, 0, 0, 0);
    for (let d = 1; d <= days; d++) {
      const date = new Date(day0.getTime() + d * DAY);
      const wd = date.getDay();
      if (wd === 0 || wd === 6) continue;
      for (let t = 9 * 60; t + cal.meeting_minutes <= 17 * 60; t += cal.meeting_minutes + cal.buffer_minutes) {
        if ((d * 31 + t + agentId * 7) % 5 === 0) continue; // already booked
        const s = date.getTime() + t * MIN;
        out.push({ start: iso(s), end: iso(s + cal.meeting_minutes * MIN) });
      }
    }
    return out;
  }

  private calendar(agentId: AgentId): CalendarSummary {
    const a = DEMO_AGENTS.find((x) => x.id === agentId);
    if (!a) throw { code: 'not_found', message: `No calendar for agent ${agentId}` } satisfies ErrorBody;
    const mine = a.id === this.me.id;
    return {
      agent_id: a.id,
      agent_name: a.name,
      time_zone: mine ? this.settings.time_zone : a.time_zone,
      meeting_minutes: mine ? this.settings.calendar.meeting_minutes : 30 + (a.id % 2) * 15,
      buffer_minutes: mine ? this.settings.calendar.buffer_minutes : 15,
    };
  }

  // ---- Backend --------------------------------------------------------------------------

  restoreSession(): Promise<SessionInfo | null> {
    return this.answer(() => (this.signedIn ? { service_url: this.serviceUrl, email: this.me.email, agent: this.me } : null));
  }

  login(serviceUrl: string, email: string, password: string): Promise<SessionInfo> {
    let url: URL;
    try {
      url = new URL(serviceUrl.trim());
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('scheme');
    } catch {
      return this.fail('bad_request', 'The service URL must start with http:// or https://');
    }
    const agent = DEMO_AGENTS.find((a) => a.email === email.trim().toLowerCase());
    if (url.hostname.endsWith('.invalid')) return this.fail('internal', `Could not reach ${url.origin}: connection refused`);
    if (!agent || password !== DEMO_PASSWORD) return this.fail('unauthorized', 'Wrong email or password');
    this.signedIn = true;
    this.me = { id: agent.id, name: agent.name, email: agent.email };
    this.serviceUrl = url.origin;
    this.preferences = { ...this.preferences, service_url: url.origin, email: agent.email };
    this.connection = { state: 'connecting' };
    if (this.chats.length === 0) this.seedLiveChats(this.opts.liveChats);
    this.later(Math.max(this.opts.latencyMs * 4, 1), () => this.setConnection({ state: 'connected' }));
    if (this.opts.simulate) this.startSimulation();
    return this.answer(() => ({ service_url: this.serviceUrl, email: agent.email, agent: this.me }));
  }

  logout(): Promise<void> {
    this.signedIn = false;
    this.dispose();
    this.chats = [];
    this.offers = [];
    this.connection = { state: 'signed_out', reason: 'Signed out' };
    this.emitState();
    return this.answer(undefined);
  }

  getState(): Promise<ClientState> {
    return this.answer(() => this.snapshot());
  }

  async onState(cb: (s: ClientState) => void): Promise<() => void> {
    this.stateListeners.add(cb);
    return () => this.stateListeners.delete(cb);
  }

  async onEvent(cb: (e: CoreEvent) => void): Promise<() => void> {
    this.eventListeners.add(cb);
    return () => this.eventListeners.delete(cb);
  }

  async onOpenConversation(cb: (id: ConversationId | null) => void): Promise<() => void> {
    this.openListeners.add(cb);
    return () => this.openListeners.delete(cb);
  }

  acceptOffer(offerId: OfferId): Promise<void> {
    const o = this.offers.find((x) => x.offer.id === offerId);
    if (!o) return this.fail('not_found', 'This chat request is no longer available');
    if (this.chats.length >= 10) return this.fail('limit_reached', 'You already have 10 live chats');
    o.answering = true;
    this.emitState();
    return this.answer(() => {
      const { offer } = o;
      this.offers = this.offers.filter((x) => x.offer.id !== offerId);
      const now = Date.now();
      const messages: Message[] = [this.message(offer.conversation_id, { role: 'system' }, { kind: 'notice', text: `${this.me.name} joined the chat` }, now)];
      if (offer.first_message) messages.unshift(this.message(offer.conversation_id, { role: 'visitor' }, { kind: 'text', text: offer.first_message }, Date.parse(offer.created_at)));
      this.chats.push({
        summary: {
          id: offer.conversation_id,
          status: 'live',
          visitor: offer.visitor,
          agent: { id: this.me.id, name: this.me.name },
          created_at: offer.created_at,
          last_activity_at: iso(now),
          last_message: offer.first_message,
          unread: 0,
        },
        messages,
        pending: [],
        visitor_typing: false,
      });
      this.emit({ kind: 'offer_closed', offer_id: offerId, reason: 'accepted' });
      this.emit({ kind: 'conversation_started', conversation_id: offer.conversation_id });
      this.emitState();
    });
  }

  declineOffer(offerId: OfferId): Promise<void> {
    const o = this.offers.find((x) => x.offer.id === offerId);
    if (!o) return this.fail('not_found', 'This chat request is no longer available');
    o.answering = true;
    this.emitState();
    return this.answer(() => this.closeOffer(offerId, 'declined'));
  }

  sendMessage(conversationId: ConversationId, text: string): Promise<string> {
    const chat = this.chats.find((c) => c.summary.id === conversationId);
    if (!chat) return this.fail('not_found', 'This chat is not live');
    if (text.trim() === '') return this.fail('invalid_field', 'text: must not be empty');
    const client_id = `mock-${this.nextClientId++}`;
    const failed = this.failNext ?? undefined;
    this.failNext = null;
    chat.pending.push({ client_id, conversation_id: conversationId, text, queued_at: iso(Date.now()), failed });
    this.emitState();
    if (!failed && this.connection.state === 'connected') this.deliver(client_id);
    return this.answer(client_id);
  }

  dismissPending(clientId: string): Promise<void> {
    for (const chat of this.chats) chat.pending = chat.pending.filter((p) => p.client_id !== clientId || !p.failed);
    this.emitState();
    return this.answer(undefined);
  }

  setTyping(): Promise<void> {
    return this.answer(undefined);
  }

  endChat(conversationId: ConversationId): Promise<void> {
    const i = this.chats.findIndex((c) => c.summary.id === conversationId);
    if (i < 0) return this.fail('not_found', 'This chat is not live');
    return this.answer(() => {
      const [chat] = this.chats.splice(i, 1);
      const now = iso(Date.now());
      chat.messages.push(this.message(conversationId, { role: 'system' }, { kind: 'notice', text: 'Chat ended' }));
      this.ended.unshift({ summary: { ...chat.summary, status: 'ended', ended_at: now, end_reason: 'agent', last_activity_at: now, unread: 0 }, messages: chat.messages });
      this.emit({ kind: 'conversation_ended', conversation_id: conversationId, reason: 'agent' });
      this.emitState();
    });
  }

  markRead(conversationId: ConversationId, _messageId: MessageId): Promise<void> {
    const chat = this.chats.find((c) => c.summary.id === conversationId);
    if (chat && chat.summary.unread > 0) {
      chat.summary.unread = 0;
      this.emitState();
    }
    return this.answer(undefined);
  }

  shareCalendar(conversationId: ConversationId, calendarAgentId: AgentId): Promise<void> {
    const chat = this.chats.find((c) => c.summary.id === conversationId);
    if (!chat) return this.fail('not_found', 'This chat is not live');
    const agent = DEMO_AGENTS.find((a) => a.id === calendarAgentId);
    if (!agent) return this.fail('not_found', `No calendar for agent ${calendarAgentId}`);
    return this.answer(() => {
      chat.messages.push(this.message(conversationId, this.agentAuthor(), { kind: 'calendar_share', calendar_agent_id: agent.id, calendar_agent_name: agent.name }));
      chat.summary.last_message = `Shared ${agent.name}'s calendar`;
      chat.summary.last_activity_at = iso(Date.now());
      this.emitState();
      if (this.opts.simulate) this.later(6000, () => this.visitorBooks(conversationId, agent.id));
    });
  }

  setAvailability(status: AvailabilityStatus | null): Promise<void> {
    this.override = status === null ? null : { status, until: this.boundary() };
    return this.answer(() => this.emitState());
  }

  listConversations(scope: ConversationScope, query: string | null, cursor: string | null, limit: number): Promise<ConversationPage> {
    const denied = this.requireSession();
    if (denied) return Promise.reject(denied);
    return this.answer(() => {
      const q = (query ?? '').trim().toLowerCase();
      const match = (s: ConversationSummary) =>
        q === '' || [s.visitor.name, s.visitor.email, s.last_message].some((f) => f?.toLowerCase().includes(q));
      const live = this.snapshot().chats.map((c) => c.summary).filter(match);
      if (scope === 'active') return { items: live };
      // Cursor: offset into live + ended + generated history.
      let offset = cursor ? Number(cursor) : 0;
      const items: ConversationSummary[] = [];
      const fixed = [...live, ...this.ended.map((e) => e.summary).filter(match)];
      while (offset < fixed.length && items.length < limit) items.push(fixed[offset++]);
      let scanned = 0;
      while (items.length < limit && offset - fixed.length < this.opts.historySize && scanned < 200_000) {
        const s = this.historyItem(offset - fixed.length);
        offset++;
        scanned++;
        if (match(s)) items.push(s);
      }
      const more = offset - fixed.length < this.opts.historySize;
      return { items, next_cursor: more ? String(offset) : undefined };
    });
  }

  getMessages(conversationId: ConversationId, before: MessageId | null, limit: number): Promise<MessagePage> {
    const live = this.chats.find((c) => c.summary.id === conversationId);
    const ended = this.ended.find((c) => c.summary.id === conversationId);
    const summary = this.findSummary(conversationId);
    if (!summary) return this.fail('not_found', 'No such conversation');
    const all = live?.messages ?? ended?.messages ?? this.historyMessages(summary);
    const upto = before === null ? all.length : all.findIndex((m) => m.id === before);
    const from = Math.max(0, upto - limit);
    return this.answer({ items: all.slice(from, upto), older_cursor: from > 0 ? all[from].id : undefined });
  }

  getVisitor(conversationId: ConversationId): Promise<VisitorInfo> {
    const s = this.findSummary(conversationId) ?? this.offers.find((o) => o.offer.conversation_id === conversationId)?.offer;
    if (!s) return this.fail('not_found', 'No such conversation');
    return this.answer(s.visitor);
  }

  getActivities(conversationId: ConversationId): Promise<ActivityList> {
    const s = this.findSummary(conversationId);
    if (!s) return this.fail('not_found', 'No such conversation');
    const now = Date.now();
    const v = s.visitor.id;
    const kinds: [ActivityKind, string, number][] = [
      ['page_visit', 'Visited /pricing', 0.02],
      ['chat', 'Chat with Grace Hopper', 3],
      ['email_open', 'Opened “Your Q3 product update”', 6],
      ['form_fill', 'Filled in “Request a demo”', 11],
      ['meeting_booked', 'Meeting booked with Linus Torvalds', 19],
      ['page_visit', 'Visited /docs/integrations/crm', 26],
      ['message_left', 'Left a message: “Please call me back”', 40],
      ['chat', 'Chat with Ada Lovelace', 58],
      ['page_visit', 'Visited /', 83],
    ];
    const items: Activity[] = kinds
      .filter((_, i) => (v + i) % 4 !== 3)
      .map(([kind, title, daysAgo], i) => ({
        id: v * 100 + i,
        kind,
        title,
        occurred_at: iso(now - daysAgo * DAY - (v % 7) * 13 * MIN),
        conversation_id: kind === 'chat' ? 100_000 + ((v * 13 + i) % Math.max(1, this.opts.historySize)) : undefined,
      }));
    return this.answer({ items, since: iso(now - 90 * DAY) });
  }

  async getTranscript(conversationId: ConversationId): Promise<string> {
    const page = await this.getMessages(conversationId, null, 1000);
    const s = this.findSummary(conversationId);
    const who = s?.visitor.name ?? 'Visitor';
    const lines = page.items.map((m) => {
      const t = new Date(m.created_at);
      const stamp = `${t.toISOString().slice(0, 10)} ${t.toISOString().slice(11, 16)}`;
      const author = m.author.role === 'visitor' ? who : m.author.role === 'agent' ? m.author.name : '—';
      return `[${stamp}] ${author}: ${textOf(m.content)}`;
    });
    return lines.join('\n');
  }

  saveTranscript(conversationId: ConversationId): Promise<string> {
    if (!this.findSummary(conversationId)) return this.fail('not_found', 'No such conversation');
    return this.answer(`/home/agent/Documents/Agent Inbox/transcript-${conversationId}.txt`);
  }

  listCalendars(): Promise<CalendarSummary[]> {
    return this.answer(() => DEMO_AGENTS.map((a) => this.calendar(a.id)));
  }

  getSlots(agentId: AgentId, days: number): Promise<SlotList> {
    if (!DEMO_AGENTS.some((a) => a.id === agentId)) return this.fail('not_found', `No calendar for agent ${agentId}`);
    return this.answer(() => ({ calendar: this.calendar(agentId), slots: this.slots(agentId, days) }));
  }

  getSettings(): Promise<AgentSettings> {
    return this.answer(() => this.settings);
  }

  putSettings(s: AgentSettings): Promise<AgentSettings> {
    const problem = validateSettings(s);
    if (problem) return this.fail('invalid_field', problem);
    this.settings = json(s);
    return this.answer(() => this.settings);
  }

  getPreferences(): Promise<Preferences> {
    return this.answer(() => this.preferences);
  }

  putPreferences(p: Preferences): Promise<Preferences> {
    this.preferences = json(p);
    return this.answer(() => this.preferences);
  }

  /** What the window reported of its start (the shell logs it; here tests can read it). */
  startupReports: { timeOrigin: number; marks: Record<string, number> }[] = [];

  reportStartup(timeOrigin: number, marks: Record<string, number>): Promise<void> {
    this.startupReports.push({ timeOrigin, marks: { ...marks } });
    return this.answer(() => undefined);
  }
}

function weekdays(start: string, end: string): TimeBlock[] {
  return (['mon', 'tue', 'wed', 'thu', 'fri'] as const).map((day) => ({ day, start, end }));
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function textOf(c: MessageContent): string {
  switch (c.kind) {
    case 'text':
    case 'notice':
      return c.text;
    case 'calendar_share':
      return `Shared ${c.calendar_agent_name}'s calendar`;
    case 'booking':
      return `Meeting booked with ${c.booking.calendar_agent_name}`;
  }
}

const HHMM = /^([01]\d|2[0-3]):[0-5]\d$|^24:00$/;

/** The same checks the service makes, with messages in the service's style. */
export function validateSettings(s: AgentSettings): string | null {
  try {
    new Intl.DateTimeFormat('en', { timeZone: s.time_zone });
  } catch {
    return `time_zone: unknown time zone "${s.time_zone}"`;
  }
  const blocks = (name: string, list: TimeBlock[]) => {
    for (const [i, b] of list.entries()) {
      if (!HHMM.test(b.start)) return `${name}[${i}].start: expected HH:MM, got "${b.start}"`;
      if (!HHMM.test(b.end)) return `${name}[${i}].end: expected HH:MM, got "${b.end}"`;
      if (b.start >= b.end) return `${name}[${i}]: start ${b.start} must be before end ${b.end}`;
    }
    return null;
  };
  const sched = blocks('schedule', s.schedule);
  if (sched) return sched;
  const hours = blocks('calendar.working_hours', s.calendar.working_hours);
  if (hours) return hours;
  if (!Number.isInteger(s.calendar.meeting_minutes) || s.calendar.meeting_minutes < 5 || s.calendar.meeting_minutes > 480)
    return 'calendar.meeting_minutes: must be between 5 and 480';
  if (!Number.isInteger(s.calendar.buffer_minutes) || s.calendar.buffer_minutes < 0 || s.calendar.buffer_minutes > 240)
    return 'calendar.buffer_minutes: must be between 0 and 240';
  return null;
}
