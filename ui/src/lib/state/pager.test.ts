import { describe, expect, it } from 'vitest';
import type { Backend } from '../backend/types';
import type { ConversationSummary } from '../bindings/ConversationSummary';
import { ConversationPager } from './pager.svelte';

const conv = (id: number): ConversationSummary => ({
  id,
  status: 'ended',
  visitor: { id },
  created_at: '2026-01-01T00:00:00Z',
  last_activity_at: '2026-01-01T00:00:00Z',
  unread: 0,
});

/** A backend whose list answers the given pages in turn (ids), then an empty last page. */
function pages(...ids: number[][]): Backend {
  let n = 0;
  return {
    listConversations: async () => {
      const items = (ids[n] ?? []).map(conv);
      n++;
      return { items, next_cursor: n < ids.length ? `c${n}` : undefined };
    },
  } as unknown as Backend;
}

describe('ConversationPager', () => {
  it('appends pages, skips a conversation listed twice, and knows where each one is', async () => {
    const pager = new ConversationPager(pages([5, 4, 3], [3, 2, 1]), 3);
    await pager.reset('');
    await pager.loadMore();
    expect(pager.items.map((c) => c.id)).toEqual([5, 4, 3, 2, 1]);
    expect(pager.done).toBe(true);
    expect(pager.indexOf(5)).toBe(0);
    expect(pager.indexOf(2)).toBe(3);
    expect(pager.indexOf(9)).toBe(-1);
    pager.patch({ ...conv(2), unread: 4 });
    expect(pager.items[3].unread).toBe(4);
  });

  it('forgets positions when it starts over', async () => {
    const pager = new ConversationPager(pages([1, 2], [7]), 2);
    await pager.reset('');
    expect(pager.indexOf(1)).toBe(0);
    await pager.reset('x');
    expect(pager.items.map((c) => c.id)).toEqual([7]);
    expect(pager.indexOf(1)).toBe(-1);
    expect(pager.indexOf(7)).toBe(0);
  });
});
