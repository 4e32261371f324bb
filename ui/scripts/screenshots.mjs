// Builds nothing: serves ui/dist with `vite preview` and takes screenshots in Debian's headless
// Chromium (playwright-core, no downloaded browser). Run `npm run build` first.
//   node scripts/screenshots.mjs [outDir]
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { preview } from 'vite';

const out = process.argv[2] ?? 'screenshots';
mkdirSync(out, { recursive: true });

const server = await preview({ preview: { port: 0, host: '127.0.0.1', strictPort: false }, logLevel: 'warn' });
const base = server.resolvedUrls.local[0];
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
});

// Run under the shell's own CSP and frozen Object.prototype, as inside Tauri.
const conf = new URL('../../src-tauri/tauri.conf.json', import.meta.url);
const security = existsSync(conf) ? JSON.parse(readFileSync(conf, 'utf8')).app?.security : null;
const csp = security?.csp
  ? Object.entries(security.csp).map(([k, v]) => `${k} ${v}`).join('; ')
  : "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:";
const freeze = security?.freezePrototype ?? true;

const errors = [];
async function page({ query = '', width = 1280, height = 800, scale = 1, scheme = 'light' } = {}) {
  const ctx = await browser.newContext({ viewport: { width, height }, deviceScaleFactor: scale, colorScheme: scheme, reducedMotion: 'reduce' });
  await ctx.route(`${base}**`, async (route) => {
    if (route.request().resourceType() !== 'document') return route.continue();
    const response = await route.fetch();
    await route.fulfill({ response, headers: { ...response.headers(), 'content-security-policy': csp } });
  });
  if (freeze) await ctx.addInitScript(() => Object.freeze(Object.prototype));
  const p = await ctx.newPage();
  p.on('pageerror', (e) => errors.push(String(e)));
  p.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  p.on('request', (r) => {
    if (!r.url().startsWith(base)) errors.push(`remote request: ${r.url()}`);
  });
  await p.goto(`${base}?backend=mock${query}`);
  return p;
}
const shot = (p, name) => p.screenshot({ path: join(out, `${name}.png`) });

try {
  // 1. Login
  let p = await page({ query: '&signedIn=0&simulate=0' });
  await p.getByRole('heading', { name: 'Sign in to Agent Inbox' }).waitFor();
  await p.getByLabel('Password').fill('wrong-password');
  await p.getByRole('button', { name: 'Sign in' }).click();
  await p.getByRole('alert').waitFor();
  await shot(p, 'login');
  await p.context().close();

  // 2. Inbox with an offer banner (the simulation sends one after 1.5 s)
  p = await page({ query: '&simulate=1' });
  await p.locator('#offer-title').waitFor({ timeout: 10_000 });
  await p.waitForTimeout(600);
  await shot(p, 'inbox-offer');

  // 3. Chat + visitor panel, with a past chat transcript open in place
  const offered = (await p.locator('#offer-title').textContent())?.trim() ?? '';
  await p.getByRole('button', { name: /Accept/ }).click();
  await p.getByRole('heading', { name: offered, level: 2 }).and(p.locator('#chat-title')).waitFor();
  await p.getByRole('textbox', { name: /Reply to/ }).fill('Hi! Yes, teams over 50 get 15% off. Shall I send you a calendar link?');
  await p.keyboard.press('Enter');
  await p.waitForTimeout(700);
  const show = p.getByRole('button', { name: /Show transcript/ }).first();
  await show.click();
  await p.waitForTimeout(400);
  await shot(p, 'chat-visitor');

  // 4. Calendar picker (Alt+K)
  await p.getByRole('textbox', { name: /Reply to/ }).focus();
  await p.keyboard.press('Alt+KeyK');
  await p.getByRole('dialog', { name: 'Share a calendar' }).waitFor();
  await p.getByText(/free slots$/).waitFor();
  await shot(p, 'calendar-picker');
  await p.getByRole('button', { name: 'Send calendar' }).click();
  await p.waitForTimeout(7000); // the simulated visitor books a slot
  await shot(p, 'booking');

  // 5. Settings with a validation error from the service
  await p.getByRole('button', { name: 'Settings' }).click();
  await p.getByRole('dialog', { name: 'Settings' }).waitFor();
  await p.getByLabel('Live-chat schedule block 1 start').fill('18:00');
  await p.getByRole('button', { name: 'Save schedule and calendar' }).click();
  await p.getByRole('alert').waitFor();
  await shot(p, 'settings');
  await p.context().close();

  // 6. Dark theme (from the OS)
  p = await page({ query: '&simulate=1', scheme: 'dark' });
  await p.locator('#offer-title').waitFor({ timeout: 10_000 });
  await p.waitForTimeout(600);
  await shot(p, 'dark');
  await p.getByRole('button', { name: 'Settings' }).click();
  await p.getByLabel('Time zone').waitFor();
  await shot(p, 'dark-settings');
  await p.context().close();

  // 7. 200% zoom of a 1280×800 window: 640×400 CSS pixels at scale 2
  p = await page({ query: '&simulate=1', width: 640, height: 400, scale: 2 });
  await p.locator('#offer-title').waitFor({ timeout: 10_000 });
  await p.waitForTimeout(600);
  await shot(p, 'zoom-200');
  await p.getByRole('tab', { name: 'Chat' }).click();
  await p.waitForTimeout(300);
  await shot(p, 'zoom-200-chat');
  await p.getByRole('tab', { name: 'Visitor' }).click();
  await p.waitForTimeout(300);
  await shot(p, 'zoom-200-visitor');
  await p.getByRole('button', { name: 'Settings' }).click();
  await p.getByLabel('Time zone').waitFor();
  await shot(p, 'zoom-200-settings');
  await p.keyboard.press('Escape');
  await p.getByRole('tab', { name: 'Chat' }).click();
  await p.keyboard.press('Alt+KeyK');
  await p.getByRole('dialog', { name: 'Share a calendar' }).waitFor();
  await p.getByText(/free slots$/).waitFor();
  await shot(p, 'zoom-200-calendar');
  await p.keyboard.press('Escape');
  await p.keyboard.press('Control+Slash');
  await p.getByRole('dialog', { name: 'Keyboard shortcuts' }).waitFor();
  await shot(p, 'zoom-200-help');
  await p.context().close();

  // 8. Medium width (a half-screen window)
  p = await page({ query: '&simulate=0', width: 960, height: 720 });
  await p.getByRole('navigation').waitFor();
  await shot(p, 'medium');
  await p.keyboard.press('Control+Slash');
  await p.getByRole('dialog', { name: 'Keyboard shortcuts' }).waitFor();
  await shot(p, 'help');
  await p.context().close();

  // 9. 100,000 conversations in "All", scrolled far down
  p = await page({ query: '&simulate=0' });
  await p.getByRole('button', { name: 'All' }).click();
  const list = p.getByRole('listbox');
  await list.waitFor();
  for (let i = 0; i < 8; i++) {
    await list.evaluate((el) => (el.scrollTop = el.scrollHeight));
    await p.waitForTimeout(250);
  }
  const rows = await p.getByRole('option').count();
  console.log(`rows in DOM after scrolling: ${rows}`);
  await shot(p, 'all-scrolled');
  await p.context().close();
} finally {
  await browser.close();
  await server.close();
}
if (errors.length) {
  console.error('page errors:\n' + errors.join('\n'));
  process.exit(1);
}
console.log(`screenshots in ${out}`);
