import type { Backend } from './types';

export type { Backend, SessionInfo, ConversationPage } from './types';
export { toErrorBody, isErrorBody } from './types';

/** Inside the Tauri webview → the shell's commands; in a plain browser (or `?backend=mock`) → the demo backend. */
export async function pickBackend(win: Window = window): Promise<Backend> {
  const params = new URLSearchParams(win.location.search);
  const forced = params.get('backend');
  const inTauri = '__TAURI_INTERNALS__' in win;
  if (inTauri && forced !== 'mock') {
    const { tauriBackend } = await import('./tauri');
    return tauriBackend();
  }
  const { MockBackend } = await import('./mock');
  const history = Number(params.get('history') ?? '100000');
  return new MockBackend({
    simulate: params.get('simulate') !== '0',
    historySize: Number.isFinite(history) && history >= 0 ? history : 100000,
    signedIn: params.get('signedIn') !== '0',
    latencyMs: 120,
  });
}
