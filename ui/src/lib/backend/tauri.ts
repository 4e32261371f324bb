// The only module that imports `@tauri-apps/*`. Commands and events are named by the shell
// (src-tauri); every rejection is normalised into an ErrorBody.
import { invoke } from '@tauri-apps/api/core';
import { listen } from '@tauri-apps/api/event';
import { commandBackend } from './commands';
import { toErrorBody, type Backend } from './types';

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (e) {
    throw toErrorBody(e);
  }
}

async function on<T>(event: string, cb: (payload: T) => void): Promise<() => void> {
  try {
    return await listen<T>(event, (e) => cb(e.payload));
  } catch (e) {
    throw toErrorBody(e);
  }
}

export function tauriBackend(): Backend {
  return commandBackend(call, on);
}
