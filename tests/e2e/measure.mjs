// Launch time and idle memory of the real app (run by measure.sh inside harness.sh).
//   - launch -> inbox: from POST /session (tauri-driver starts the app) until the inbox's
//     conversation list is in the DOM, with the automatic sign-in from the environment;
//     E2E_LAUNCHES runs (default 3), each with a fresh app.
//   - idle PSS: the last app, signed in as grace with the demo data, left alone for
//     E2E_IDLE_SECONDS (default 60), then /work/shared/tools/pss-tree (or PSS_TREE) on the app's
//     pid (the child of WebKitWebDriver): the app plus its WebKit processes.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { App, startService, until } from './lib.mjs';

const run = promisify(execFile);
const launches = Number(process.env.E2E_LAUNCHES || 3);
const idle = Number(process.env.E2E_IDLE_SECONDS || 60);
const PSS_TREE = process.env.PSS_TREE || '/work/shared/tools/pss-tree';

const service = await startService();
const times = [];
let app;
try {
  for (let i = 0; i < launches; i++) {
    if (app) await app.quit();
    app = await App.launch({
      env: { AGENT_INBOX_URL: service.url, AGENT_INBOX_EMAIL: 'grace@example.com', AGENT_INBOX_PASSWORD: 'demo1234' },
    });
    await app.waitFor('nav[aria-label="Conversations"]', 'the inbox');
    const ms = performance.now() - app.launchedAt;
    times.push(Math.round(ms));
    console.log(`launch ${i + 1}: inbox shown ${Math.round(ms)} ms after POST /session (session ready after ${Math.round(app.sessionAt - app.launchedAt)} ms)`);
  }
  await app.waitScript(`return [...document.querySelectorAll('[role=status]')].some((e) => e.textContent.trim() === 'Connected');`, 'connected');
  const pid = await until(() => app.appPid(), 'the app pid');
  console.log(`idle for ${idle} s (app pid ${pid}) ...`);
  // The measurement itself is "after N seconds idle": this wait is the point, not a synchronisation.
  await new Promise((r) => setTimeout(r, idle * 1000));
  const { stdout } = await run(PSS_TREE, [String(pid)]);
  console.log(stdout.trim());
  const sorted = [...times].sort((a, b) => a - b);
  console.log(`summary: launch -> inbox median ${sorted[Math.floor(sorted.length / 2)]} ms (runs: ${times.join(', ')} ms); ` +
    `idle PSS after ${idle} s: ${stdout.match(/total pss_mib=(\d+)/)?.[1]} MiB`);
} finally {
  if (app) await app.quit();
  await service.stop();
}
