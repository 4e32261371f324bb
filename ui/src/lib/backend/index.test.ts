import { describe, expect, it, vi } from 'vitest';

vi.mock('@tauri-apps/api/core', () => ({ invoke: vi.fn() }));
vi.mock('@tauri-apps/api/event', () => ({ listen: vi.fn() }));

const { pickBackend } = await import('./index');
const { MockBackend } = await import('./mock');

function fakeWindow(search: string, tauri: boolean): Window {
  const w = { location: { search } } as unknown as Window & Record<string, unknown>;
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
});
