// The desktop shell's commands and events, named once: the Tauri backend invokes them over
// IPC, the web backend posts them to the bridge (crates/web-bridge), which serves the same
// names and camelCase arguments.
import type { ClientState } from '../bindings/ClientState';
import type { ConversationId } from '../bindings/ConversationId';
import type { CoreEvent } from '../bindings/CoreEvent';
import type { Backend } from './types';

/** Runs a command by name; rejects with an ErrorBody. */
export type Call = <T>(cmd: string, args?: Record<string, unknown>) => Promise<T>;
/** Listens to an event by name; resolves with the unlisten function. */
export type On = <T>(event: string, cb: (payload: T) => void) => Promise<() => void>;

export function commandBackend(call: Call, on: On): Backend {
  return {
    restoreSession: () => call('session_restore'),
    login: (serviceUrl, email, password) => call('login', { serviceUrl, email, password }),
    logout: () => call('logout'),
    getState: () => call('get_state'),
    onState: (cb) => on<ClientState>('state://changed', cb),
    onEvent: (cb) => on<CoreEvent>('core://event', cb),
    onOpenConversation: (cb) => on<ConversationId | null>('window://open-conversation', cb),
    acceptOffer: (offerId) => call('accept_offer', { offerId }),
    declineOffer: (offerId) => call('decline_offer', { offerId }),
    sendMessage: (conversationId, text) => call('send_message', { conversationId, text }),
    dismissPending: (clientId) => call('dismiss_pending', { clientId }),
    setTyping: (conversationId, typing) => call('set_typing', { conversationId, typing }),
    endChat: (conversationId) => call('end_chat', { conversationId }),
    markRead: (conversationId, messageId) => call('mark_read', { conversationId, messageId }),
    shareCalendar: (conversationId, calendarAgentId) =>
      call('share_calendar', { conversationId, calendarAgentId }),
    setAvailability: (status) => call('set_availability', { status }),
    listConversations: (scope, query, cursor, limit) =>
      call('list_conversations', { scope, query, cursor, limit }),
    getMessages: (conversationId, before, limit) => call('get_messages', { conversationId, before, limit }),
    getVisitor: (conversationId) => call('get_visitor', { conversationId }),
    getActivities: (conversationId) => call('get_activities', { conversationId }),
    getTranscript: (conversationId) => call('get_transcript', { conversationId }),
    saveTranscript: (conversationId) => call('save_transcript', { conversationId }),
    listCalendars: () => call('list_calendars'),
    getSlots: (agentId, days) => call('get_slots', { agentId, days }),
    getSettings: () => call('get_settings'),
    putSettings: (settings) => call('put_settings', { settings }),
    getPreferences: () => call('get_preferences'),
    putPreferences: (preferences) => call('put_preferences', { preferences }),
  };
}
