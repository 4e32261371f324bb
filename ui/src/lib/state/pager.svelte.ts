import type { Backend } from '../backend/types';
import { toErrorBody } from '../backend/types';
import type { ConversationSummary } from '../bindings/ConversationSummary';
import type { ErrorBody } from '../bindings/ErrorBody';

export const PAGE_SIZE = 100;

/** "All" conversations: cursor-paginated, appended page by page as the list scrolls (R4). */
export class ConversationPager {
  items = $state.raw<ConversationSummary[]>([]);
  loading = $state(false);
  done = $state(false);
  error = $state<ErrorBody | null>(null);
  query = $state('');
  private cursor: string | null = null;
  private generation = 0;
  /** Position of each listed conversation in `items` (not reactive: it follows `items`), so a
   *  page appends and a lookup costs what they touch, not the length of a 100,000-row list. */
  private index = new Map<number, number>();

  constructor(
    private backend: Backend,
    private pageSize = PAGE_SIZE,
  ) {}

  /** Starts over (new query or scope). */
  async reset(query = this.query): Promise<void> {
    this.generation++;
    this.query = query;
    this.cursor = null;
    this.items = [];
    this.index = new Map();
    this.done = false;
    this.error = null;
    this.loading = false;
    await this.loadMore();
  }

  async loadMore(): Promise<void> {
    if (this.loading || this.done) return;
    const gen = this.generation;
    this.loading = true;
    try {
      const q = this.query.trim();
      const page = await this.backend.listConversations('all', q === '' ? null : q, this.cursor, this.pageSize);
      if (gen !== this.generation) return;
      const fresh: ConversationSummary[] = [];
      for (const c of page.items) {
        if (this.index.has(c.id)) continue;
        this.index.set(c.id, this.items.length + fresh.length);
        fresh.push(c);
      }
      this.items = this.items.concat(fresh);
      this.cursor = page.next_cursor ?? null;
      this.done = !page.next_cursor;
    } catch (e) {
      if (gen === this.generation) this.error = toErrorBody(e);
    } finally {
      if (gen === this.generation) this.loading = false;
    }
  }

  /** Where a conversation is listed (-1: not loaded). */
  indexOf(id: number): number {
    return this.index.get(id) ?? -1;
  }

  /** Replaces a listed conversation in place (unread count read, chat ended…). */
  patch(summary: ConversationSummary) {
    const i = this.indexOf(summary.id);
    if (i < 0) return;
    const next = this.items.slice();
    next[i] = summary;
    this.items = next;
  }
}
