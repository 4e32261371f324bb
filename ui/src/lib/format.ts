import type { ConversationStatus } from './bindings/ConversationStatus';
import type { MessageContent } from './bindings/MessageContent';
import type { VisitorInfo } from './bindings/VisitorInfo';

export const DASH = '-';

/** A visitor field for display: "-" when the visitor did not give it (R5). */
export function field(v: string | null | undefined): string {
  return v === undefined || v === null || v.trim() === '' ? DASH : v;
}

/** A visitor's name for sentences ("Chat request from …"). */
export function visitorName(v: VisitorInfo | undefined, fallback = 'A visitor'): string {
  const n = v?.name?.trim();
  return n ? n : fallback;
}

const hm = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
const dayMonth = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' });
const full = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
const dateOnly = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', year: 'numeric' });
const weekdayDate = new Intl.DateTimeFormat(undefined, { weekday: 'long', day: 'numeric', month: 'long' });

/** "HH:MM" in the computer's time zone. */
export function clock(iso: string | undefined): string {
  if (!iso) return DASH;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? DASH : hm.format(d);
}

/** Short time for lists: "14:05" today, "Yesterday", else "3 Nov". */
export function listTime(iso: string, now = Date.now()): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return DASH;
  const today = new Date(now);
  today.setHours(0, 0, 0, 0);
  if (d.getTime() >= today.getTime()) return hm.format(d);
  if (d.getTime() >= today.getTime() - 86_400_000) return 'Yesterday';
  return dayMonth.format(d);
}

export function fullTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? DASH : full.format(d);
}

export function fullDate(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? DASH : dateOnly.format(d);
}

export function longDay(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? DASH : weekdayDate.format(d);
}

export function secondsLeft(iso: string, now: number): number {
  return Math.max(0, Math.ceil((Date.parse(iso) - now) / 1000));
}

export const STATUS_LABEL: Record<ConversationStatus, string> = {
  waiting: 'Waiting',
  live: 'Live',
  ended: 'Ended',
  left_message: 'Left message',
};

export function contentText(c: MessageContent): string {
  switch (c.kind) {
    case 'text':
    case 'notice':
      return c.text;
    case 'calendar_share':
      return `Shared ${c.calendar_agent_name}'s calendar`;
    case 'booking':
      return `Meeting booked with ${c.booking.calendar_agent_name}`;
  }
}

export function initials(v: VisitorInfo | undefined): string {
  const n = v?.name?.trim();
  if (!n) return '?';
  const parts = n.split(/\s+/).filter(Boolean);
  const first = Array.from(parts[0] ?? '')[0] ?? '';
  const last = parts.length > 1 ? (Array.from(parts[parts.length - 1])[0] ?? '') : '';
  return (first + last).toUpperCase() || '?';
}
