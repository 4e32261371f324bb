import { fireEvent, screen, within } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import { renderApp, settle } from '../test-utils';

async function openSettings() {
  const ctx = await renderApp();
  await fireEvent.click(screen.getByRole('button', { name: 'Settings' }));
  await settle(6);
  return { ...ctx, dialog: screen.getByRole('dialog', { name: 'Settings' }) };
}

describe('Settings', () => {
  it("shows the service's validation error next to the form and does not close", async () => {
    const { mock, dialog } = await openSettings();
    const put = vi.spyOn(mock, 'putSettings');
    const start = within(dialog).getByLabelText('Live-chat schedule block 1 start');
    await fireEvent.input(start, { target: { value: '18:00' } });
    await fireEvent.click(within(dialog).getByRole('button', { name: 'Save schedule and calendar' }));
    await settle(6);
    expect(put).toHaveBeenCalledTimes(1);
    expect(put.mock.calls[0][0].schedule[0]).toEqual({ day: 'mon', start: '18:00', end: '17:00' });
    const alert = within(dialog).getByRole('alert');
    expect(alert.textContent).toContain('schedule[0]: start 18:00 must be before end 17:00');
    expect(alert.textContent).toContain('invalid_field');
    expect(mock.settings.schedule[0].start).toBe('09:00');
  });

  it('saves time zone, schedule, meeting length and buffer', async () => {
    const { mock, dialog } = await openSettings();
    await fireEvent.input(within(dialog).getByLabelText('Time zone'), { target: { value: 'Europe/Berlin' } });
    await fireEvent.input(within(dialog).getByLabelText('Meeting length (minutes)'), { target: { value: '45' } });
    await fireEvent.input(within(dialog).getByLabelText('Buffer between meetings (minutes)'), { target: { value: '15' } });
    await fireEvent.click(within(dialog).getByRole('button', { name: 'Remove Live-chat schedule block 5' }));
    await fireEvent.click(within(dialog).getByRole('button', { name: 'Save schedule and calendar' }));
    await settle(6);
    expect(within(dialog).getByText('Saved')).toBeInTheDocument();
    expect(mock.settings.time_zone).toBe('Europe/Berlin');
    expect(mock.settings.calendar.meeting_minutes).toBe(45);
    expect(mock.settings.calendar.buffer_minutes).toBe(15);
    expect(mock.settings.schedule).toHaveLength(4);
  });

  it('saves preferences and applies the theme', async () => {
    const { mock, dialog } = await openSettings();
    const put = vi.spyOn(mock, 'putPreferences');
    await fireEvent.click(within(dialog).getByLabelText(/Start Agent Inbox when I log in/));
    await fireEvent.click(within(dialog).getByLabelText(/Play a sound/));
    await fireEvent.change(within(dialog).getByLabelText('Theme'), { target: { value: 'dark' } });
    await fireEvent.click(within(dialog).getByRole('button', { name: 'Save preferences' }));
    await settle(6);
    expect(put).toHaveBeenCalledWith(expect.objectContaining({ launch_at_login: true, sound: false, theme: 'dark' }));
    expect(document.documentElement.dataset.theme).toBe('dark');
    await fireEvent.change(within(dialog).getByLabelText('Theme'), { target: { value: 'system' } });
    await fireEvent.click(within(dialog).getByRole('button', { name: 'Save preferences' }));
    await settle(6);
    expect(document.documentElement.dataset.theme).toBeUndefined();
  });
});
