import { afterEach, describe, expect, it, vi } from 'vitest';
import { webBackend } from './web';

const ORIGIN = 'http://127.0.0.1:4321';

/** A fetch that records each request and answers from `answer`. */
function fakeFetch(answer: (url: string, body: unknown) => { status: number; text: string }) {
  const requests: { url: string; method: string; contentType: string | null; body: unknown }[] = [];
  const f = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = String(input);
    const body = init?.body ? JSON.parse(String(init.body)) : undefined;
    requests.push({ url, method: init?.method ?? 'GET', contentType: new Headers(init?.headers).get('content-type'), body });
    const a = answer(url, body);
    return new Response(a.text, { status: a.status });
  });
  return { f: f as unknown as typeof fetch, requests };
}

/** A WebSocket the test opens, feeds and closes by hand. */
class FakeSocket {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSING = 2;
  static CLOSED = 3;
  static made: FakeSocket[] = [];
  readyState = FakeSocket.CONNECTING;
  onopen: (() => void) | null = null;
  onmessage: ((m: MessageEvent) => void) | null = null;
  onclose: (() => void) | null = null;
  constructor(public url: string) {
    FakeSocket.made.push(this);
  }
  open() {
    this.readyState = FakeSocket.OPEN;
    this.onopen?.();
  }
  push(data: unknown) {
    this.onmessage?.({ data: typeof data === 'string' ? data : JSON.stringify(data) } as MessageEvent);
  }
  close() {
    if (this.readyState === FakeSocket.CLOSED) return;
    this.readyState = FakeSocket.CLOSED;
    this.onclose?.();
  }
}

const Socket = FakeSocket as unknown as typeof WebSocket;

afterEach(() => {
  FakeSocket.made = [];
  vi.useRealTimers();
});

describe('web backend: the bridge commands (same names and arguments as the shell)', () => {
  it('POSTs each command as JSON to /rpc/<command> and resolves with the JSON answer', async () => {
    const { f, requests } = fakeFetch((url) => ({ status: 200, text: JSON.stringify({ answered: url.split('/rpc/')[1] }) }));
    const b = webBackend({ origin: ORIGIN, fetch: f, WebSocket: Socket });
    const settings = { time_zone: 'UTC', schedule: [], calendar: { working_hours: [], meeting_minutes: 30, buffer_minutes: 10 } };
    const prefs = { notify_messages: true, sound: true, presence_follows_lock: false, launch_at_login: false, theme: 'system' as const };
    const calls: [() => Promise<unknown>, string, Record<string, unknown>][] = [
      [() => b.restoreSession(), 'session_restore', {}],
      [() => b.login('http://x', 'a@b', 'pw'), 'login', { serviceUrl: 'http://x', email: 'a@b', password: 'pw' }],
      [() => b.logout(), 'logout', {}],
      [() => b.getState(), 'get_state', {}],
      [() => b.acceptOffer(7), 'accept_offer', { offerId: 7 }],
      [() => b.declineOffer(7), 'decline_offer', { offerId: 7 }],
      [() => b.sendMessage(3, 'hi'), 'send_message', { conversationId: 3, text: 'hi' }],
      [() => b.dismissPending('c1'), 'dismiss_pending', { clientId: 'c1' }],
      [() => b.setTyping(3, true), 'set_typing', { conversationId: 3, typing: true }],
      [() => b.endChat(3), 'end_chat', { conversationId: 3 }],
      [() => b.markRead(3, 9), 'mark_read', { conversationId: 3, messageId: 9 }],
      [() => b.shareCalendar(3, 2), 'share_calendar', { conversationId: 3, calendarAgentId: 2 }],
      [() => b.setAvailability(null), 'set_availability', { status: null }],
      [() => b.listConversations('all', null, null, 50), 'list_conversations', { scope: 'all', query: null, cursor: null, limit: 50 }],
      [() => b.getMessages(3, null, 100), 'get_messages', { conversationId: 3, before: null, limit: 100 }],
      [() => b.getVisitor(3), 'get_visitor', { conversationId: 3 }],
      [() => b.getActivities(3), 'get_activities', { conversationId: 3 }],
      [() => b.getTranscript(3), 'get_transcript', { conversationId: 3 }],
      [() => b.saveTranscript(3), 'save_transcript', { conversationId: 3 }],
      [() => b.listCalendars(), 'list_calendars', {}],
      [() => b.getSlots(2, 7), 'get_slots', { agentId: 2, days: 7 }],
      [() => b.getSettings(), 'get_settings', {}],
      [() => b.putSettings(settings), 'put_settings', { settings }],
      [() => b.getPreferences(), 'get_preferences', {}],
      [() => b.putPreferences(prefs), 'put_preferences', { preferences: prefs }],
      [() => b.reportStartup(1.5e12, { 'agent-inbox:inbox': 120 }), 'report_startup', { timeOrigin: 1.5e12, marks: { 'agent-inbox:inbox': 120 } }],
    ];
    for (const [run, cmd, args] of calls) {
      await expect(run()).resolves.toEqual({ answered: cmd });
      expect(requests.at(-1)).toEqual({ url: `${ORIGIN}/rpc/${cmd}`, method: 'POST', contentType: 'application/json', body: args });
    }
    expect(requests).toHaveLength(calls.length);
  });

  it('resolves a unit answer (null) and rejects with the ErrorBody the bridge sent', async () => {
    const answers: Record<string, { status: number; text: string }> = {
      logout: { status: 200, text: 'null' },
      login: { status: 401, text: JSON.stringify({ code: 'unauthorized', message: 'Wrong email or password' }) },
      accept_offer: { status: 409, text: JSON.stringify({ code: 'conflict', message: 'taken' }) },
      get_state: { status: 502, text: '<html>Bad gateway</html>' },
    };
    const { f } = fakeFetch((url) => answers[url.split('/rpc/')[1]]);
    const b = webBackend({ origin: ORIGIN, fetch: f, WebSocket: Socket });
    await expect(b.logout()).resolves.toBeNull();
    await expect(b.login('u', 'e', 'p')).rejects.toEqual({ code: 'unauthorized', message: 'Wrong email or password' });
    await expect(b.acceptOffer(1)).rejects.toEqual({ code: 'conflict', message: 'taken' });
    await expect(b.getState()).rejects.toEqual({ code: 'internal', message: '<html>Bad gateway</html>' });
  });

  it('rejects with "internal" when the bridge cannot be reached', async () => {
    const f = vi.fn(async () => {
      throw new TypeError('Failed to fetch');
    }) as unknown as typeof fetch;
    const b = webBackend({ origin: ORIGIN, fetch: f, WebSocket: Socket });
    await expect(b.getState()).rejects.toEqual({ code: 'internal', message: 'Failed to fetch' });
  });
});

