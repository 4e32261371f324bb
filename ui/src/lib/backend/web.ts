// The UI in a plain browser, served by the web bridge (crates/web-bridge, `agent-inbox-web`):
// the desktop shell's commands as `POST /rpc/<command>` with the same camelCase arguments as
// tauri.ts, and the shell's events over one WebSocket at `/events`. Nothing from Tauri.
import { commandBackend, type On } from './commands';
import { toErrorBody, type Backend } from './types';

export interface WebBackendOptions {
  /** The bridge's origin, e.g. `http://127.0.0.1:4000` (default: the page's own). */
  origin?: string;
  fetch?: typeof fetch;
  WebSocket?: typeof WebSocket;
  /** Wait before reopening a closed events socket (default 500 ms). */
  reconnectMs?: number;
}

type Handler = (payload: unknown) => void;

/** One events socket for all listeners; reopened while anyone listens. */
class EventStream {
  private socket: WebSocket | null = null;
  private opening: Promise<void> | null = null;
  private handlers = new Map<string, Set<Handler>>();
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly url: string,
    private readonly Socket: typeof WebSocket,
    private readonly reconnectMs: number,
  ) {}

  private listeners(): number {
    let n = 0;
    for (const set of this.handlers.values()) n += set.size;
    return n;
  }

  private open(): Promise<void> {
    if (this.socket && this.socket.readyState === this.Socket.OPEN) return Promise.resolve();
    if (this.opening) return this.opening;
    this.opening = new Promise<void>((resolve, reject) => {
      const ws = new this.Socket(this.url);
      let opened = false;
      ws.onopen = () => {
        opened = true;
        this.socket = ws;
        this.opening = null;
        resolve();
      };
      ws.onmessage = (m: MessageEvent) => this.dispatch(m.data);
      ws.onclose = () => {
        if (this.socket === ws) this.socket = null;
        if (!opened) {
          this.opening = null;
          reject({ code: 'internal', message: 'Cannot reach the Agent Inbox bridge' });
          return;
        }
        // Closed by the bridge (restarted, or this page fell behind): reopen while anyone
        // listens; the bridge sends the current state first, so nothing stays stale.
        if (this.listeners() > 0) this.retryLater();
      };
    });
    return this.opening;
  }

  private retryLater() {
    if (this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.listeners() > 0) this.open().catch(() => this.retryLater());
    }, this.reconnectMs);
  }

  private dispatch(data: unknown) {
    if (typeof data !== 'string') return;
    let msg: { event?: unknown; payload?: unknown };
    try {
      msg = JSON.parse(data);
    } catch {
      return;
    }
    if (typeof msg.event !== 'string') return;
    for (const h of [...(this.handlers.get(msg.event) ?? [])]) h(msg.payload);
  }

  /** Resolves once the socket is open: events from then on reach `handler`. */
  async on(event: string, handler: Handler): Promise<() => void> {
    let set = this.handlers.get(event);
    if (!set) this.handlers.set(event, (set = new Set()));
    set.add(handler);
    try {
      await this.open();
    } catch (e) {
      set.delete(handler);
      throw toErrorBody(e);
    }
    return () => {
      set.delete(handler);
      if (this.listeners() === 0) {
        if (this.timer !== null) clearTimeout(this.timer);
        this.timer = null;
        this.socket?.close();
        this.socket = null;
      }
    };
  }
}

export function webBackend(opts: WebBackendOptions = {}): Backend {
  const origin = opts.origin ?? window.location.origin;
  const doFetch = opts.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));
  const events = new EventStream(
    origin.replace(/^http/, 'ws') + '/events',
    opts.WebSocket ?? WebSocket,
    opts.reconnectMs ?? 500,
  );

  async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
    let text: string;
    let ok: boolean;
    try {
      const res = await doFetch(`${origin}/rpc/${cmd}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(args ?? {}),
      });
      ok = res.ok;
      text = await res.text();
    } catch (e) {
      throw toErrorBody(e);
    }
    let body: unknown = null;
    if (text) {
      try {
        body = JSON.parse(text);
      } catch {
        throw toErrorBody(text);
      }
    }
    if (!ok) throw toErrorBody(body ?? text);
    return body as T;
  }

  const on: On = (event, cb) => events.on(event, (p) => cb(p as never));

  return commandBackend(call, on);
}
