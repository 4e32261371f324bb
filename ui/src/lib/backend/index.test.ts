import { describe, expect, it, vi } from 'vitest';

vi.mock('@tauri-apps/api/core', () => ({ invoke: vi.fn() }));
vi.mock('@tauri-apps/api/event', () => ({ listen: vi.fn() }));

const { pickBackend } = await import('./index');
const { MockBackend } = await import('./mock');

function fakeWindow(search: string, tauri: boolean, marked = false): Window {
  const document = { querySelector: (sel: string) => (marked && sel.includes('agent-inbox-backend') ? {} : null) };
  const w = { location: { search, origin: 'http://127.0.0.1:4321' }, document } as unknown as Window & Record<string, unknown>;
  if (tauri) w.__TAURI_INTERNALS__ = {};
  return w;
}

describe('pickBackend', () => {
  it('uses the Tauri backend inside Tauri, the mock in a browser or with ?backend=mock', async () => {
    const t = await pickBackend(fakeWindow('', true));
    expect(t).not.toBeInstanceOf(MockBackend);
    const m = await pickBackend(fakeWindow('?simulate=0', false));
    expect(m).toBeInstanceOf(MockBackend);
    const forced = await pickBackend(fakeWindow('?backend=mock&simulate=0', true));
    expect(forced).toBeInstanceOf(MockBackend);
  });

  it('uses the web bridge on a page the bridge marked or with ?backend=web, unless ?backend=mock', async () => {
    const fetch = vi.fn(async () => new Response('null'));
    vi.stubGlobal('fetch', fetch);
    try {
      for (const w of [fakeWindow('', false, true), fakeWindow('?backend=web', false)]) {
        const b = await pickBackend(w);
        expect(b).not.toBeInstanceOf(MockBackend);
        await b.logout();
        expect(fetch).toHaveBeenLastCalledWith('http://127.0.0.1:4321/rpc/logout', expect.objectContaining({ method: 'POST' }));
      }
      expect(await pickBackend(fakeWindow('?backend=mock&simulate=0', false, true))).toBeInstanceOf(MockBackend);
    } finally {
      vi.unstubAllGlobals();
    }
  });
});
