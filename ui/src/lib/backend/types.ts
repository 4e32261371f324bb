// The one interface the UI talks to. Three implementations: `tauri.ts` (the desktop shell's
// commands and events), `web.ts` (the same commands and events through the web bridge,
// `agent-inbox-web`, for a plain browser) and `mock.ts` (an in-memory service for the browser
// and tests).
// Every type comes from the generated bindings; nothing here copies a Rust type by hand.
import type { ActivityList } from '../bindings/ActivityList';
import type { AgentId } from '../bindings/AgentId';
import type { AgentSettings } from '../bindings/AgentSettings';
import type { AvailabilityStatus } from '../bindings/AvailabilityStatus';
import type { CalendarSummary } from '../bindings/CalendarSummary';
import type { ClientState } from '../bindings/ClientState';
import type { ConversationId } from '../bindings/ConversationId';
import type { ConversationScope } from '../bindings/ConversationScope';
import type { CoreEvent } from '../bindings/CoreEvent';
import type { ErrorBody } from '../bindings/ErrorBody';
import type { ErrorCode } from '../bindings/ErrorCode';
import type { MessageId } from '../bindings/MessageId';
import type { MessagePage } from '../bindings/MessagePage';
import type { OfferId } from '../bindings/OfferId';
import type { Page } from '../bindings/Page';
import type { Preferences } from '../bindings/Preferences';
import type { SessionInfo } from '../bindings/SessionInfo';
import type { SlotList } from '../bindings/SlotList';
import type { VisitorInfo } from '../bindings/VisitorInfo';

/** `protocol::rest::ConversationPage` (= `Page<ConversationSummary>`), exported by ts-rs as `Page`. */
export type ConversationPage = Page;

/** `agent_core::SessionInfo`: who is signed in, where. */
export type { SessionInfo };

export interface Backend {
  restoreSession(): Promise<SessionInfo | null>;
  login(serviceUrl: string, email: string, password: string): Promise<SessionInfo>;
  logout(): Promise<void>;
  getState(): Promise<ClientState>;
  onState(cb: (s: ClientState) => void): Promise<() => void>;
  onEvent(cb: (e: CoreEvent) => void): Promise<() => void>;
  onOpenConversation(cb: (id: ConversationId | null) => void): Promise<() => void>;
  acceptOffer(offerId: OfferId): Promise<void>;
  declineOffer(offerId: OfferId): Promise<void>;
  /** Resolves with the client id of the message (its pending copy carries the same id). */
  sendMessage(conversationId: ConversationId, text: string): Promise<string>;
  /** Removes a message the service refused (pending.failed) from its chat. */
  dismissPending(clientId: string): Promise<void>;
  setTyping(conversationId: ConversationId, typing: boolean): Promise<void>;
  endChat(conversationId: ConversationId): Promise<void>;
  markRead(conversationId: ConversationId, messageId: MessageId): Promise<void>;
  shareCalendar(conversationId: ConversationId, calendarAgentId: AgentId): Promise<void>;
  /** `null` clears the manual override: back to the schedule (R1). */
  setAvailability(status: AvailabilityStatus | null): Promise<void>;
  listConversations(
    scope: ConversationScope,
    query: string | null,
    cursor: string | null,
    limit: number,
  ): Promise<ConversationPage>;
  getMessages(conversationId: ConversationId, before: MessageId | null, limit: number): Promise<MessagePage>;
  getVisitor(conversationId: ConversationId): Promise<VisitorInfo>;
  getActivities(conversationId: ConversationId): Promise<ActivityList>;
  getTranscript(conversationId: ConversationId): Promise<string>;
  /** Resolves with the path of the saved text file. */
  saveTranscript(conversationId: ConversationId): Promise<string>;
  listCalendars(): Promise<CalendarSummary[]>;
  getSlots(agentId: AgentId, days: number): Promise<SlotList>;
  getSettings(): Promise<AgentSettings>;
  putSettings(s: AgentSettings): Promise<AgentSettings>;
  getPreferences(): Promise<Preferences>;
  putPreferences(p: Preferences): Promise<Preferences>;
  /** The window's start-up marks (ms after `timeOrigin`, itself ms since 1970), for the shell's log. */
  reportStartup(timeOrigin: number, marks: Record<string, number>): Promise<void>;
}

const CODES: readonly ErrorCode[] = [
  'bad_request',
  'invalid_field',
  'unknown_type',
  'too_large',
  'unauthorized',
  'forbidden',
  'not_found',
  'conflict',
  'limit_reached',
  'rate_limited',
  'origin_not_allowed',
  'protocol_violation',
  'unsupported_version',
  'shutting_down',
  'internal',
];

export function isErrorBody(e: unknown): e is ErrorBody {
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof (e as ErrorBody).code === 'string' &&
    typeof (e as ErrorBody).message === 'string' &&
    CODES.includes((e as ErrorBody).code)
  );
}

/** Whatever was thrown, as the one error shape the UI branches on (`code`). */
export function toErrorBody(e: unknown): ErrorBody {
  if (isErrorBody(e)) return { code: e.code, message: e.message };
  if (typeof e === 'string') {
    try {
      const parsed: unknown = JSON.parse(e);
      if (isErrorBody(parsed)) return parsed;
    } catch {
      /* not JSON */
    }
    return { code: 'internal', message: e };
  }
  if (e instanceof Error) return { code: 'internal', message: e.message };
  return { code: 'internal', message: 'Something went wrong' };
}
