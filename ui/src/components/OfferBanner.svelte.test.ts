import { fireEvent, screen } from '@testing-library/svelte';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { renderApp, renderWith, settle, setup } from '../test-utils';
import OfferBanner from './OfferBanner.svelte';

describe('OfferBanner (R3)', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date('2026-11-25T10:00:00Z'));
  });
  afterEach(() => vi.useRealTimers());

  it('shows visitor name, first message and a countdown from expires_at', async () => {
    const { mock, app } = await setup();
    renderWith(OfferBanner, app);
    mock.pushOffer({ visitor: { id: 1, name: 'Sofia Martínez' }, first_message: 'Do you ship to Spain?' });
    await settle();
    expect(screen.getByRole('heading', { name: 'Sofia Martínez' })).toBeInTheDocument();
    expect(screen.getByText('Do you ship to Spain?')).toBeInTheDocument();
    expect(screen.getByLabelText('45 seconds left to answer')).toBeInTheDocument();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(screen.getByLabelText('35 seconds left to answer')).toBeInTheDocument();
    await vi.advanceTimersByTimeAsync(34_500);
    expect(screen.getByLabelText('1 seconds left to answer')).toBeInTheDocument();
  });

  it('says "A visitor" when the name is missing and shows "+N more" for several offers', async () => {
    const { mock, app } = await setup();
    renderWith(OfferBanner, app);
    mock.pushOffer({ visitor: { id: 1 }, first_message: undefined });
    mock.pushOffer({ visitor: { id: 2, name: 'B' } });
    mock.pushOffer({ visitor: { id: 3, name: 'C' } });
    await settle();
    expect(screen.getByRole('heading', { name: 'A visitor' })).toBeInTheDocument();
    expect(screen.getByText('No message yet')).toBeInTheDocument();
    expect(screen.getByText('+2 more')).toBeInTheDocument();
  });

  it('Accept calls acceptOffer once, selects the new chat, and the banner leaves with the offer', async () => {
    const { mock, app } = await setup();
    const accept = vi.spyOn(mock, 'acceptOffer');
    renderWith(OfferBanner, app);
    const offer = mock.pushOffer({ visitor: { id: 1, name: 'Jonas' } });
    await settle();
    await fireEvent.click(screen.getByRole('button', { name: /Accept/ }));
    await settle(6);
    expect(accept).toHaveBeenCalledTimes(1);
    expect(accept).toHaveBeenCalledWith(offer.id);
    expect(screen.queryByRole('heading', { name: 'Jonas' })).toBeNull();
    expect(app.selectedId).toBe(offer.conversation_id);
  });

  it('Decline calls declineOffer and the banner disappears', async () => {
    const { mock, app } = await setup();
    const decline = vi.spyOn(mock, 'declineOffer');
    renderWith(OfferBanner, app);
    const offer = mock.pushOffer({ visitor: { id: 1, name: 'Jonas' } });
    await settle();
    await fireEvent.click(screen.getByRole('button', { name: /Decline/ }));
    await settle(6);
    expect(decline).toHaveBeenCalledWith(offer.id);
    expect(screen.queryByText('Chat request')).toBeNull();
  });

  it('shows the next offer when the first expires, and announces offers and expiry', async () => {
    const { mock } = await renderApp();
    mock.pushOffer({ visitor: { id: 1, name: 'First' }, first_message: 'Hello' });
    await vi.advanceTimersByTimeAsync(5_000);
    mock.pushOffer({ visitor: { id: 2, name: 'Second' } });
    await settle();
    expect(screen.getByTestId('announce-assertive').textContent).toContain('Chat request from Second');
    expect(screen.getByRole('heading', { name: 'First' })).toBeInTheDocument();
    await vi.advanceTimersByTimeAsync(40_100);
    expect(screen.queryByRole('heading', { name: 'First' })).toBeNull();
    expect(screen.getByRole('heading', { name: 'Second' })).toBeInTheDocument();
    expect(screen.getByTestId('announce-assertive').textContent).toContain('Chat request from First expired');
    await vi.advanceTimersByTimeAsync(5_000);
    expect(screen.queryByText('Chat request')).toBeNull();
  });

  it('shows the service error when an answer fails (offer already taken)', async () => {
    const { mock, app } = await setup();
    vi.spyOn(mock, 'acceptOffer').mockRejectedValueOnce({ code: 'conflict', message: 'This chat was already answered' });
    renderWith(OfferBanner, app);
    mock.pushOffer({ visitor: { id: 1, name: 'X' } });
    await settle();
    await fireEvent.click(screen.getByRole('button', { name: /Accept/ }));
    await settle();
    expect(screen.getByRole('alert').textContent).toContain('This chat was already answered (conflict)');
  });
});
