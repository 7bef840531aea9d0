import type { Store } from '../../src/store';
import { describeStoreContract } from './contract';
import { createTestDatabase, describeWithPostgres, dropTestDatabases, openReplica, type TestDatabase } from './postgres-database';

/** Each store's database, so that another store can be opened on it as a restart would. */
const databases = new WeakMap<Store, TestDatabase>();

describeWithPostgres('PostgreSQL', () => {
  afterAll(dropTestDatabases);
  // Every store on a database of its own, made for it.
  describeStoreContract('postgres', async ({ sealer, sameDatabaseAs } = {}) => {
    const database = sameDatabaseAs ? databases.get(sameDatabaseAs) : await createTestDatabase();
    if (!database) throw new Error('sameDatabaseAs names a store this test did not open');
    const store = await openReplica(database, sealer ? { sealer } : {});
    databases.set(store, database);
    return store;
  });
});
