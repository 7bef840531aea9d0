import type { EmbeddingSpace, UserStore } from '../store';
import type { DuplicateSearch } from './duplicate-search';

/** Changes read per query. */
const BATCH = 500;

/**
 * Keeps a process's duplicate search in step with the template changes other processes commit
 * (other replicas on PostgreSQL; `templates:rebuild` beside a running server on SQLite). The store
 * numbers every enrollment, replacement, erasure and reset in commit order (`template_changes`);
 * each change read names a user, whose templates are read again and replace the index's, or a
 * client erased, whose index is dropped (and read afresh at its next search). Re-reading makes a
 * change applied twice (this process's own, already applied) or late harmless: once every
 * committed change is read, the indexes hold what the store holds.
 */
export class TemplateFeed {
  /** The last change applied; undefined until the first catch-up, and after falling behind. */
  private cursor: number | undefined;
  private caughtUpAt = 0;
  private reading: Promise<void> = Promise.resolve();

  constructor(
    private readonly users: UserStore,
    private readonly space: EmbeddingSpace,
    private readonly search: DuplicateSearch,
    /** How long the store keeps changes (config recognition.templateFeed.keepMinutes). */
    private readonly keepMs: number,
    private readonly clock: () => number = Date.now,
  ) {}

  /**
   * Applies every change committed before it started, after any catch-up already running. The first
   * (and one after the process fell behind by half of keepMs, when unread changes may be erased)
   * drops every index instead, to be read afresh, and starts from the latest change.
   */
  catchUp(): Promise<void> {
    const next = this.reading.then(() => this.read());
    this.reading = next.catch(() => undefined);
    return next;
  }

  /** Erases the changes older than keepMs. */
  prune(): Promise<number> {
    return this.users.eraseChangesBefore(new Date(this.clock() - this.keepMs));
  }

  private async read(): Promise<void> {
    const startedAt = this.clock();
    if (this.cursor === undefined || startedAt - this.caughtUpAt > this.keepMs / 2) {
      this.cursor = await this.users.latestChange();
      this.search.apply({ kind: 'reset' });
      this.caughtUpAt = startedAt;
      return;
    }
    for (let changes = await this.users.changesAfter(this.cursor, BATCH); changes.length > 0; changes = await this.users.changesAfter(this.cursor, BATCH)) {
      for (const { id, client, username } of changes) {
        if (username === null || client === null) {
          this.search.apply({ kind: 'reset', client: client ?? undefined });
        } else {
          this.search.apply({ kind: 'replaced', client, username, embeddings: await this.users.templatesOf(client, username, this.space) });
        }
        this.cursor = id;
      }
    }
    this.caughtUpAt = startedAt;
  }
}
