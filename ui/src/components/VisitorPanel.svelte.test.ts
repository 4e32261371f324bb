import { fireEvent, screen, within } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import { renderWith, settle, setup } from '../test-utils';
import VisitorPanel from './VisitorPanel.svelte';

function value(label: string): string {
  const dt = screen.getByText(label, { selector: 'dt' });
  return dt.nextElementSibling!.textContent!;
}

describe('VisitorPanel (R5, R6)', () => {
  it('shows name, job title, email, phone, CRM status with "-" for anything missing', async () => {
    const { mock, app } = await setup({ liveChats: 0 });
    const id = mock.addLiveChat({ name: 'Jonas Weber', email: 'j.weber@contoso.de' }, ['hi']);
    app.select(id);
    renderWith(VisitorPanel, app);
    await settle(6);
    expect(value('Name')).toBe('Jonas Weber');
    expect(value('Job title')).toBe('-');
    expect(value('Email')).toBe('j.weber@contoso.de');
    expect(value('Phone')).toBe('-');
    expect(value('CRM status')).toBe('-');
  });

  it('a visitor with nothing given shows five dashes', async () => {
    const { mock, app } = await setup({ liveChats: 0 });
    const id = mock.addLiveChat({}, ['hi']);
    app.select(id);
    renderWith(VisitorPanel, app);
    await settle(6);
    for (const l of ['Name', 'Job title', 'Email', 'Phone', 'CRM status']) expect(value(l)).toBe('-');
  });

  it('a meeting booked in the live chat reloads the history (R7)', async () => {
    const { mock, app } = await setup({ liveChats: 0 });
    const id = mock.addLiveChat({ name: 'A' }, ['hi']);
    const chat = { id: 1, kind: 'chat' as const, title: 'Live chat', occurred_at: '2026-11-24T09:00:00Z', conversation_id: id };
    const meeting = { id: 2, kind: 'meeting_booked' as const, title: 'Meeting booked with Grace', occurred_at: '2026-11-24T09:05:00Z' };
    const activities = vi
      .spyOn(mock, 'getActivities')
      .mockResolvedValueOnce({ since: '2026-08-27T00:00:00Z', items: [chat] })
      .mockResolvedValueOnce({ since: '2026-08-27T00:00:00Z', items: [meeting, chat] });
    app.select(id);
    renderWith(VisitorPanel, app);
    await settle(6);
    const section = screen.getByRole('region', { name: /Activity/ });
    expect(within(section).getAllByRole('listitem')).toHaveLength(1);
    expect(section.textContent).not.toContain('Meeting booked');
    mock.visitorBooks(id, (await mock.listCalendars())[0].agent_id);
    await settle(6);
    expect(activities).toHaveBeenCalledTimes(2);
    expect(within(section).getAllByRole('listitem')).toHaveLength(2);
    expect(section.textContent).toContain('Meeting booked with Grace');
  });

  it('lists activities with labels and dates; a chat opens its transcript in place', async () => {
    const { mock, app } = await setup({ liveChats: 0 });
    const id = mock.addLiveChat({ name: 'A' }, ['hi']);
    vi.spyOn(mock, 'getActivities').mockResolvedValue({
      since: '2026-08-27T00:00:00Z',
      items: [
        { id: 1, kind: 'page_visit', title: 'Visited /pricing', occurred_at: '2026-11-24T09:00:00Z' },
        { id: 2, kind: 'chat', title: 'Chat with Grace', occurred_at: '2026-11-20T09:00:00Z', conversation_id: 100003 },
        { id: 3, kind: 'meeting_booked', title: 'Meeting with Linus', occurred_at: '2026-10-01T09:00:00Z' },
      ],
    });
    const transcript = vi.spyOn(mock, 'getTranscript').mockResolvedValue('[2026-11-20 09:00] A: hello\n[2026-11-20 09:01] Grace: hi');
    app.select(id);
    renderWith(VisitorPanel, app);
    await settle(6);
    const section = screen.getByRole('region', { name: /Activity/ });
    const items = within(section).getAllByRole('listitem');
    expect(items).toHaveLength(3);
    expect(items[0].textContent).toContain('Page visit');
    expect(items[0].textContent).toContain('Visited /pricing');
    expect(items[0].querySelector('time')!.getAttribute('datetime')).toBe('2026-11-24T09:00:00Z');
    expect(items[2].textContent).toContain('Meeting booked');
    const show = within(items[1]).getByRole('button', { name: /Show transcript/ });
    expect(show).toHaveAttribute('aria-expanded', 'false');
    await fireEvent.click(show);
    await settle(4);
    expect(transcript).toHaveBeenCalledWith(100003);
    expect(within(items[1]).getByText(/Grace: hi/)).toBeInTheDocument();
    await fireEvent.click(within(items[1]).getByRole('button', { name: /Hide transcript/ }));
    expect(within(items[1]).queryByText(/Grace: hi/)).toBeNull();
  });
});
