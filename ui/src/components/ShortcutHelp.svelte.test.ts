import { fireEvent, screen, within } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import { renderApp, settle } from '../test-utils';
import { SHORTCUTS } from './ShortcutHelp.svelte';

const alt = (code: string, key = code.replace(/^Key|^Digit/, '').toLowerCase()) => ({ key, code, altKey: true });

describe('Keyboard (R10)', () => {
  it('Ctrl+/ and ? open the help listing every shortcut; Escape closes it', async () => {
    await renderApp();
    await fireEvent.keyDown(window, { key: '/', code: 'Slash', ctrlKey: true });
    await settle();
    const dialog = screen.getByRole('dialog', { name: 'Keyboard shortcuts' });
    for (const s of SHORTCUTS) expect(within(dialog).getByText(s.action)).toBeInTheDocument();
    for (const a of ['Accept the chat request', 'Decline the chat request', 'Next / previous conversation', 'Focus the reply box', 'Share a calendar in the live chat'])
      expect(within(dialog).getByText(a)).toBeInTheDocument();
    await fireEvent.keyDown(dialog, { key: 'Escape' });
    await settle();
    expect(screen.queryByRole('dialog')).toBeNull();
    await fireEvent.keyDown(document.body, { key: '?' });
    await settle();
    expect(screen.getByRole('dialog', { name: 'Keyboard shortcuts' })).toBeInTheDocument();
  });

  it('"?" typed in the reply box is text, not the help', async () => {
    await renderApp();
    const box = screen.getByRole('textbox');
    await fireEvent.keyDown(box, { key: '?' });
    expect(screen.queryByRole('dialog')).toBeNull();
  });

  it('Alt+A accepts and Alt+D declines the offer in the banner', async () => {
    const { mock } = await renderApp();
    const accept = vi.spyOn(mock, 'acceptOffer');
    const decline = vi.spyOn(mock, 'declineOffer');
    const o1 = mock.pushOffer({ visitor: { id: 1, name: 'One' } });
    const o2 = mock.pushOffer({ visitor: { id: 2, name: 'Two' } });
    await settle();
    await fireEvent.keyDown(window, alt('KeyD'));
    await settle(6);
    expect(decline).toHaveBeenCalledWith(o1.id);
    await fireEvent.keyDown(window, alt('KeyA'));
    await settle(6);
    expect(accept).toHaveBeenCalledWith(o2.id);
    expect(screen.getByRole('heading', { name: 'Two', level: 2 })).toBeInTheDocument(); // now the open chat
    expect(document.activeElement).toBe(screen.getByRole('textbox'));
  });

  it('Alt+↓/↑ move through the list, Alt+C focuses the composer, Alt+K opens the calendar, Alt+2 shows All', async () => {
    const { app } = await renderApp();
    const ids = app.listItems.map((s) => s.id);
    expect(app.selectedId).toBe(ids[0]);
    await fireEvent.keyDown(window, alt('ArrowDown', 'ArrowDown'));
    expect(app.selectedId).toBe(ids[1]);
    await fireEvent.keyDown(window, alt('ArrowDown', 'ArrowDown'));
    await fireEvent.keyDown(window, alt('ArrowUp', 'ArrowUp'));
    expect(app.selectedId).toBe(ids[1]);
    (document.activeElement as HTMLElement | null)?.blur();
    await fireEvent.keyDown(window, alt('KeyC'));
    await settle();
    expect(document.activeElement).toBe(screen.getByRole('textbox'));
    await fireEvent.keyDown(window, alt('KeyK'));
    await settle(6);
    expect(screen.getByRole('dialog', { name: 'Share a calendar' })).toBeInTheDocument();
    await fireEvent.keyDown(screen.getByRole('dialog'), { key: 'Escape' });
    await fireEvent.keyDown(window, alt('Digit2'));
    await settle(6);
    expect(app.scope).toBe('all');
  });

  it('has landmarks and announces new visitor messages politely', async () => {
    const { mock, app } = await renderApp();
    expect(screen.getByRole('banner')).toBeInTheDocument();
    expect(screen.getByRole('navigation', { name: 'Conversations' })).toBeInTheDocument();
    expect(screen.getByRole('main')).toBeInTheDocument();
    expect(screen.getByRole('complementary', { name: 'Visitor details' })).toBeInTheDocument();
    mock.visitorSays(app.listItems[1].id, 'Is the discount still valid?');
    await settle();
    expect(screen.getByTestId('announce-polite').textContent).toContain('New message from');
    expect(screen.getByTestId('announce-polite').textContent).toContain('Is the discount still valid?');
  });
});
