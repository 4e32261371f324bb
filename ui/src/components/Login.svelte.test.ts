import { fireEvent, screen, within } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import { renderApp, settle } from '../test-utils';

describe('Login', () => {
  it('remembers the service URL and email; shows errors by code; signs in', async () => {
    const { mock } = await renderApp({ signedIn: false });
    const url = screen.getByLabelText('Service URL') as HTMLInputElement;
    expect(url.value).toBe('http://127.0.0.1:8080');
    expect((screen.getByLabelText('Email') as HTMLInputElement).value).toBe('ada@example.com');
    const login = vi.spyOn(mock, 'login');

    await fireEvent.input(screen.getByLabelText('Password'), { target: { value: 'wrong' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    await settle(6);
    expect(login).toHaveBeenCalledWith('http://127.0.0.1:8080', 'ada@example.com', 'wrong');
    let alert = screen.getByRole('alert');
    expect(alert.textContent).toContain('Wrong email or password.');
    expect(alert.textContent).toContain('Error code: unauthorized');

    await fireEvent.input(url, { target: { value: 'chat.example.com' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    await settle(6);
    alert = screen.getByRole('alert');
    expect(alert.textContent).toContain('Check the service URL.');
    expect(alert.textContent).toContain('bad_request');

    await fireEvent.input(url, { target: { value: 'http://127.0.0.1:8080' } });
    await fireEvent.input(screen.getByLabelText('Password'), { target: { value: 'demo1234' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    await settle(10);
    expect(screen.getByRole('switch', { name: 'Available for new chats' })).toBeInTheDocument();
    expect(screen.getByRole('navigation', { name: 'Conversations' })).toBeInTheDocument();
  });

  it('a restored session goes straight to the inbox', async () => {
    const { mock, app } = await renderApp({ signedIn: true });
    expect(screen.queryByLabelText('Password')).toBeNull();
    expect(within(screen.getByRole('banner')).getByText('Ada Lovelace')).toBeInTheDocument();

    // The window's start-up marks reach the shell's log once per page, however often the
    // inbox shows again (sign out, sign in).
    // After the inbox's first frame (an animation frame, then a task).
    await vi.waitFor(() => expect(mock.startupReports).toHaveLength(1));
    const [report] = mock.startupReports;
    expect(report.timeOrigin).toBe(performance.timeOrigin);
    for (const step of ['session', 'state', 'inbox', 'painted']) {
      expect(report.marks[`agent-inbox:${step}`]).toBeGreaterThanOrEqual(0);
    }
    expect(report.marks['agent-inbox:inbox']).toBeGreaterThanOrEqual(report.marks['agent-inbox:state']);
    expect(report.marks['agent-inbox:painted']).toBeGreaterThanOrEqual(report.marks['agent-inbox:inbox']);
    const inboxMarks = performance.getEntriesByName('agent-inbox:inbox').length;
    await app.logout();
    await settle(6);
    await app.login('http://127.0.0.1:8080', 'ada@example.com', 'demo1234');
    await settle(10);
    expect(screen.getByRole('navigation', { name: 'Conversations' })).toBeInTheDocument();
    // Marked (and reported) synchronously or never: no second mark, no second report.
    expect(performance.getEntriesByName('agent-inbox:inbox')).toHaveLength(inboxMarks);
    expect(mock.startupReports).toHaveLength(1);
  });
});
