import { AsyncLocalStorage } from 'node:async_hooks';
import type { Pool, PoolClient, QueryResultRow } from 'pg';

/** A transaction's connection, usable only until the transaction ends. */
interface OpenTransaction {
  client: PoolClient;
  open: boolean;
}

/**
 * The pool with transactions that follow the async context: every query made while a transaction's
 * work runs, by the store or by a callback it awaits (enroll's `duplicateOf`), goes to that
 * transaction's connection. So a pool full of enrollments waiting for a client's lock cannot starve
 * the one holding it, and a transaction's callbacks see what it has written.
 */
export class Database {
  private readonly transactions = new AsyncLocalStorage<OpenTransaction>();

  constructor(readonly pool: Pool) {}

  private connection(): Pool | PoolClient {
    const transaction = this.transactions.getStore();
    // Work the transaction started but did not await (a timer, a background refresh) may outlive it:
    // its connection then serves someone else, so such work goes to the pool.
    return transaction?.open ? transaction.client : this.pool;
  }

  async rows<Row extends QueryResultRow>(text: string, values: unknown[] = []): Promise<Row[]> {
    return (await this.connection().query<Row>(text, values)).rows;
  }

  async row<Row extends QueryResultRow>(text: string, values: unknown[] = []): Promise<Row | undefined> {
    return (await this.rows<Row>(text, values))[0];
  }

  /** Runs a change; how many rows it changed. */
  async run(text: string, values: unknown[] = []): Promise<number> {
    return (await this.connection().query(text, values)).rowCount ?? 0;
  }

  /**
   * Lends a connection of the pool to `work`, then runs `restore` on it (whether `work` succeeded or
   * not) to leave it as the pool lends it. A connection the server drops while lent (a restart, a
   * failover, an idle transaction timed out) is heard here, since an unheard 'error' event would end
   * the process; such a connection, or one `restore` fails on, is closed instead of going back.
   */
  private async lend<T>(work: (client: PoolClient) => Promise<T>, restore: (client: PoolClient, failed: boolean) => Promise<unknown>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    const lost = (error: Error) => (broken ??= error);
    client.on('error', lost);
    let failed = true;
    try {
      const result = await work(client);
      failed = false;
      return result;
    } finally {
      await restore(client, failed).catch(lost);
      client.off('error', lost);
      client.release(broken);
    }
  }

  /**
   * Runs `work` in one transaction on one connection: committed when it resolves, rolled back when
   * it throws. Called inside another transaction's work, it joins that transaction.
   */
  async transaction<T>(work: () => Promise<T>): Promise<T> {
    if (this.transactions.getStore()?.open) return work();
    let transaction: OpenTransaction | undefined;
    return this.lend(
      async (client) => {
        transaction = { client, open: true };
        await client.query('BEGIN');
        const result = await this.transactions.run(transaction, work);
        await client.query('COMMIT');
        return result;
      },
      async (client, failed) => {
        if (transaction) transaction.open = false;
        if (failed) await client.query('ROLLBACK');
      },
    );
  }

  /**
   * VACUUMs the tables after an erasure, outside any transaction (VACUUM refuses to run in one) and
   * free of the statement timeout, which is meant for requests, not for reclaiming a large table.
   * PostgreSQL skips a table its user does not own with a mere warning: that fails the erasure here
   * rather than leaving its dead rows behind unnoticed.
   */
  async vacuum(tables: string[]): Promise<void> {
    const warnings: string[] = [];
    const hear = (notice: { severity?: string; message?: string }) => {
      if (notice.severity === 'WARNING') warnings.push(notice.message ?? '');
    };
    await this.lend(
      async (client) => {
        client.on('notice', hear);
        await client.query('SET statement_timeout = 0');
        await client.query(`VACUUM ${tables.join(', ')}`);
      },
      async (client) => {
        client.off('notice', hear);
        await client.query('RESET statement_timeout');
      },
    );
    if (warnings.length > 0) throw new Error(`VACUUM after an erasure did not run: ${warnings.join('; ')}`);
  }
}
