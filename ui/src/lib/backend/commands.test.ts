import { describe, expect, it, vi } from 'vitest';
import type { ClientState } from '../bindings/ClientState';
import type { LiveChat } from '../bindings/LiveChat';
import type { Message } from '../bindings/Message';
import type { StateUpdate } from '../bindings/StateUpdate';
import { assemble, commandBackend, type Call, type On } from './commands';

function message(conversation: number, id: number): Message {
  return {
    id,
    conversation_id: conversation,
    author: { role: 'visitor' },
    content: { kind: 'text', text: `message ${id}` },
    created_at: '2026-12-01T10:00:00Z',
  } as Message;
}

function chat(conversation: number, ids: number[], typing = false): LiveChat {
  return {
    summary: { id: conversation } as LiveChat['summary'],
    messages: ids.map((id) => message(conversation, id)),
    pending: [],
    visitor_typing: typing,
  };
}

function state(chats: LiveChat[]): ClientState {
  return { connection: { state: 'connected' }, chats, offers: [], outbox_len: 0 } as ClientState;
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('assemble: whole states from the shell updates', () => {
  const first = state([chat(1, range(1, 300)), chat(2, [301, 302])]);

  it('takes an update that keeps nothing as it is, even with nothing before it', () => {
    expect(assemble(null, { state: first, kept: [] })).toBe(first);
  });

  it('keeps the first messages it had and appends the new ones', () => {
    const update: StateUpdate = {
      state: state([chat(1, [303]), chat(2, [], true)]),
      kept: [
        { conversation_id: 1, count: 300, last_id: 300 },
        { conversation_id: 2, count: 2, last_id: 302 },
      ],
    };
    const next = assemble(first, update)!;
    expect(next.chats[0].messages.map((m) => m.id)).toEqual([...range(1, 300), 303]);
    expect(next.chats[1].visitor_typing).toBe(true);
    // Nothing new in chat 2: the very same array, so the view sees no change there.
    expect(next.chats[1].messages).toBe(first.chats[1].messages);
  });

  it('gives up (null) when what it has does not end where the update says', () => {
    const kept = (count: number, last_id: number): StateUpdate => ({
      state: state([chat(1, [303])]),
      kept: [{ conversation_id: 1, count, last_id }],
    });
    expect(assemble(null, kept(300, 300))).toBeNull();
    expect(assemble(first, kept(301, 301))).toBeNull(); // it has fewer
    expect(assemble(first, kept(300, 299))).toBeNull(); // another message there
    expect(assemble(state([]), kept(300, 300))).toBeNull(); // the chat is unknown
  });
});

describe('commandBackend: onState delivers whole states', () => {
  it('builds on get_state and on each update, and fetches the state when it cannot', async () => {
    let push: (u: StateUpdate) => void = () => {};
    const on = (async (_name: string, cb: (u: StateUpdate) => void) => {
      push = cb;
      return () => {};
    }) as On;
    let served = state([chat(1, [1, 2])]);
    const call = vi.fn(async (cmd: string) => {
      expect(cmd).toBe('get_state');
      return served;
    }) as unknown as Call;
    const b = commandBackend(call, on);
    const got: ClientState[] = [];
    await b.onState((s) => got.push(s));
    expect(await b.getState()).toBe(served);

    push({ state: state([chat(1, [3])]), kept: [{ conversation_id: 1, count: 2, last_id: 2 }] });
    push({ state: state([chat(1, [4])]), kept: [{ conversation_id: 1, count: 3, last_id: 3 }] });
    expect(got.map((s) => s.chats[0].messages.map((m) => m.id))).toEqual([
      [1, 2, 3],
      [1, 2, 3, 4],
    ]);
    expect(call).toHaveBeenCalledTimes(1);

    // An update built on a state this window never had (it missed one): the whole state.
    served = state([chat(1, [1, 2, 3, 4, 5, 6])]);
    push({ state: state([chat(1, [6])]), kept: [{ conversation_id: 1, count: 5, last_id: 5 }] });
    await vi.waitFor(() => expect(got).toHaveLength(3));
    expect(got[2]).toBe(served);
    expect(call).toHaveBeenCalledTimes(2);
    // And the next update builds on that one.
    push({ state: state([chat(1, [7])]), kept: [{ conversation_id: 1, count: 6, last_id: 6 }] });
    expect(got[3].chats[0].messages.map((m) => m.id)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });
});
