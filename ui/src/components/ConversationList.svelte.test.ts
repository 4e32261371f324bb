import { fireEvent, screen, within } from '@testing-library/svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { renderWith, settle, setup } from '../test-utils';
import ConversationList from './ConversationList.svelte';

function rows() {
  return screen.queryAllByRole('option');
}

describe('ConversationList (R4)', () => {
  afterEach(() => vi.useRealTimers());

  it('Active shows live chats newest first with unread badges and status', async () => {
    const { mock, app } = await setup({ liveChats: 0 });
    mock.addLiveChat({ name: 'Older' }, ['hi'], 0);
    await new Promise((r) => setTimeout(r, 5));
    mock.addLiveChat({}, ['Where is my order?'], 3);
    renderWith(ConversationList, app);
    await settle();
    const r = rows();
    expect(r).toHaveLength(2);
    expect(within(r[0]).getByText('-')).toBeInTheDocument(); // no name: dash
    expect(within(r[0]).getByText('Where is my order?')).toBeInTheDocument();
    expect(within(r[0]).getByLabelText('3 unread')).toBeInTheDocument();
    expect(within(r[0]).getByText('Live')).toBeInTheDocument();
    expect(within(r[1]).getByText('Older')).toBeInTheDocument();
    mock.visitorTyping(app.listItems[1].id, true);
    await settle();
    expect(within(rows()[1]).getByText('typing…')).toBeInTheDocument();
  });

  it('All asks the service for scope "all" and shows ended / left-message conversations', async () => {
    const { mock, app } = await setup();
    const list = vi.spyOn(mock, 'listConversations');
    renderWith(ConversationList, app);
    await fireEvent.click(screen.getByRole('button', { name: 'All' }));
    await settle(6);
    expect(list).toHaveBeenCalledWith('all', null, null, 100);
    expect(screen.getByRole('button', { name: 'All' })).toHaveAttribute('aria-pressed', 'true');
    expect(screen.getAllByText('Ended').length).toBeGreaterThan(0);
    expect(screen.getAllByText('Left message').length).toBeGreaterThan(0);
    await fireEvent.click(screen.getByRole('button', { name: /Active/ }));
    await settle();
    expect(rows()).toHaveLength(3);
  });

  it('search is debounced: one service call for a burst of typing', async () => {
    vi.useFakeTimers();
    const { mock, app } = await setup();
    renderWith(ConversationList, app);
    await fireEvent.click(screen.getByRole('button', { name: 'All' }));
    await settle(6);
    const list = vi.spyOn(mock, 'listConversations');
    const box = screen.getByRole('searchbox', { name: 'Search conversations' });
    for (const q of ['s', 'so', 'sof', 'sofi', 'sofia']) {
      await fireEvent.input(box, { target: { value: q } });
      await vi.advanceTimersByTimeAsync(100);
    }
    expect(list).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(300);
    await settle(6);
    expect(list).toHaveBeenCalledTimes(1);
    expect(list).toHaveBeenCalledWith('all', 'sofia', null, 100);
    for (const r of rows()) expect(r.textContent).toMatch(/Sofia/);
    expect(rows().length).toBeGreaterThan(0);
  });

  it('search filters Active locally', async () => {
    const { app } = await setup();
    renderWith(ConversationList, app);
    await settle();
    await fireEvent.input(screen.getByRole('searchbox'), { target: { value: 'jonas' } });
    await settle();
    expect(rows()).toHaveLength(1);
    expect(rows()[0].textContent).toContain('Jonas Weber');
  });

  it('100,000 conversations: few DOM rows, next page fetched by cursor near the end', async () => {
    const { mock, app } = await setup({ historySize: 100_000 });
    const list = vi.spyOn(mock, 'listConversations');
    renderWith(ConversationList, app);
    await fireEvent.click(screen.getByRole('button', { name: 'All' }));
    await settle(6);
    expect(app.pager.items.length).toBe(100);
    expect(rows().length).toBeLessThan(30);
    const viewport = screen.getByRole('listbox');
    viewport.scrollTop = 80 * 68; // near the end of the first page
    await fireEvent.scroll(viewport);
    await settle(6);
    expect(list).toHaveBeenLastCalledWith('all', null, '100', 100);
    expect(app.pager.items.length).toBe(200);
    expect(rows().length).toBeLessThan(40);
    expect(rows()[0]).toHaveAttribute('aria-posinset', String(80 - 6 + 1));
  });

  it('clicking or arrow keys select a conversation', async () => {
    const { app } = await setup();
    renderWith(ConversationList, app);
    await settle();
    await fireEvent.click(rows()[1]);
    expect(app.selectedId).toBe(Number(rows()[1].id.replace('conv-', '')));
    expect(rows()[1]).toHaveAttribute('aria-selected', 'true');
    await fireEvent.keyDown(screen.getByRole('listbox'), { key: 'ArrowDown' });
    expect(rows()[2]).toHaveAttribute('aria-selected', 'true');
  });
});

describe('ConversationList: All stays current', () => {
  it('a chat accepted after loading appears on top; an ended one shows as ended', async () => {
    const { mock, app } = await setup();
    renderWith(ConversationList, app);
    await fireEvent.click(screen.getByRole('button', { name: 'All' }));
    await settle(6);
    const offer = mock.pushOffer({ visitor: { id: 1, name: 'Fresh Visitor' } });
    await app.accept(offer.id);
    await settle(4);
    expect(rows()[0].textContent).toContain('Fresh Visitor');
    expect(within(rows()[0]).getByText('Live')).toBeInTheDocument();
    const firstLive = app.pager.items[0];
    expect(firstLive.status).toBe('live');
    await mock.endChat(firstLive.id);
    await settle(4);
    const row = document.getElementById(`conv-${firstLive.id}`)!;
    expect(within(row).getByText('Ended')).toBeInTheDocument();
  });
});
