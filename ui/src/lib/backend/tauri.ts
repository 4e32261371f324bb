// The only module that imports `@tauri-apps/*`. Commands and events are named by the shell
// (src-tauri); every rejection is normalised into an ErrorBody.
import { invoke } from '@tauri-apps/api/core';
import { listen } from '@tauri-apps/api/event';
import type { ClientState } from '../bindings/ClientState';
import type { ConversationId } from '../bindings/ConversationId';
import type { CoreEvent } from '../bindings/CoreEvent';
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
