import { beforeEach, describe, expect, it, vi } from 'vitest';

const invoke = vi.fn();
const listen = vi.fn();
vi.mock('@tauri-apps/api/core', () => ({ invoke: (...a: unknown[]) => invoke(...a) }));
vi.mock('@tauri-apps/api/event', () => ({ listen: (...a: unknown[]) => listen(...a) }));

const { tauriBackend } = await import('./tauri');

describe('tauri backend: command names, argument names, events, errors', () => {
  beforeEach(() => {
    invoke.mockReset().mockResolvedValue(undefined);
    listen.mockReset();
  });

  it('invokes each command with camelCase arguments', async () => {
    const b = tauriBackend();
    const settings = { time_zone: 'UTC', schedule: [], calendar: { working_hours: [], meeting_minutes: 30, buffer_minutes: 10 } };
    const prefs = { notify_messages: true, sound: true, presence_follows_lock: false, launch_at_login: false, theme: 'system' as const };
    const calls: [() => Promise<unknown>, string, Record<string, unknown> | undefined][] = [
      [() => b.restoreSession(), 'session_restore', undefined],
      [() => b.login('http://x', 'a@b', 'pw'), 'login', { serviceUrl: 'http://x', email: 'a@b', password: 'pw' }],
      [() => b.logout(), 'logout', undefined],
      [() => b.getState(), 'get_state', undefined],
      [() => b.acceptOffer(7), 'accept_offer', { offerId: 7 }],
      [() => b.declineOffer(7), 'decline_offer', { offerId: 7 }],
      [() => b.sendMessage(3, 'hi'), 'send_message', { conversationId: 3, text: 'hi' }],
      [() => b.dismissPending('c1'), 'dismiss_pending', { clientId: 'c1' }],
      [() => b.setTyping(3, true), 'set_typing', { conversationId: 3, typing: true }],
      [() => b.endChat(3), 'end_chat', { conversationId: 3 }],
      [() => b.markRead(3, 9), 'mark_read', { conversationId: 3, messageId: 9 }],
      [() => b.shareCalendar(3, 2), 'share_calendar', { conversationId: 3, calendarAgentId: 2 }],
      [() => b.setAvailability(null), 'set_availability', { status: null }],
      [() => b.setAvailability('available'), 'set_availability', { status: 'available' }],
      [() => b.listConversations('all', 'q', 'c', 50), 'list_conversations', { scope: 'all', query: 'q', cursor: 'c', limit: 50 }],
      [() => b.getMessages(3, null, 100), 'get_messages', { conversationId: 3, before: null, limit: 100 }],
      [() => b.getVisitor(3), 'get_visitor', { conversationId: 3 }],
      [() => b.getActivities(3), 'get_activities', { conversationId: 3 }],
      [() => b.getTranscript(3), 'get_transcript', { conversationId: 3 }],
      [() => b.saveTranscript(3), 'save_transcript', { conversationId: 3 }],
      [() => b.listCalendars(), 'list_calendars', undefined],
      [() => b.getSlots(2, 7), 'get_slots', { agentId: 2, days: 7 }],
      [() => b.getSettings(), 'get_settings', undefined],
      [() => b.putSettings(settings), 'put_settings', { settings }],
      [() => b.getPreferences(), 'get_preferences', undefined],
      [() => b.putPreferences(prefs), 'put_preferences', { preferences: prefs }],
      [() => b.reportStartup(1.5e12, { 'agent-inbox:inbox': 120 }), 'report_startup', { timeOrigin: 1.5e12, marks: { 'agent-inbox:inbox': 120 } }],
    ];
    for (const [run, cmd, args] of calls) {
      invoke.mockClear();
      await run();
      expect(invoke).toHaveBeenCalledWith(cmd, args);
    }
  });

  it('listens to state://changed, core://event and window://open-conversation and passes the payload', async () => {
    const unlisten = vi.fn();
    listen.mockImplementation(async (_name: string, handler: (e: { payload: unknown }) => void) => {
      const hello = { hello: _name };
      handler({ payload: _name === 'state://changed' ? { state: hello, kept: [] } : hello });
      return unlisten;
    });
    const b = tauriBackend();
    const got: unknown[] = [];
    const u1 = await b.onState((s) => got.push(s));
    await b.onEvent((e) => got.push(e));
    await b.onOpenConversation((id) => got.push(id));
    expect(listen.mock.calls.map((c) => c[0])).toEqual(['state://changed', 'core://event', 'window://open-conversation']);
    expect(got).toEqual([{ hello: 'state://changed' }, { hello: 'core://event' }, { hello: 'window://open-conversation' }]);
    u1();
    expect(unlisten).toHaveBeenCalled();
  });

  it('rejects with an ErrorBody: passes ErrorBody through, normalises anything else to "internal"', async () => {
    const b = tauriBackend();
    invoke.mockRejectedValueOnce({ code: 'unauthorized', message: 'Wrong email or password' });
    await expect(b.login('u', 'e', 'p')).rejects.toEqual({ code: 'unauthorized', message: 'Wrong email or password' });
    invoke.mockRejectedValueOnce('command get_state not found');
    await expect(b.getState()).rejects.toEqual({ code: 'internal', message: 'command get_state not found' });
    invoke.mockRejectedValueOnce(new Error('boom'));
    await expect(b.getState()).rejects.toEqual({ code: 'internal', message: 'boom' });
    invoke.mockRejectedValueOnce('{"code":"conflict","message":"taken"}');
    await expect(b.acceptOffer(1)).rejects.toEqual({ code: 'conflict', message: 'taken' });
    invoke.mockRejectedValueOnce({ code: 'made_up', message: 'x' });
    await expect(b.getState()).rejects.toEqual({ code: 'internal', message: 'Something went wrong' });
  });
});
