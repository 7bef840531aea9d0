import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { openPostgresStore, type PostgresStore, type PostgresStoreOptions } from '../../src/store/postgres';
import { Sealer } from '../../src/store/sealer';

/** The PostgreSQL server the tests may create databases on (scripts/pg-test-cluster.sh start prints it). */
export const TEST_DATABASE_URL = process.env.FACEGATE_TEST_DATABASE_URL;

const HOW_TO_GET_ONE = 'eval "$(scripts/pg-test-cluster.sh start)" starts a throwaway PostgreSQL and sets it';

/** `describe` when FACEGATE_TEST_DATABASE_URL names a server; otherwise one skipped test and a warning saying how to get one. */
export function describeWithPostgres(name: string, body: () => void): void {
  if (TEST_DATABASE_URL) {
    describe(name, body);
    return;
  }
  describe(name, () => {
    it.skip(`needs FACEGATE_TEST_DATABASE_URL (${HOW_TO_GET_ONE})`, () => undefined);
  });
  console.warn(`SKIPPED "${name}": FACEGATE_TEST_DATABASE_URL is not set; ${HOW_TO_GET_ONE}`);
}

async function onServer<T>(work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A new empty database on the test server, with the URL that names it. */
export interface TestDatabase {
  name: string;
  url: string;
  /** Runs SQL on it as the test server's user, outside any store. */
  sql<Row = Record<string, unknown>>(text: string, values?: unknown[]): Promise<Row[]>;
}

/**
 * Databases made by `createTestDatabase` in this test file, dropped (with whatever is still
 * connected to them) by `dropTestDatabases`.
 */
const created: string[] = [];

export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `facegate_test_${randomBytes(6).toString('hex')}`;
  await onServer((client) => client.query(`CREATE DATABASE ${name}`));
  created.push(name);
  const url = new URL(TEST_DATABASE_URL!);
  url.pathname = `/${name}`;
  const text = url.toString();
  return {
    name,
    url: text,
    sql: async <Row>(query: string, values: unknown[] = []) => {
      const client = new Client({ connectionString: text });
      await client.connect();
      try {
        return (await client.query(query, values)).rows as Row[];
      } finally {
        await client.end();
      }
    },
  };
}

export async function dropTestDatabases(): Promise<void> {
  if (!TEST_DATABASE_URL) return;
  const names = created.splice(0);
  await onServer(async (client) => {
    for (const name of names) await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  });
}

const TEST_POOL = { poolSize: 4, statementTimeoutMs: 30_000, connectTimeoutMs: 5_000 };

/** A replica's store on `database`: its own pool, as another process would have. */
export function openReplica(database: TestDatabase, options: Partial<PostgresStoreOptions> = {}): Promise<PostgresStore> {
  return openPostgresStore({ url: database.url, sealer: Sealer.plain(), ...TEST_POOL, ...options });
}
