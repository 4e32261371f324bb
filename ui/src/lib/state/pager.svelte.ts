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
      const seen = new Set(this.items.map((c) => c.id));
      this.items = this.items.concat(page.items.filter((c) => !seen.has(c.id)));
      this.cursor = page.next_cursor ?? null;
      this.done = !page.next_cursor;
    } catch (e) {
      if (gen === this.generation) this.error = toErrorBody(e);
    } finally {
      if (gen === this.generation) this.loading = false;
    }
  }

  /** Replaces a listed conversation in place (unread count read, chat ended…). */
  patch(summary: ConversationSummary) {
    const i = this.items.findIndex((c) => c.id === summary.id);
    if (i < 0) return;
    const next = this.items.slice();
    next[i] = summary;
    this.items = next;
  }
}
