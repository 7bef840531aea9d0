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
 * late change harmless: once every committed change is read, the indexes hold what the store holds.
 * This process's own enrollments, applied as they commit (`applied`), are passed without a read.
 */
export class TemplateFeed {
  /** The last change applied; undefined until the first catch-up. */
  private cursor: number | undefined;
  /** Changes after the cursor that this process applied as it committed them: reading them needs no templates. */
  private readonly appliedHere = new Set<number>();
  private reading: Promise<void> = Promise.resolve();

  constructor(
    private readonly users: UserStore,
    private readonly space: EmbeddingSpace,
    private readonly search: DuplicateSearch,
  ) {}

  /**
   * Applies every change committed before it started, after any catch-up already running. The
   * first, and one that finds numbers missing after the last change applied (erased unread: by
   * `prune` elsewhere, or by a reset), drops every index instead, to be read afresh, and goes on
   * from the latest change.
   */
  catchUp(): Promise<void> {
    const next = this.reading.then(() => this.read());
    this.reading = next.catch(() => undefined);
    return next;
  }

  /**
   * Notes a change this process committed and applied to its indexes itself (an enrollment), so that
   * the catch-up passes it without reading its templates again.
   */
  applied(id: number): void {
    if (this.cursor !== undefined && id > this.cursor) this.appliedHere.add(id);
  }

  /**
   * Catches up every `pollMs` and erases the changes older than `keepMs` (they name users), until
   * `lifetime` (the store's) ends: catch-ups before searches then have little to read. A failed
   * poll is left to the next one; the catch-up before a search fails visibly.
   */
  follow(pollMs: number, keepMs: number, lifetime: AbortSignal): void {
    if (lifetime.aborted) return;
    const timer = setInterval(() => {
      this.catchUp()
        .then(() => this.users.eraseChangesBefore(new Date(Date.now() - keepMs)))
        .catch(() => undefined);
    }, pollMs).unref();
    lifetime.addEventListener('abort', () => clearInterval(timer), { once: true });
  }

  private async read(): Promise<void> {
    if (this.cursor === undefined) return this.restart();
    for (let changes = await this.users.changesAfter(this.cursor, BATCH); changes.length > 0; changes = await this.users.changesAfter(this.cursor, BATCH)) {
      for (const { id, client, username } of changes) {
        if (id !== this.cursor + 1) return this.restart();
        if (!this.appliedHere.delete(id)) await this.apply(client, username);
        this.cursor = id;
      }
    }
  }

  private async apply(client: string | null, username: string | null): Promise<void> {
    if (username === null || client === null) {
      this.search.apply({ kind: 'reset', client: client ?? undefined });
    } else {
      this.search.apply({ kind: 'replaced', client, username, embeddings: await this.users.templatesOf(client, username, this.space) });
    }
  }

  private async restart(): Promise<void> {
    this.appliedHere.clear();
    this.cursor = await this.users.latestChange();
    this.search.apply({ kind: 'reset' });
  }
}
