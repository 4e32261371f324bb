// Opens N visitor chats one after another against URL; prints the wall-clock time (µs) at
// which each start_chat was sent. The only connected agent gets each offer; the visitor then
// ends the chat (withdrawing the offer) before the next one.
import WebSocket from '../tests/browser/node_modules/ws/index.js';
const [url, n] = [process.argv[2], Number(process.argv[3] || 300)];
const origin = new URL(url).origin;
const now = () => Math.round((performance.timeOrigin + performance.now()) * 1000);
for (let i = 0; i < n; i++) {
  const res = await fetch(`${url}/api/v1/visitor/sessions`, { method: 'POST', headers: { 'content-type': 'application/json', origin }, body: JSON.stringify({ name: `Bench ${i}` }) });
  const { token } = await res.json();
  const ws = new WebSocket(`${url.replace('http', 'ws')}/api/v1/visitor/ws`, { headers: { origin } });
  await new Promise((r) => ws.once('open', r));
  const frames = [];
  let waiter = null;
  ws.on('message', (d) => { const f = JSON.parse(d); if (waiter && waiter.pred(f)) { const w = waiter; waiter = null; w.resolve(f); } });
  const expect = (pred) => new Promise((resolve) => { waiter = { pred, resolve }; });
  ws.send(JSON.stringify({ type: 'hello', protocol: 1, token }));
  await expect((f) => f.type === 'welcome');
  const t = now();
  ws.send(JSON.stringify({ type: 'start_chat', id: `b${i}`, text: `question ${i}` }));
  await expect((f) => f.type === 'ack');
  console.log(t);
  // Give the offer time to reach the agent's notifier before ending the chat.
  await new Promise((r) => setTimeout(r, 40));
  ws.send(JSON.stringify({ type: 'end_chat', id: `e${i}` }));
  await expect((f) => f.type === 'ack');
  ws.close();
}
