// Visitor text is data, never markup (DESIGN "Bad input", STYLE "UI"): every visitor-supplied
// field renders as literal text. No element is injected and no handler attribute appears.
import { fireEvent, screen, within } from '@testing-library/svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ConversationSummary } from '../lib/bindings/ConversationSummary';
import { renderApp, settle } from '../test-utils';

const LONG = 'W'.repeat(20_000);
const PAYLOADS = [
  '<img src=x onerror=alert(1)>',
  '<script>alert(1)</script>',
  '<a href="javascript:alert(1)">click me</a>',
  'javascript:alert(document.cookie)',
  '<svg onload=alert(1)><circle r=5 /></svg>',
  '{@html "<b onclick=alert(1)>bold</b>"}',
  '"><iframe src="javascript:alert(1)"></iframe>',
  "'-alert(1)-'<style>body{display:none}</style>",
  '&lt;b&gt;entity&lt;/b&gt; &amp; <b>tag</b>',
  '<div onmouseover="alert(1)" style="position:fixed;inset:0">x</div>',
  '\u202Egnp.exe\u202C visitor \u2066RTL\u2069 \u200F',
  LONG,
];

const URL_ATTRS = new Set(['href', 'src', 'srcdoc', 'action', 'formaction', 'xlink:href', 'data', 'poster']);

function assertInert() {
  const body = document.body;
  const bad = body.querySelectorAll('img, script, iframe, object, embed, style, a, b, form[action], link, meta, base, circle:not(svg.ring > circle)');
  expect(Array.from(bad).map((e) => e.outerHTML.slice(0, 80))).toEqual([]);
  for (const el of Array.from(body.querySelectorAll('*'))) {
    for (const attr of Array.from(el.attributes)) {
      expect(attr.name.startsWith('on'), `${el.tagName} has ${attr.name}`).toBe(false);
      // Visitor text in aria-label/title is inert; URL-bearing attributes must never carry it.
      if (URL_ATTRS.has(attr.name)) expect(/javascript:/i.test(attr.value), `${el.tagName}[${attr.name}]`).toBe(false);
    }
  }
  // Our own SVGs are the only SVG: icons hold exactly one <path>, the countdown ring two circles.
  for (const svg of Array.from(body.querySelectorAll('svg'))) {
    const kids = Array.from(svg.children).map((c) => c.tagName.toLowerCase());
    expect(kids).toEqual(svg.classList.contains('ring') ? ['circle', 'circle'] : ['path']);
  }
}

describe('script injection: every visitor field renders as text', () => {
  afterEach(() => vi.restoreAllMocks());

  it.each(PAYLOADS.map((p) => [p.length > 60 ? `${p.slice(0, 20)}… (${p.length} chars)` : p, p]))('%s', async (_label, p) => {
    const alert = vi.spyOn(window, 'alert').mockImplementation(() => {});
    const { mock, app } = await renderApp({ liveChats: 0 });
    const visitor = { name: p, job_title: p, email: p, phone: p, crm_status: p };
    const id = mock.addLiveChat(visitor, [p, p], 1);
    vi.spyOn(mock, 'getActivities').mockResolvedValue({
      since: '2026-08-27T00:00:00Z',
      items: [
        { id: 1, kind: 'page_visit', title: p, occurred_at: '2026-11-24T09:00:00Z' },
        { id: 2, kind: 'chat', title: p, occurred_at: '2026-11-20T09:00:00Z', conversation_id: 100001 },
      ],
    });
    vi.spyOn(mock, 'getTranscript').mockResolvedValue(`[2026-11-20 09:00] ${p}: ${p}`);
    mock.pushOffer({ visitor: { id: 77, ...visitor }, first_message: p });
    mock.visitorTyping(id, true);
    app.select(id);
    await settle(8);

    // Banner (name, first message), list (name, preview), chat (title, messages, typing), panel (5 fields).
    const banner = screen.getByRole('region', { name: /^Chat request/ });
    expect(within(banner).getByText(p, { selector: 'p, p *' })).toBeInTheDocument();
    const nav = screen.getByRole('navigation');
    expect(within(nav).getAllByText(p).length).toBeGreaterThanOrEqual(1); // name (preview says "typing…")
    const main = screen.getByRole('main');
    expect(within(main).getAllByText(p).length).toBeGreaterThanOrEqual(3);
    const aside = screen.getByRole('complementary');
    expect(within(aside).getAllByText(p, { selector: 'dd' })).toHaveLength(5);
    expect(within(aside).getAllByText(p, { selector: '.title' })).toHaveLength(2);
    await fireEvent.click(within(aside).getByRole('button', { name: /Show transcript/ }));
    await settle(4);
    expect(within(aside).getByText(`[2026-11-20 09:00] ${p}: ${p}`)).toBeInTheDocument();
    assertInert();
    mock.visitorTyping(id, false);
    await settle();
    expect(within(nav).getAllByText(p).length).toBeGreaterThanOrEqual(2); // name and preview

    // "All" list: a past conversation with the payload everywhere, opened read-only.
    const past: ConversationSummary = {
      id: 100_001,
      status: 'ended',
      visitor: { id: 5, ...visitor },
      created_at: '2026-11-20T09:00:00Z',
      last_activity_at: '2026-11-20T09:10:00Z',
      last_message: p,
      unread: 0,
    };
    vi.spyOn(mock, 'listConversations').mockResolvedValue({ items: [past] });
    vi.spyOn(mock, 'getMessages').mockResolvedValue({
      items: [
        { id: 1, conversation_id: past.id, author: { role: 'visitor' }, content: { kind: 'text', text: p }, created_at: '2026-11-20T09:00:00Z' },
        { id: 2, conversation_id: past.id, author: { role: 'agent', agent_id: 2, name: p }, content: { kind: 'text', text: p }, created_at: '2026-11-20T09:01:00Z' },
        { id: 3, conversation_id: past.id, author: { role: 'system' }, content: { kind: 'notice', text: p }, created_at: '2026-11-20T09:02:00Z' },
      ],
    });
    vi.spyOn(mock, 'getVisitor').mockResolvedValue(past.visitor);
    await fireEvent.click(screen.getByRole('button', { name: 'All' }));
    await settle(6);
    await fireEvent.click(document.getElementById('conv-100001')!);
    await settle(8);
    expect(within(main).getAllByText(p).length).toBeGreaterThanOrEqual(3);
    assertInert();
    expect(alert).not.toHaveBeenCalled();
  });
});
