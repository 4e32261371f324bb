// Shared test setup: a MockBackend (no simulation, no latency) and a started AppStore.
import { render } from '@testing-library/svelte';
import { tick, type Component } from 'svelte';
import { MockBackend, type MockOptions } from './lib/backend/mock';
import { AppStore, appContext } from './lib/state/app.svelte';

export async function setup(opts: MockOptions & { start?: boolean } = {}) {
  const mock = new MockBackend({ simulate: false, latencyMs: 0, historySize: 500, ...opts });
  const app = new AppStore(mock, 250);
  if (opts.start !== false) await app.start();
  return { mock, app };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function renderWith(component: Component<any>, app: AppStore, props: Record<string, unknown> = {}) {
  return render(component, { props, context: appContext(app) });
}

/** Lets promises and Svelte's updates settle (works with fake and real timers). */
export async function settle(times = 3) {
  for (let i = 0; i < times; i++) {
    await Promise.resolve();
    await tick();
  }
}

/** The whole app (App.svelte starts the store itself). */
export async function renderApp(opts: MockOptions = {}) {
  const { default: App } = await import('./App.svelte');
  const { mock, app } = await setup({ ...opts, start: false });
  const result = render(App, { props: { app } });
  await settle(8);
  return { mock, app, ...result };
}
