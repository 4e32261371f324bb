import { describe, expect, it } from 'vitest';
import type { ClientState } from '../bindings/ClientState';
import type { LiveChat } from '../bindings/LiveChat';
import type { Message } from '../bindings/Message';
import { shareUnchanged } from './share';

const msg = (id: number, text: string, conversation_id = 1): Message => ({
  id,
  conversation_id,
  author: { role: 'visitor' },
  content: { kind: 'text', text },
  created_at: `2026-01-01T00:00:${String(id).padStart(2, '0')}Z`,
});

const chat = (id: number, messages: Message[], unread = 0): LiveChat => ({
  summary: {
    id,
    status: 'live',
    visitor: { id: 10 + id, name: `Visitor ${id}` },
    created_at: '2026-01-01T00:00:00Z',
    last_activity_at: '2026-01-01T00:00:00Z',
    unread,
  },
  messages,
  pending: [],
  visitor_typing: false,
});

const state = (chats: LiveChat[]): ClientState => ({ connection: { state: 'connected' }, chats, offers: [], outbox_len: 0 });
// What the shell sends: a fresh parse, so no object is shared with the previous state.
const fresh = <T>(x: T): T => JSON.parse(JSON.stringify(x));

describe('shareUnchanged', () => {
  it('keeps the objects of messages already shown and takes the new ones', () => {
    const prev = state([chat(1, [msg(1, 'a'), msg(2, 'b')])]);
    const next = shareUnchanged(prev, fresh(state([chat(1, [msg(1, 'a'), msg(2, 'b'), msg(3, 'c')], 1)])));
    const [was, now] = [prev.chats[0], next.chats[0]];
    expect(now.messages[0]).toBe(was.messages[0]);
    expect(now.messages[1]).toBe(was.messages[1]);
    expect(now.messages[2]).toEqual(msg(3, 'c'));
    expect(now.summary.unread).toBe(1);
    expect(now.summary.visitor).toBe(was.summary.visitor);
    expect(next).toEqual(state([chat(1, [msg(1, 'a'), msg(2, 'b'), msg(3, 'c')], 1)]));
  });

  it('returns the previous message array when no message changed', () => {
    const prev = state([chat(1, [msg(1, 'a')])]);
    const next = shareUnchanged(prev, fresh(state([chat(1, [msg(1, 'a')], 0)])));
    expect(next.chats[0].messages).toBe(prev.chats[0].messages);
  });

  it('takes a message whose content differs, and a changed visitor', () => {
    const prev = state([chat(1, [msg(1, 'a'), msg(2, 'b')])]);
    const changed = fresh(state([chat(1, [msg(1, 'a'), msg(2, 'B')])]));
    changed.chats[0].summary.visitor.email = 'v@example.com';
    const next = shareUnchanged(prev, changed);
    expect(next.chats[0].messages[0]).toBe(prev.chats[0].messages[0]);
    expect(next.chats[0].messages[1]).not.toBe(prev.chats[0].messages[1]);
    expect(next.chats[0].messages[1].content).toEqual({ kind: 'text', text: 'B' });
    expect(next.chats[0].summary.visitor.email).toBe('v@example.com');
  });

  it('matches by id when messages were inserted, and leaves new chats alone', () => {
    const prev = state([chat(1, [msg(1, 'a'), msg(3, 'c')])]);
    const incoming = fresh(state([chat(2, [msg(7, 'x', 2)]), chat(1, [msg(1, 'a'), msg(2, 'b'), msg(3, 'c')])]));
    const next = shareUnchanged(prev, incoming);
    expect(next.chats[0]).toBe(incoming.chats[0]);
    expect(next.chats[1].messages[0]).toBe(prev.chats[0].messages[0]);
    expect(next.chats[1].messages[2]).toBe(prev.chats[0].messages[1]);
    expect(next.chats[1].messages.map((m) => m.id)).toEqual([1, 2, 3]);
  });
});
