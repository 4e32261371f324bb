import { fireEvent, render, screen } from '@testing-library/svelte';
import { createRawSnippet } from 'svelte';
import { describe, expect, it, vi } from 'vitest';
import { settle } from '../test-utils';
import VirtualList from './VirtualList.svelte';

describe('VirtualList', () => {
  it('renders only the visible window of 100,000 rows and follows the scroll position', async () => {
    const items = Array.from({ length: 100_000 }, (_, i) => `Row ${i}`);
    const row = createRawSnippet<[unknown, number]>((item) => ({ render: () => `<div class="r">${String(item())}</div>` }));
    const onNearEnd = vi.fn();
    render(VirtualList, { props: { items, rowHeight: 50, row, onNearEnd, class: 'rows', 'data-testid': 'vl' } });
    await settle();
    const vp = screen.getByTestId('vl');
    expect(vp.classList).toContain('viewport'); // a passed class must not drop the scrolling styles
    expect(vp.classList).toContain('rows');
    expect(vp.querySelectorAll('.r').length).toBeLessThanOrEqual(30);
    expect((vp.firstElementChild as HTMLElement).style.height).toBe('5000000px');
    expect(onNearEnd).not.toHaveBeenCalled();
    vp.scrollTop = 50 * 50_000;
    await fireEvent.scroll(vp);
    await settle();
    expect(screen.getByText('Row 50000')).toBeInTheDocument();
    expect(screen.queryByText('Row 0')).toBeNull();
    expect(vp.querySelectorAll('.r').length).toBeLessThanOrEqual(30);
    vp.scrollTop = 50 * 99_990;
    await fireEvent.scroll(vp);
    await settle();
    expect(screen.getByText('Row 99999')).toBeInTheDocument();
    expect(onNearEnd).toHaveBeenCalled();
  });
});
