import type { ResetScope, Store, UserMetadata } from '../store';
import type { TemplateChange } from './duplicate-search';

export interface UserFlows {
  /** The client's enrolled user; another client's is unknown (undefined). */
  metadata(client: string, username: string): Promise<UserMetadata | undefined>;
  /** Erases the user with their templates and images; false when the client has no such user. */
  erase(client: string, username: string): Promise<boolean>;
  /** Erases the scope's users, templates, images and scans. */
  reset(scope: ResetScope): Promise<void>;
}

/**
 * What is kept about enrolled people, and its erasure: one person's, or a whole client's (or every
 * client's). `erased` hears of each erasure once it is committed (the duplicate-search index follows them).
 */
export function userFlows(store: Store, erased: (change: TemplateChange) => void): UserFlows {
  return {
    metadata: (client, username) => store.users.metadata(client, username),
    async erase(client, username) {
      const deleted = await store.users.delete(client, username);
      if (deleted) erased({ kind: 'deleted', client, username });
      return deleted;
    },
    async reset(scope) {
      await store.reset(scope);
      erased({ kind: 'reset', client: 'client' in scope ? scope.client : undefined });
    },
  };
}
