import { tauriBackend } from './tauri';
import type { Backend } from './types';
import { webBackend } from './web';

export type { Backend, SessionInfo, ConversationPage } from './types';
export { toErrorBody, isErrorBody } from './types';

/**
 * The two real backends are a few kB and part of the main bundle, one fetch fewer before the
 * first command (too small to show in P6's figures). Only the demo backend, with its
 * generated history, loads on demand.
 *
 * Inside the Tauri webview → the shell's commands; a page served by the web bridge
 * (`agent-inbox-web`, which marks index.html) or `?backend=web` → the bridge's commands;
 * otherwise (or `?backend=mock`) → the demo backend.
 */
export async function pickBackend(win: Window = window): Promise<Backend> {
  const params = new URLSearchParams(win.location.search);
  const forced = params.get('backend');
  const inTauri = '__TAURI_INTERNALS__' in win;
  if (inTauri && forced !== 'mock') {
    return tauriBackend();
  }
  const bridged = win.document?.querySelector('meta[name="agent-inbox-backend"][content="web"]') != null;
  if (forced === 'web' || (bridged && forced !== 'mock')) {
    return webBackend({ origin: win.location.origin });
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
