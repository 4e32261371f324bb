import { fireEvent, screen, within } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import { renderApp, settle } from '../test-utils';

describe('CalendarPicker (R7)', () => {
  it('pick own or another agent calendar, preview slots, send; the booking then appears in the chat', async () => {
    const { mock, app } = await renderApp();
    const slots = vi.spyOn(mock, 'getSlots');
    const share = vi.spyOn(mock, 'shareCalendar');
    const chatId = app.selectedId!;
    await fireEvent.click(screen.getByRole('button', { name: 'Share a calendar (Alt+K)' }));
    await settle(6);
    const dialog = screen.getByRole('dialog', { name: 'Share a calendar' });
    const radios = within(dialog).getAllByRole('radio');
    expect(radios).toHaveLength(4);
    expect(within(dialog).getByLabelText(/My calendar \(Ada Lovelace\)/)).toBeChecked();
    expect(slots).toHaveBeenLastCalledWith(1, 7);
    expect(within(dialog).getByText(/free slots$/)).toBeInTheDocument();

    await fireEvent.click(within(dialog).getByLabelText(/Grace Hopper/));
    await settle(6);
    expect(slots).toHaveBeenLastCalledWith(2, 7);

    await fireEvent.click(within(dialog).getByRole('button', { name: 'Send calendar' }));
    await settle(6);
    expect(share).toHaveBeenCalledWith(chatId, 2);
    expect(screen.queryByRole('dialog')).toBeNull();
    expect(screen.getByText("Grace Hopper's calendar was sent. The visitor can pick a time.")).toBeInTheDocument();

    mock.visitorBooks(chatId, 2);
    await settle();
    const main = screen.getByRole('main');
    expect(within(main).getByText('Meeting booked')).toBeInTheDocument();
    expect(within(main).getByText(/with Grace Hopper$/)).toBeInTheDocument();
  });

  it('shows the error and stays open when sharing fails; Escape closes', async () => {
    const { mock } = await renderApp();
    vi.spyOn(mock, 'shareCalendar').mockRejectedValueOnce({ code: 'forbidden', message: 'Not your chat' });
    await fireEvent.keyDown(window, { key: 'k', code: 'KeyK', altKey: true });
    await settle(6);
    const dialog = screen.getByRole('dialog', { name: 'Share a calendar' });
    await fireEvent.click(within(dialog).getByRole('button', { name: 'Send calendar' }));
    await settle(6);
    expect(within(dialog).getByRole('alert').textContent).toContain('Not your chat (forbidden)');
    await fireEvent.keyDown(dialog, { key: 'Escape' });
    await settle();
    expect(screen.queryByRole('dialog')).toBeNull();
  });
});
