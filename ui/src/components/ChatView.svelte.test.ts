import { fireEvent, screen } from '@testing-library/svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { renderWith, settle, setup } from '../test-utils';
import ChatView from './ChatView.svelte';

async function liveChat(opts = {}) {
  const { mock, app } = await setup({ liveChats: 0, ...opts });
  const id = mock.addLiveChat({ name: 'Mei Chen' }, ['Hello there', 'Is anyone around?'], 2);
  await settle();
  app.select(id);
  const r = renderWith(ChatView, app);
  await settle();
  const box = screen.getByRole('textbox', { name: 'Reply to Mei Chen' }) as HTMLTextAreaElement;
  return { mock, app, id, box, ...r };
}

describe('ChatView', () => {
  afterEach(() => vi.useRealTimers());

  it('shows the transcript oldest first and marks it read', async () => {
    const { mock, id } = await liveChat();
    const read = vi.spyOn(mock, 'markRead');
    await settle();
    const items = screen.getAllByRole('listitem');
    expect(items[0].textContent).toContain('Hello there');
    expect(items[1].textContent).toContain('Is anyone around?');
    // markRead may already have run before the spy; either way unread is now 0
    expect(mock.snapshot().chats.find((c) => c.summary.id === id)!.summary.unread).toBe(0);
    void read;
  });

  it('Enter sends, Shift+Enter does not; the pending copy shows "Sending…" until delivered', async () => {
    vi.useFakeTimers();
    const { mock, id, box } = await liveChat();
    const send = vi.spyOn(mock, 'sendMessage');
    await fireEvent.input(box, { target: { value: 'line one' } });
    await fireEvent.keyDown(box, { key: 'Enter', shiftKey: true });
    expect(send).not.toHaveBeenCalled();
    await fireEvent.keyDown(box, { key: 'Enter' });
    await settle();
    expect(send).toHaveBeenCalledWith(id, 'line one');
    expect(box.value).toBe('');
    expect(screen.getByText('Sending…')).toBeInTheDocument();
    await vi.advanceTimersByTimeAsync(5);
    await settle();
    expect(screen.queryByText('Sending…')).toBeNull();
    expect(screen.getByText('line one')).toBeInTheDocument();
  });

  it('offline: the message is queued and goes out on reconnect', async () => {
    vi.useFakeTimers();
    const { mock, box } = await liveChat();
    mock.setConnection({ state: 'offline' });
    await settle();
    await fireEvent.input(box, { target: { value: 'are you still there?' } });
    await fireEvent.keyDown(box, { key: 'Enter' });
    await settle();
    expect(screen.getByText('Queued')).toBeInTheDocument();
    expect(screen.getByText(/will send when the connection is back/)).toBeInTheDocument();
    mock.setConnection({ state: 'connected' });
    await vi.advanceTimersByTimeAsync(5);
    await settle();
    expect(screen.queryByText('Queued')).toBeNull();
    expect(screen.getByText('are you still there?')).toBeInTheDocument();
  });

  it('a refused message shows "Failed" with the reason and a Retry', async () => {
    const { mock, id, box } = await liveChat();
    mock.failNextSend({ code: 'rate_limited', message: 'Slow down' });
    await fireEvent.input(box, { target: { value: 'spam' } });
    await fireEvent.keyDown(box, { key: 'Enter' });
    await settle();
    expect(screen.getByText('Failed: Slow down')).toBeInTheDocument();
    const send = vi.spyOn(mock, 'sendMessage');
    await fireEvent.click(screen.getByRole('button', { name: 'Retry' }));
    expect(send).toHaveBeenCalledWith(id, 'spam');
  });

  it('typing: sends setTyping(true) once per burst and false when idle; shows the visitor typing', async () => {
    vi.useFakeTimers();
    const { mock, id, box } = await liveChat();
    const typing = vi.spyOn(mock, 'setTyping');
    for (const v of ['h', 'he', 'hel', 'hell']) {
      await fireEvent.input(box, { target: { value: v } });
      await vi.advanceTimersByTimeAsync(200);
    }
    expect(typing).toHaveBeenCalledTimes(1);
    expect(typing).toHaveBeenLastCalledWith(id, true);
    await vi.advanceTimersByTimeAsync(4100);
    expect(typing).toHaveBeenLastCalledWith(id, false);
    mock.visitorTyping(id, true);
    await settle();
    expect(screen.getByText('Mei Chen is typing…')).toBeInTheDocument();
    mock.visitorSays(id, 'ok!');
    await settle();
    expect(screen.queryByText('Mei Chen is typing…')).toBeNull();
  });

  it('End chat asks first, then ends; the chat becomes read-only', async () => {
    const { mock, id } = await liveChat();
    const end = vi.spyOn(mock, 'endChat');
    await fireEvent.click(screen.getByRole('button', { name: /End chat/ }));
    expect(screen.getByText('End this chat?')).toBeInTheDocument();
    await fireEvent.click(screen.getByRole('button', { name: 'End chat' }));
    await settle(6);
    expect(end).toHaveBeenCalledWith(id);
    expect(screen.getByText('This conversation has ended and is read-only.')).toBeInTheDocument();
    expect(screen.queryByRole('textbox')).toBeNull();
  });

  it('Save transcript reports the saved path', async () => {
    const { mock, app, id } = await liveChat();
    const save = vi.spyOn(mock, 'saveTranscript');
    await fireEvent.click(screen.getByRole('button', { name: /Save transcript/ }));
    await settle();
    expect(save).toHaveBeenCalledWith(id);
    expect(app.toasts[0].text).toContain(`transcript-${id}.txt`);
  });

  it('a past conversation loads through getMessages and is read-only, with booking and calendar cards', async () => {
    const { mock, app } = await setup();
    const get = vi.spyOn(mock, 'getMessages');
    const past = mock.historyItem(0); // id 100000: has a calendar share and a booking
    app.selectedSummary = past;
    app.select(past.id);
    renderWith(ChatView, app);
    await settle(6);
    expect(get).toHaveBeenCalledWith(past.id, null, 100);
    expect(screen.getByText('Calendar shared')).toBeInTheDocument();
    expect(screen.getByText('Meeting booked')).toBeInTheDocument();
    expect(screen.queryByRole('textbox')).toBeNull();
    expect(screen.queryByRole('button', { name: /End chat/ })).toBeNull();
    expect(screen.getByText('This conversation has ended and is read-only.')).toBeInTheDocument();
  });

  it('keeps a draft per conversation', async () => {
    const { mock, app, box, id } = await liveChat();
    const other = mock.addLiveChat({ name: 'Other' }, ['yo']);
    await fireEvent.input(box, { target: { value: 'half-written' } });
    app.select(other);
    await settle();
    expect((screen.getByRole('textbox') as HTMLTextAreaElement).value).toBe('');
    app.select(id);
    await settle();
    expect((screen.getByRole('textbox') as HTMLTextAreaElement).value).toBe('half-written');
  });
});

describe('ChatView read receipts', () => {
  it('marks read only while the window is visible', async () => {
    const { mock, app } = await setup({ liveChats: 0 });
    const read = vi.spyOn(mock, 'markRead');
    const id = mock.addLiveChat({ name: 'Hidden' }, ['one'], 1);
    app.windowVisible = false;
    app.select(id);
    renderWith(ChatView, app);
    await settle(4);
    expect(read).not.toHaveBeenCalled();
    app.windowVisible = true;
    await settle(4);
    expect(read).toHaveBeenCalledWith(id, expect.any(Number));
  });
});
