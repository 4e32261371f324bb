import { fireEvent, screen } from '@testing-library/svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { renderApp, renderWith, settle, setup } from '../test-utils';
import Header from './Header.svelte';

describe('Header: availability (R1) and connection (R8, R9)', () => {
  afterEach(() => vi.useRealTimers());

  it('shows the effective status; toggling sets an override shown with "until HH:MM"; back to schedule clears it', async () => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date('2026-11-25T10:00:00Z')); // TZ=UTC in tests
    const { mock, app } = await setup();
    const set = vi.spyOn(mock, 'setAvailability');
    renderWith(Header, app);
    await settle();
    const sw = screen.getByRole('switch', { name: 'Available for new chats' });
    expect(sw).toHaveAttribute('aria-checked', 'true');
    expect(screen.getByText('on schedule')).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Back to schedule' })).toBeNull();

    await fireEvent.click(sw);
    await settle(6);
    expect(set).toHaveBeenLastCalledWith('unavailable');
    expect(sw).toHaveAttribute('aria-checked', 'false');
    expect(screen.getByText('Unavailable')).toBeInTheDocument();
    expect(screen.getByText('until 17:00')).toBeInTheDocument();

    await fireEvent.click(screen.getByRole('button', { name: 'Back to schedule' }));
    await settle(6);
    expect(set).toHaveBeenLastCalledWith(null);
    expect(sw).toHaveAttribute('aria-checked', 'true');
    expect(screen.getByText('on schedule')).toBeInTheDocument();
  });

  it('shows agent name and each connection state, with a countdown while reconnecting', async () => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date('2026-11-25T10:00:00Z'));
    const { mock, app } = await setup();
    renderWith(Header, app);
    await settle();
    expect(screen.getByText('Ada Lovelace')).toBeInTheDocument();
    expect(screen.getByText('Connected')).toBeInTheDocument();
    mock.setConnection({ state: 'reconnecting', attempt: 3, next_attempt_at: '2026-11-25T10:00:08Z', last_error: 'connection reset' });
    await settle();
    expect(screen.getByText('Reconnecting in 8 s')).toBeInTheDocument();
    await vi.advanceTimersByTimeAsync(3000);
    expect(screen.getByText('Reconnecting in 5 s')).toBeInTheDocument();
    mock.setConnection({ state: 'offline' });
    await settle();
    expect(screen.getByText('Offline')).toBeInTheDocument();
    mock.setConnection({ state: 'signed_out', reason: 'Session expired' });
    await settle();
    expect(screen.getByText('Signed out')).toBeInTheDocument();
  });

  it('R9: says plainly when available but not receiving chats', async () => {
    const { mock } = await renderApp();
    expect(screen.queryByText(/not receiving|no new chats can reach you/i)).toBeNull();
    mock.setConnection({ state: 'offline' });
    await settle();
    expect(screen.getByRole('alert').textContent).toMatch(/available but offline: no new chats can reach you/);
    mock.setConnection({ state: 'connected' });
    await settle();
    expect(screen.queryByText(/no new chats can reach you/)).toBeNull();
  });

  it('settings, shortcut help and sign out buttons', async () => {
    const { mock, app } = await renderApp();
    const logout = vi.spyOn(mock, 'logout');
    await fireEvent.click(screen.getByRole('button', { name: /Keyboard shortcuts/ }));
    expect(app.dialog).toBe('help');
    app.dialog = null;
    await fireEvent.click(screen.getByRole('button', { name: 'Settings' }));
    expect(app.dialog).toBe('settings');
    app.dialog = null;
    await settle();
    await fireEvent.click(screen.getByRole('button', { name: 'Sign out' }));
    await settle(6);
    expect(logout).toHaveBeenCalled();
    expect(screen.getByRole('heading', { name: 'Sign in to Agent Inbox' })).toBeInTheDocument();
  });
});

describe('Header: signed out while unavailable', () => {
  it('still says so plainly, with a way to sign in again', async () => {
    const { mock, app } = await renderApp();
    await app.setAvailability('unavailable');
    mock.setConnection({ state: 'signed_out', reason: 'session revoked' });
    await settle();
    expect(screen.getByRole('alert').textContent).toContain('You were signed out (session revoked)');
    await fireEvent.click(screen.getByRole('button', { name: 'Sign in again' }));
    await settle(6);
    expect(screen.getByRole('heading', { name: 'Sign in to Agent Inbox' })).toBeInTheDocument();
  });
});
