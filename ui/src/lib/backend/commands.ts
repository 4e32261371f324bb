// The desktop shell's commands and events, named once: the Tauri backend invokes them over
// IPC, the web backend posts them to the bridge (crates/web-bridge), which serves the same
// names and camelCase arguments.
import type { ClientState } from '../bindings/ClientState';
import type { ConversationId } from '../bindings/ConversationId';
import type { CoreEvent } from '../bindings/CoreEvent';
import type { StateUpdate } from '../bindings/StateUpdate';
import type { Backend } from './types';

/** Runs a command by name; rejects with an ErrorBody. */
export type Call = <T>(cmd: string, args?: Record<string, unknown>) => Promise<T>;
/** Listens to an event by name; resolves with the unlisten function. */
export type On = <T>(event: string, cb: (payload: T) => void) => Promise<() => void>;

/**
 * The whole state from the shell's update (agent-core's `updates.rs`): each chat named in
 * `kept` keeps the first `count` messages it had in `last` and appends the update's. `null`
 * when `last` does not end with `last_id` there (nothing yet, a reload, a missed update):
 * the whole state has to be fetched.
 */
export function assemble(last: ClientState | null, update: StateUpdate): ClientState | null {
  if (update.kept.length === 0) return update.state;
  if (!last) return null;
  const chats = [];
  for (const chat of update.state.chats) {
    const k = update.kept.find((x) => x.conversation_id === chat.summary.id);
    if (!k) {
      chats.push(chat);
      continue;
    }
    const had = last.chats.find((c) => c.summary.id === k.conversation_id)?.messages;
    if (!had || k.count < 1 || had.length < k.count || had[k.count - 1].id !== k.last_id) return null;
    // Nothing new: the same array, so that the view sees nothing changed.
    const messages = chat.messages.length === 0 && had.length === k.count ? had : [...had.slice(0, k.count), ...chat.messages];
    chats.push({ ...chat, messages });
  }
  return { ...update.state, chats };
}

export function commandBackend(call: Call, on: On): Backend {
  // The last whole state, which the next update builds on.
  let last: ClientState | null = null;
  const getState = async () => {
    const state = await call<ClientState>('get_state');
    last = state;
    return state;
  };
  return {
    restoreSession: () => call('session_restore'),
    login: (serviceUrl, email, password) => call('login', { serviceUrl, email, password }),
    logout: () => call('logout'),
    getState,
    onState: (cb) =>
      on<StateUpdate>('state://changed', (update) => {
        const state = assemble(last, update);
        if (state) {
          last = state;
          cb(state);
          return;
        }
        getState().then(cb, () => {
          /* the next update or the window's own get_state brings it */
        });
      }),
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
    reportStartup: (timeOrigin, marks) => call('report_startup', { timeOrigin, marks }),
  };
}