describe('web backend: events over one WebSocket', () => {
  it('subscribes once the socket is open and hands each listener its event payload', async () => {
    const b = webBackend({ origin: ORIGIN, fetch: fakeFetch(() => ({ status: 200, text: 'null' })).f, WebSocket: Socket });
    const got: unknown[] = [];
    let subscribed = false;
    const first = b.onState((s) => got.push(['state', s])).then((u) => ((subscribed = true), u));
    expect(FakeSocket.made).toHaveLength(1);
    expect(FakeSocket.made[0].url).toBe('ws://127.0.0.1:4321/events');
    await Promise.resolve();
    expect(subscribed).toBe(false); // not before the socket is open
    FakeSocket.made[0].open();
    const unState = await first;
    const unEvent = await b.onEvent((e) => got.push(['event', e]));
    await b.onOpenConversation((id) => got.push(['open', id]));
    expect(FakeSocket.made).toHaveLength(1); // one socket for every listener

    const ws = FakeSocket.made[0];
    ws.push({ event: 'state://changed', payload: { state: { connection: 'connected' }, kept: [] } });
    ws.push({ event: 'core://event', payload: { kind: 'offer_closed' } });
    ws.push({ event: 'window://open-conversation', payload: 12 });
    ws.push({ event: 'something://else', payload: 1 });
    ws.push('not json');
    expect(got).toEqual([
      ['state', { connection: 'connected' }],
      ['event', { kind: 'offer_closed' }],
      ['open', 12],
    ]);

    unState();
    ws.push({ event: 'state://changed', payload: { state: 'ignored', kept: [] } });
    expect(got).toHaveLength(3);
    unEvent();
    expect(ws.readyState).toBe(FakeSocket.OPEN); // one listener left
  });

  it('reopens a socket the bridge closed while someone listens, and closes it when nobody does', async () => {
    vi.useFakeTimers();
    const b = webBackend({ origin: ORIGIN, fetch: fakeFetch(() => ({ status: 200, text: 'null' })).f, WebSocket: Socket, reconnectMs: 500 });
    const got: unknown[] = [];
    const pending = b.onState((s) => got.push(s));
    FakeSocket.made[0].open();
    const unlisten = await pending;

    FakeSocket.made[0].close(); // the bridge dropped it
    expect(FakeSocket.made).toHaveLength(1);
    vi.advanceTimersByTime(499);
    expect(FakeSocket.made).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(FakeSocket.made).toHaveLength(2);
    FakeSocket.made[1].open();
    FakeSocket.made[1].push({ event: 'state://changed', payload: { state: 'fresh', kept: [] } });
    expect(got).toEqual(['fresh']);

    unlisten();
    expect(FakeSocket.made[1].readyState).toBe(FakeSocket.CLOSED);
    vi.advanceTimersByTime(5000);
    expect(FakeSocket.made).toHaveLength(2); // nobody listens: no new socket
  });

  it('rejects the subscription with an ErrorBody when the socket cannot open', async () => {
    const b = webBackend({ origin: ORIGIN, fetch: fakeFetch(() => ({ status: 200, text: 'null' })).f, WebSocket: Socket });
    const pending = b.onState(() => {});
    FakeSocket.made[0].close();
    await expect(pending).rejects.toEqual({ code: 'internal', message: 'Cannot reach the Agent Inbox bridge' });
  });
});
