import type { ResetScope, Store, UserMetadata } from '../store';

export interface UserFlows {
  /** The client's enrolled user; another client's is unknown (undefined). */
  metadata(client: string, username: string): Promise<UserMetadata | undefined>;
  /** Erases the user with their templates and images; false when the client has no such user. */
  erase(client: string, username: string): Promise<boolean>;
  /** Erases the scope's users, templates, images and scans. */
  reset(scope: ResetScope): Promise<void>;
}

/** What is kept about enrolled people, and its erasure: one person's, or a whole client's (or every client's). */
export function userFlows(store: Store): UserFlows {
  return {
    metadata: (client, username) => store.users.metadata(client, username),
    erase: (client, username) => store.users.delete(client, username),
    reset: (scope) => store.reset(scope),
  };
}
