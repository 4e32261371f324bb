// Agent Inbox visitor widget: the visitor's side of a chat and of booking a meeting.
//
// Plain JS, no build step. Speaks the visitor protocol of crates/protocol (visitor_ws.rs,
// rest.rs). Every piece of text that comes from a visitor, an agent or the service is rendered
// with textContent / createTextNode, never as markup.
'use strict';

(function () {
  const API = '/api/v1';
  const PROTOCOL = 1;
  const TOKEN_KEY = 'agent-inbox.visitor-token';
  const PING_MS = 20000;
  const TYPING_THROTTLE_MS = 2000;
  const TYPING_IDLE_MS = 3000;
  const BACKOFF_MIN_MS = 500;
  const BACKOFF_MAX_MS = 30000;
  const MAX_TEXT = 5000;

  const $ = (id) => document.getElementById(id);
  const el = {
    status: $('chat-status'),
    startView: $('start-view'),
    noAgentsNote: $('no-agents-note'),
    startForm: $('start-form'),
    name: $('name'),
    email: $('email'),
    firstMessage: $('first-message'),
    startButton: $('start-button'),
    startError: $('start-error'),
    chatView: $('chat-view'),
    queueStatus: $('queue-status'),
    leaveBox: $('leave-message-box'),
    leaveButton: $('leave-message'),
    messages: $('messages'),
    typing: $('typing-indicator'),
    composerForm: $('composer-form'),
    composer: $('composer'),
    sendButton: $('send-button'),
    endButton: $('end-chat-button'),
    newChatButton: $('new-chat-button'),
  };

  // ---- state ----------------------------------------------------------------------------
  const state = {
    token: null,
    ws: null,
    welcomed: false,
    wantSocket: false,
    reconnectAttempt: 0,
    reconnectTimer: null,
    pingTimer: null,
    authRetried: false,
    conversationId: null,
    chat: 'none', // none | waiting | live | ended | left_message
    agentName: null,
    firstText: '',
    // Commands sent but not yet acknowledged, in order; re-sent after a reconnect (the
    // service applies each client id once).
    outbox: [],
    typingSentAt: 0,
    typingOn: false,
    typingIdleTimer: null,
    renderedIds: new Set(), // message ids already shown
    pendingByClientId: new Map(), // client id -> <li> of a message not yet stored
    bookingIds: new Set(), // booking ids already confirmed
  };

  // ---- small helpers --------------------------------------------------------------------
  function uuid() {
    if (window.crypto && typeof window.crypto.randomUUID === 'function') {
      return window.crypto.randomUUID();
    }
    const b = new Uint8Array(16);
    window.crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  function storeToken(token) {
    state.token = token;
    try {
      if (token) sessionStorage.setItem(TOKEN_KEY, token);
      else sessionStorage.removeItem(TOKEN_KEY);
    } catch (_) {
      // Storage can be blocked (third-party iframe); the chat still works until a reload.
    }
  }

  function loadToken() {
    try {
      return sessionStorage.getItem(TOKEN_KEY);
    } catch (_) {
      return null;
    }
  }

  function node(tag, className, text) {
    const n = document.createElement(tag);
    if (className) n.className = className;
    if (text !== undefined && text !== null) n.textContent = String(text);
    return n;
  }

  function setStatus(text) {
    el.status.textContent = text;
  }

  const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: 'long', month: 'long', day: 'numeric' });
  const timeFormat = new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit' });
  const dateTimeFormat = new Intl.DateTimeFormat(undefined, {
    weekday: 'long', month: 'long', day: 'numeric', hour: 'numeric', minute: '2-digit',
  });

  function scrollToEnd() {
    el.messages.scrollTop = el.messages.scrollHeight;
  }

  // An HTTP call to the service. Resolves to the parsed body; rejects with {status, code, message}.
  async function api(method, path, body, token) {
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (token) headers.Authorization = `Bearer ${token}`;
    let res;
    try {
      res = await fetch(API + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'omit',
        cache: 'no-store',
      });
    } catch (_) {
      throw { status: 0, code: 'network', message: 'Could not reach the chat service. Check your connection and try again.' };
    }
    let data = null;
    try {
      data = await res.json();
    } catch (_) {
      data = null;
    }
    if (!res.ok) {
      const code = data && typeof data.code === 'string' ? data.code : 'http_' + res.status;
      const message = data && typeof data.message === 'string' ? data.message : `The service answered ${res.status}.`;
      throw { status: res.status, code, message };
    }
    return data;
  }

  // ---- views ----------------------------------------------------------------------------
  function showStartView() {
    el.chatView.hidden = true;
    el.startView.hidden = false;
    el.startButton.disabled = false;
  }

  function showChatView() {
    el.startView.hidden = true;
    el.chatView.hidden = false;
  }

  function setChatState(chat) {
    state.chat = chat;
    const open = chat === 'waiting' || chat === 'live';
    el.composer.disabled = !open;
    el.sendButton.disabled = !open;
    el.endButton.hidden = !open;
    el.newChatButton.hidden = open;
    if (!open) {
      el.leaveBox.hidden = true;
      el.queueStatus.textContent = '';
      el.typing.textContent = '';
    }
    if (chat === 'live') {
      el.queueStatus.textContent = '';
      el.leaveBox.hidden = true;
    }
  }

  function clearLog() {
    el.messages.replaceChildren();
    state.renderedIds.clear();
    state.pendingByClientId.clear();
    state.bookingIds.clear();
  }

  // ---- rendering messages ---------------------------------------------------------------
  function authorLabel(author) {
    if (!author) return '';
    if (author.role === 'visitor') return 'You';
    if (author.role === 'agent') return typeof author.name === 'string' ? author.name : 'Agent';
    return '';
  }

  function textBubble(role, label, text) {
    const li = node('li', `msg ${role === 'visitor' ? 'visitor' : 'agent'}`);
    if (label) li.appendChild(node('span', 'author', label));
    li.appendChild(node('span', 'bubble', text));
    return li;
  }

  function setMeta(li, text) {
    let meta = li.querySelector('.meta');
    if (!meta) {
      meta = node('span', 'meta');
      li.appendChild(meta);
    }
    meta.textContent = text;
  }

  // Show the visitor's own text at once, marked as sending until the service stores it.
  function addPending(clientId, text) {
    const li = textBubble('visitor', 'You', text);
    li.dataset.clientId = clientId;
    li.classList.add('pending');
    setMeta(li, 'Sending…');
    state.pendingByClientId.set(clientId, li);
    el.messages.appendChild(li);
    scrollToEnd();
  }

  function markSent(li, message) {
    li.classList.remove('pending', 'failed');
    if (message && message.id !== undefined) {
      li.dataset.messageId = String(message.id);
      state.renderedIds.add(message.id);
    }
    const at = message && message.created_at ? new Date(message.created_at) : null;
    setMeta(li, at && !isNaN(at) ? `Sent ${timeFormat.format(at)}` : 'Sent');
  }

  function handleMessage(message) {
    if (!message || typeof message !== 'object') return;
    // The newest message id seen, duplicates included (lets tests wait for a frame's arrival).
    if (typeof message.id === 'number' && !(Number(el.messages.dataset.lastMessageId) >= message.id)) {
      el.messages.dataset.lastMessageId = String(message.id);
    }
    if (message.conversation_id !== undefined && message.conversation_id !== null) {
      state.conversationId = message.conversation_id;
    }
    // The service echoes the visitor's own messages with their client id.
    if (message.client_id && state.pendingByClientId.has(message.client_id)) {
      const li = state.pendingByClientId.get(message.client_id);
      state.pendingByClientId.delete(message.client_id);
      if (!state.renderedIds.has(message.id)) markSent(li, message);
      else li.remove();
      return;
    }
    if (state.renderedIds.has(message.id)) return;
    state.renderedIds.add(message.id);

    const content = message.content || {};
    const author = message.author || {};
    let li = null;
    switch (content.kind) {
      case 'text':
        li = textBubble(author.role, authorLabel(author), content.text);
        if (author.role === 'visitor') markSent(li, message);
        if (author.role === 'agent') el.typing.textContent = '';
        break;
      case 'notice':
        li = node('li', 'notice', content.text);
        break;
      case 'calendar_share':
        li = bookingCard(message);
        break;
      case 'booking':
        li = bookingConfirmation(content.booking);
        break;
      default:
        return; // a kind this widget does not know: skip it rather than guess
    }
    if (!li) return;
    li.dataset.messageId = String(message.id);
    el.messages.appendChild(li);
    scrollToEnd();
  }

  // ---- booking --------------------------------------------------------------------------
  function bookingCard(message) {
    const content = message.content;
    const calendarAgentId = content.calendar_agent_id;
    const conversationId = message.conversation_id;
    const li = node('li', 'booking-card');
    // Only the newest card carries the stable id.
    const previous = document.getElementById('booking-card');
    if (previous) previous.removeAttribute('id');
    li.id = 'booking-card';
    li.dataset.testid = 'booking-card';
    const titleId = `booking-title-${message.id}`;
    const title = node('h2', null, `Book a meeting with ${content.calendar_agent_name}`);
    title.id = titleId;
    li.setAttribute('aria-labelledby', titleId);
    li.appendChild(title);
    const info = node('p', 'card-info');
    li.appendChild(info);
    const status = node('p', 'card-status', 'Loading free times…');
    status.setAttribute('role', 'status');
    li.appendChild(status);
    const days = node('div', 'booking-days');
    li.appendChild(days);

    let booked = false;

    async function load() {
      status.classList.remove('error');
      try {
        const list = await api('GET', `/visitor/calendars/${encodeURIComponent(calendarAgentId)}/slots?days=7`, undefined, state.token);
        if (booked) return true;
        render(list);
        return true;
      } catch (err) {
        status.classList.add('error');
        status.textContent = `Could not load free times: ${err.message}`;
        const retry = node('button', 'secondary', 'Try again');
        retry.type = 'button';
        retry.addEventListener('click', () => {
          retry.remove();
          status.textContent = 'Loading free times…';
          load();
        });
        days.replaceChildren(retry);
        return false;
      }
    }

    function render(list) {
      const cal = list && list.calendar ? list.calendar : {};
      const slots = Array.isArray(list && list.slots) ? list.slots : [];
      if (cal.meeting_minutes) {
        info.textContent = `${cal.meeting_minutes}-minute meeting. Times are shown in your time zone.`;
      }
      days.replaceChildren();
      if (slots.length === 0) {
        status.textContent = 'No free times in the next 7 days.';
        return;
      }
      status.textContent = 'Pick a time:';
      let currentDay = null;
      let ul = null;
      for (const slot of slots) {
        const start = new Date(slot.start);
        if (isNaN(start)) continue;
        const day = dayFormat.format(start);
        if (day !== currentDay) {
          currentDay = day;
          const group = node('div', 'booking-day');
          const heading = node('h3', null, day);
          ul = node('ul', 'slot-list');
          ul.setAttribute('aria-label', day);
          group.append(heading, ul);
          days.appendChild(group);
        }
        const item = node('li');
        const button = node('button', 'slot-button', timeFormat.format(start));
        button.type = 'button';
        button.dataset.start = slot.start;
        button.setAttribute('aria-label', `Book ${dateTimeFormat.format(start)}`);
        button.addEventListener('click', () => book(slot.start, start));
        item.appendChild(button);
        ul.appendChild(item);
      }
    }

    function setButtonsDisabled(disabled) {
      for (const b of days.querySelectorAll('button')) b.disabled = disabled;
    }

    async function book(startIso, startDate) {
      setButtonsDisabled(true);
      status.classList.remove('error');
      status.textContent = `Booking ${dateTimeFormat.format(startDate)}…`;
      try {
        const booking = await api('POST', '/visitor/bookings', {
          conversation_id: conversationId,
          calendar_agent_id: calendarAgentId,
          start: startIso,
        }, state.token);
        booked = true;
        days.replaceChildren();
        status.textContent = `Booked: ${dateTimeFormat.format(new Date(booking.start))}.`;
        const line = bookingConfirmation(booking);
        if (line) {
          el.messages.appendChild(line);
          scrollToEnd();
        }
      } catch (err) {
        status.classList.add('error');
        if (err.code === 'conflict') {
          status.textContent = 'Sorry, that time was just taken. Here are the times still free.';
          if ((await load()) && !booked) {
            status.classList.add('error');
            status.textContent = 'Sorry, that time was just taken. Pick another time.';
          }
        } else {
          status.textContent = `Could not book: ${err.message}`;
          setButtonsDisabled(false);
        }
      }
    }

    load();
    return li;
  }

  // One confirmation line per booking, whether it came from the REST answer or the chat.
  function bookingConfirmation(booking) {
    if (!booking || booking.id === undefined || state.bookingIds.has(booking.id)) return null;
    state.bookingIds.add(booking.id);
    const start = new Date(booking.start);
    const when = isNaN(start) ? String(booking.start) : dateTimeFormat.format(start);
    const li = node('li', 'notice confirmation', `Meeting booked with ${booking.calendar_agent_name} on ${when}`);
    const previous = document.getElementById('booking-confirmation');
    if (previous) previous.removeAttribute('id');
    li.id = 'booking-confirmation';
    li.dataset.testid = 'booking-confirmation';
    li.dataset.bookingId = String(booking.id);
    return li;
  }

  // ---- socket ---------------------------------------------------------------------------
  function socketUrl() {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${scheme}//${location.host}${API}/visitor/ws`;
  }

  function rawSend(frame) {
    if (state.ws && state.ws.readyState === WebSocket.OPEN) {
      state.ws.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }

  // A command with a client id: kept until acknowledged, re-sent after a reconnect.
  function sendCommand(frame) {
    state.outbox.push(frame);
    if (state.welcomed) rawSend(frame);
  }

  function removeFromOutbox(id) {
    const i = state.outbox.findIndex((f) => f.id === id);
    if (i < 0) return null;
    return state.outbox.splice(i, 1)[0];
  }

  function connect() {
    state.wantSocket = true;
    if (state.ws) return;
    clearTimeout(state.reconnectTimer);
    state.reconnectTimer = null;
    state.welcomed = false;
    setStatus(state.reconnectAttempt > 0 ? 'Reconnecting…' : 'Connecting…');
    let ws;
    try {
      ws = new WebSocket(socketUrl());
    } catch (_) {
      scheduleReconnect();
      return;
    }
    state.ws = ws;
    ws.addEventListener('open', () => {
      ws.send(JSON.stringify({ type: 'hello', protocol: PROTOCOL, token: state.token }));
    });
    ws.addEventListener('message', (ev) => {
      let frame;
      try {
        frame = JSON.parse(ev.data);
      } catch (_) {
        return;
      }
      if (frame && typeof frame.type === 'string') onFrame(frame);
    });
    ws.addEventListener('close', () => {
      if (state.ws !== ws) return;
      state.ws = null;
      state.welcomed = false;
      clearInterval(state.pingTimer);
      state.pingTimer = null;
      if (state.wantSocket) scheduleReconnect();
    });
  }

  function scheduleReconnect() {
    if (state.reconnectTimer) return;
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** state.reconnectAttempt);
    const delay = base / 2 + Math.random() * (base / 2);
    state.reconnectAttempt += 1;
    setStatus('Connection lost. Reconnecting…');
    state.reconnectTimer = setTimeout(() => {
      state.reconnectTimer = null;
      connect();
    }, delay);
  }

  function disconnect() {
    state.wantSocket = false;
    clearTimeout(state.reconnectTimer);
    state.reconnectTimer = null;
    clearInterval(state.pingTimer);
    state.pingTimer = null;
    const ws = state.ws;
    state.ws = null;
    state.welcomed = false;
    if (ws) ws.close(1000);
  }

  // Reconnect promptly when the network or the page comes back.
  window.addEventListener('online', () => {
    if (state.wantSocket && !state.ws) {
      state.reconnectAttempt = 0;
      clearTimeout(state.reconnectTimer);
      state.reconnectTimer = null;
      connect();
    }
  });

  function onFrame(frame) {
    switch (frame.type) {
      case 'welcome':
        onWelcome(frame);
        break;
      case 'queued':
        state.conversationId = frame.conversation_id;
        if (state.chat !== 'live') {
          setChatState('waiting');
          el.queueStatus.textContent = frame.position > 0
            ? `You are number ${frame.position} in the queue.`
            : 'Waiting for an agent…';
          setStatus('Waiting for an agent');
          el.leaveBox.hidden = frame.agents_available !== false;
        }
        break;
      case 'agent_joined':
        state.conversationId = frame.conversation_id;
        state.agentName = frame.agent_name;
        setChatState('live');
        setStatus(`Chatting with ${frame.agent_name}`);
        addNotice(`${frame.agent_name} joined the chat`);
        break;
      case 'message':
        handleMessage(frame.message);
        break;
      case 'typing':
        el.typing.textContent = frame.typing ? `${state.agentName || 'The agent'} is typing…` : '';
        break;
      case 'chat_ended':
        onChatEnded(frame.reason);
        break;
      case 'message_left':
        for (const f of state.outbox.filter((x) => x.type === 'leave_message')) {
          const li = state.pendingByClientId.get(f.id);
          if (li) {
            state.pendingByClientId.delete(f.id);
            markSent(li, null);
          }
        }
        removeFromOutboxByType('leave_message');
        setChatState('left_message');
        setStatus('Message left');
        addNotice('Thanks! Your message was left. We will get back to you.');
        break;
      case 'ack':
        onAck(frame);
        break;
      case 'error':
        onError(frame);
        break;
      case 'pong':
        break;
      default:
        break;
    }
  }

  function addNotice(text) {
    el.messages.appendChild(node('li', 'notice', text));
    scrollToEnd();
  }

  function removeFromOutboxByType(type) {
    state.outbox = state.outbox.filter((f) => f.type !== type);
  }

  function onWelcome(frame) {
    state.welcomed = true;
    state.authRetried = false;
    state.reconnectAttempt = 0;
    clearInterval(state.pingTimer);
    state.pingTimer = setInterval(() => rawSend({ type: 'ping' }), PING_MS);
    el.noAgentsNote.hidden = frame.agents_available !== false;

    const starting = state.outbox.some((f) => f.type === 'start_chat');
    let chat = frame.chat;
    // A finished chat from before does not replace the one being started now.
    if (chat && starting && chat.status !== 'waiting' && chat.status !== 'live') chat = null;
    if (chat && chat.conversation_id !== undefined) {
      if (state.conversationId !== null && state.conversationId !== chat.conversation_id) {
        clearLog();
      }
      state.conversationId = chat.conversation_id;
      if (chat.agent_name) state.agentName = chat.agent_name;
      showChatView();
      for (const m of chat.messages || []) handleMessage(m);
      switch (chat.status) {
        case 'waiting':
          setChatState('waiting');
          setStatus('Waiting for an agent');
          if (typeof chat.queue_position === 'number' && chat.queue_position > 0) {
            el.queueStatus.textContent = `You are number ${chat.queue_position} in the queue.`;
          }
          el.leaveBox.hidden = frame.agents_available !== false;
          break;
        case 'live':
          setChatState('live');
          setStatus(chat.agent_name ? `Chatting with ${chat.agent_name}` : 'Connected');
          break;
        case 'left_message':
          setChatState('left_message');
          setStatus('Message left');
          break;
        default:
          setChatState('ended');
          setStatus('Chat ended');
          break;
      }
    } else if (state.chat === 'none' && !starting) {
      // Nothing to continue: offer the start form.
      showStartView();
      setStatus(frame.agents_available === false ? 'Nobody is online' : 'Online');
      disconnectIfIdle();
      return;
    } else {
      setStatus('Connected');
    }
    for (const f of state.outbox) rawSend(f);
  }

  // Before a chat starts there is no need to hold a socket open.
  function disconnectIfIdle() {
    if (state.chat === 'none' && state.outbox.length === 0) disconnect();
  }

  function onAck(frame) {
    const sent = removeFromOutbox(frame.id);
    if (frame.message) handleMessage(frame.message);
    const li = state.pendingByClientId.get(frame.id);
    if (li) {
      state.pendingByClientId.delete(frame.id);
      markSent(li, frame.message);
    }
    if (sent && sent.type === 'start_chat' && state.chat === 'none') {
      setChatState('waiting');
      setStatus('Waiting for an agent');
      if (!el.queueStatus.textContent) el.queueStatus.textContent = 'Waiting for an agent…';
    }
    if (sent && sent.type === 'end_chat' && state.chat !== 'ended') {
      onChatEnded('visitor');
    }
  }

  function onError(frame) {
    const err = frame.error || {};
    const message = typeof err.message === 'string' ? err.message : 'Something went wrong.';
    if (!frame.id) {
      if (err.code === 'unauthorized' && !state.welcomed) {
        onAuthFailed();
        return;
      }
      setStatus(message);
      return;
    }
    const sent = removeFromOutbox(frame.id);
    const li = state.pendingByClientId.get(frame.id);
    if (li) {
      state.pendingByClientId.delete(frame.id);
      li.classList.remove('pending');
      li.classList.add('failed');
      setMeta(li, `Not sent: ${message}`);
    }
    if (sent && sent.type === 'leave_message') el.leaveButton.disabled = false;
    if (sent && sent.type === 'start_chat') {
      setChatState('none');
      showStartView();
      el.firstMessage.value = sent.text;
      el.startError.textContent = message;
      disconnectIfIdle();
    } else if (!li) {
      setStatus(message);
    }
  }

  // The token was refused (expired): try once to continue the session with it, else start over.
  async function onAuthFailed() {
    disconnect();
    if (state.authRetried) {
      resetToStart('Your chat session has expired. Please start a new chat.');
      return;
    }
    state.authRetried = true;
    try {
      const session = await api('POST', '/visitor/sessions', { resume_token: state.token });
      storeToken(session.token);
      connect();
    } catch (_) {
      resetToStart('Your chat session has expired. Please start a new chat.');
    }
  }

  function resetToStart(errorText) {
    disconnect();
    storeToken(null);
    state.outbox = [];
    state.conversationId = null;
    clearLog();
    setChatState('none');
    showStartView();
    el.startError.textContent = errorText || '';
    setStatus('');
  }

  function onChatEnded(reason) {
    removeFromOutboxByType('end_chat');
    if (state.chat === 'ended') return; // the ack of end_chat and chat_ended both end it
    setChatState('ended');
    setStatus('Chat ended');
    const why = {
      agent: 'The agent ended the chat.',
      visitor: 'You ended the chat.',
      inactivity: 'The chat ended after a period of inactivity.',
      abandoned: 'You left before an agent joined.',
    }[reason] || 'The chat has ended.';
    addNotice(why);
  }

  // ---- typing ---------------------------------------------------------------------------
  function sendTyping(on) {
    if (!state.welcomed) return;
    state.typingOn = on;
    state.typingSentAt = on ? Date.now() : 0;
    rawSend({ type: 'typing', typing: on });
  }

  function onComposerInput() {
    if (state.chat !== 'live' && state.chat !== 'waiting') return;
    clearTimeout(state.typingIdleTimer);
    if (el.composer.value.trim() === '') {
      if (state.typingOn) sendTyping(false);
      return;
    }
    if (Date.now() - state.typingSentAt >= TYPING_THROTTLE_MS) sendTyping(true);
    state.typingIdleTimer = setTimeout(() => {
      if (state.typingOn) sendTyping(false);
    }, TYPING_IDLE_MS);
  }

  function stopTyping() {
    clearTimeout(state.typingIdleTimer);
    if (state.typingOn) sendTyping(false);
  }

  // ---- user actions ---------------------------------------------------------------------
  async function onStart(ev) {
    ev.preventDefault();
    el.startError.textContent = '';
    const text = el.firstMessage.value.trim();
    if (!text) {
      el.startError.textContent = 'Please type a message to start the chat.';
      el.firstMessage.focus();
      return;
    }
    if (text.length > MAX_TEXT) {
      el.startError.textContent = `Your message is too long (at most ${MAX_TEXT} characters).`;
      return;
    }
    const email = el.email.value.trim();
    if (email && !el.email.checkValidity()) {
      el.startError.textContent = 'Please enter a valid email address, or leave it empty.';
      el.email.focus();
      return;
    }
    const name = el.name.value.trim();
    el.startButton.disabled = true;
    try {
      const body = {};
      if (name) body.name = name;
      if (email) body.email = email;
      if (state.token) body.resume_token = state.token;
      let session;
      try {
        session = await api('POST', '/visitor/sessions', body);
      } catch (err) {
        // A stale token should not block a new chat: try once without it.
        if (!body.resume_token || err.status === 0 || err.code === 'invalid_field') throw err;
        delete body.resume_token;
        session = await api('POST', '/visitor/sessions', body);
      }
      storeToken(session.token);
    } catch (err) {
      el.startError.textContent = err.message;
      el.startButton.disabled = false;
      return;
    }
    state.firstText = text;
    clearLog();
    state.conversationId = null;
    state.agentName = null;
    state.chat = 'none';
    showChatView();
    setChatState('waiting');
    el.queueStatus.textContent = 'Connecting you to an agent…';
    const id = uuid();
    addPending(id, text);
    el.firstMessage.value = '';
    sendCommand({ type: 'start_chat', id, text });
    if (state.ws && !state.welcomed) {
      // A socket is still handshaking; the outbox is flushed on welcome.
    } else if (!state.ws) {
      state.reconnectAttempt = 0;
      connect();
    }
    el.composer.focus();
  }

  function onSend(ev) {
    ev.preventDefault();
    const text = el.composer.value.trim();
    if (!text || (state.chat !== 'live' && state.chat !== 'waiting')) return;
    if (text.length > MAX_TEXT) {
      setStatus(`Your message is too long (at most ${MAX_TEXT} characters).`);
      return;
    }
    stopTyping();
    const id = uuid();
    addPending(id, text);
    el.composer.value = '';
    sendCommand({ type: 'send_message', id, text });
    el.composer.focus();
  }

  function onComposerKey(ev) {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      el.composerForm.requestSubmit();
    }
  }

  // Leave what is in the composer, or else the first message, for the team to answer later.
  function onLeaveMessage() {
    const typed = el.composer.value.trim();
    const text = typed || state.firstText;
    if (!text) {
      el.composer.focus();
      setStatus('Type the message you want to leave, then choose Leave a message.');
      return;
    }
    stopTyping();
    const id = uuid();
    if (typed) addPending(id, typed);
    el.leaveButton.disabled = true;
    el.composer.value = '';
    sendCommand({ type: 'leave_message', id, text });
  }

  function onEndChat() {
    if (state.chat !== 'live' && state.chat !== 'waiting') return;
    stopTyping();
    sendCommand({ type: 'end_chat', id: uuid() });
  }

  function onNewChat() {
    disconnect();
    state.outbox = [];
    state.conversationId = null;
    clearLog();
    setChatState('none');
    el.leaveButton.disabled = false;
    showStartView();
    setStatus('');
    el.firstMessage.focus();
  }

  // ---- start ----------------------------------------------------------------------------
  el.startForm.addEventListener('submit', onStart);
  el.composerForm.addEventListener('submit', onSend);
  el.composer.addEventListener('input', onComposerInput);
  el.composer.addEventListener('keydown', onComposerKey);
  el.composer.addEventListener('blur', stopTyping);
  el.leaveButton.addEventListener('click', onLeaveMessage);
  el.endButton.addEventListener('click', onEndChat);
  el.newChatButton.addEventListener('click', onNewChat);
  setChatState('none');

  // A reload continues the session: trade the stored token for a fresh one and reconnect;
  // `welcome.chat` brings back the current chat and its messages.
  async function resume() {
    const saved = loadToken();
    if (!saved) {
      showStartView();
      return;
    }
    state.token = saved;
    el.startView.hidden = true; // until the service says whether there is a chat to continue
    setStatus('Connecting…');
    try {
      const session = await api('POST', '/visitor/sessions', { resume_token: saved });
      storeToken(session.token);
      setStatus('Connecting…');
      connect();
    } catch (err) {
      if (err.status === 0) {
        // Offline: keep the token and try the socket with it; the backoff handles the rest.
        showStartView();
        connect();
      } else {
        storeToken(null);
        showStartView();
      }
    }
  }
  resume();
})();
