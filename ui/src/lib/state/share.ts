// The shell pushes the whole ClientState on every change (a new message, a read mark, typing),
// freshly parsed, so every message object is new each time even though stored messages never
// change. Handing those to the UI as they are re-renders every message of a chat on every
// change: with a few hundred messages that is tens of milliseconds of script per change (P3,
// issue 5). Keeping the previous objects for the messages that are the same makes a change cost
// what changed.
import type { ClientState } from '../bindings/ClientState';
import type { LiveChat } from '../bindings/LiveChat';
import type { Message } from '../bindings/Message';
import type { VisitorInfo } from '../bindings/VisitorInfo';

/** Whether two stored messages are the same (a stored message is never edited; this also
 *  compares what a message shows, in case a service ever rewrites one). */
function sameMessage(a: Message, b: Message): boolean {
  if (a === b) return true;
  if (a.id !== b.id || a.created_at !== b.created_at || a.author.role !== b.author.role) return false;
  if (a.content.kind !== b.content.kind) return false;
  if (a.content.kind === 'text' || a.content.kind === 'notice') return a.content.text === (b.content as typeof a.content).text;
  return JSON.stringify(a.content) === JSON.stringify(b.content);
}

function sameVisitor(a: VisitorInfo, b: VisitorInfo): boolean {
  return a.id === b.id && a.name === b.name && a.job_title === b.job_title && a.email === b.email
    && a.phone === b.phone && a.crm_status === b.crm_status;
}

function shareMessages(prev: Message[], next: Message[]): Message[] {
  if (prev.length === 0 || next.length === 0) return next;
  // Messages are appended (oldest first): walk the common prefix, then look the rest up by id.
  const out = new Array<Message>(next.length);
  let reused = 0;
  let byId: Map<number, Message> | null = null;
  for (let i = 0; i < next.length; i++) {
    const m = next[i];
    let old: Message | undefined = i < prev.length && prev[i].id === m.id ? prev[i] : undefined;
    if (old === undefined) {
      byId ??= new Map(prev.map((p) => [p.id, p]));
      old = byId.get(m.id);
    }
    if (old !== undefined && sameMessage(old, m)) {
      out[i] = old;
      reused++;
    } else {
      out[i] = m;
    }
  }
  // Nothing changed at all: the previous array itself, so nothing downstream re-runs.
  return reused === prev.length && reused === next.length ? prev : out;
}

/** `next`, with the message objects (and message arrays) of `prev` wherever they are the same. */
export function shareUnchanged(prev: ClientState, next: ClientState): ClientState {
  if (prev.chats.length === 0 || next.chats.length === 0) return next;
  const before = new Map<number, LiveChat>(prev.chats.map((c) => [c.summary.id, c]));
  const chats = next.chats.map((c) => {
    const was = before.get(c.summary.id);
    if (!was) return c;
    const messages = shareMessages(was.messages, c.messages);
    // Every message row reads the visitor: keep that object too while it is the same.
    const visitor = sameVisitor(was.summary.visitor, c.summary.visitor) ? was.summary.visitor : c.summary.visitor;
    if (messages === c.messages && visitor === c.summary.visitor) return c;
    return { ...c, messages, summary: visitor === c.summary.visitor ? c.summary : { ...c.summary, visitor } };
  });
  return { ...next, chats };
}
