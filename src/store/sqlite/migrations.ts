import type Database from 'better-sqlite3';

/**
 * A migration's SQL, or a function running it for a migration that needs the store's context: the
 * client that rows written before tenants belong to.
 */
export type Migration = string | ((db: Database.Database, defaultClient: string) => void);

/**
 * Schema migrations, applied in order. `PRAGMA user_version` records how many have run;
 * a migration is never edited once released, only followed by a new one. They run with foreign
 * keys off (so a table can be rebuilt without cascading deletes), each checked before it commits.
 */
export const MIGRATIONS: readonly Migration[] = [
  `
  CREATE TABLE users (
    id          INTEGER PRIMARY KEY,
    username    TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL
  );

  CREATE TABLE images (
    key           TEXT PRIMARY KEY,
    user_id       INTEGER REFERENCES users(id) ON DELETE CASCADE,
    content_type  TEXT NOT NULL,
    file_size     INTEGER NOT NULL,
    width_px      INTEGER NOT NULL,
    height_px     INTEGER NOT NULL,
    original      BLOB NOT NULL,
    cropped       BLOB,
    analysis      TEXT,
    created_at    TEXT NOT NULL,
    used_at       TEXT
  );
  CREATE INDEX images_user ON images(user_id);

  CREATE TABLE templates (
    id             INTEGER PRIMARY KEY,
    user_id        INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    image_key      TEXT REFERENCES images(key) ON DELETE SET NULL,
    model          TEXT NOT NULL,
    model_version  TEXT NOT NULL,
    embedding      BLOB NOT NULL,
    created_at     TEXT NOT NULL
  );
  CREATE INDEX templates_user ON templates(user_id);

  CREATE TABLE tasks (
    id          TEXT PRIMARY KEY,
    collection  TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),
    total       INTEGER NOT NULL,
    processed   INTEGER NOT NULL DEFAULT 0,
    errors      TEXT NOT NULL DEFAULT '[]',
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
  );
  CREATE INDEX tasks_collection ON tasks(collection);
  `,
  // Batch scans: the uploaded files of each task, kept until profiled so an interrupted task can resume.
  `
  ALTER TABLE tasks DROP COLUMN errors;
  ALTER TABLE tasks ADD COLUMN failure TEXT;
  ALTER TABLE tasks ADD COLUMN started_at TEXT;
  ALTER TABLE tasks ADD COLUMN started_processed INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE tasks ADD COLUMN finished_at TEXT;

  CREATE TABLE scan_files (
    task_id    TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    name       TEXT NOT NULL,
    content    BLOB,
    status     TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'failed')),
    attempts   INTEGER NOT NULL DEFAULT 0,
    profile    TEXT,
    thumbnail  BLOB,
    error      TEXT,
    PRIMARY KEY (task_id, position)
  );
  CREATE INDEX scan_files_status ON scan_files(task_id, status);
  `,
  // Tenants: users, images and scan tasks belong to the client whose key created them (templates
  // and scan files through their user and task). Rows from before go to the default client, and a
  // username is unique per client, which needs the users table rebuilt (SQLite cannot drop UNIQUE).
  // Images and tasks take the default client as their column default: existing rows then need no
  // rewrite (an UPDATE would copy every image blob); every insert names its client anyway.
  (db, defaultClient) => {
    const quoted = `'${defaultClient.replaceAll("'", "''")}'`;
    db.exec(`
      CREATE TABLE users_by_client (
        id          INTEGER PRIMARY KEY,
        client      TEXT NOT NULL,
        username    TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        UNIQUE (client, username)
      );
      INSERT INTO users_by_client (id, client, username, created_at) SELECT id, ${quoted}, username, created_at FROM users;
      DROP TABLE users;
      ALTER TABLE users_by_client RENAME TO users;

      ALTER TABLE images ADD COLUMN client TEXT NOT NULL DEFAULT ${quoted};
      ALTER TABLE tasks ADD COLUMN client TEXT NOT NULL DEFAULT ${quoted};
      CREATE INDEX tasks_client_collection ON tasks(client, collection);
    `);
  },
  // Scans over a queue: a file is leased to one scanner until it settles or the lease runs out;
  // the partial index finds the next pending file without reading settled ones.
  `
  ALTER TABLE scan_files ADD COLUMN lease_until TEXT;
  ALTER TABLE scan_files ADD COLUMN lease_holder TEXT;
  CREATE INDEX scan_files_pending ON scan_files(task_id, position) WHERE status = 'pending';
  `,
  // The change feed of enrolled templates, for processes that keep them in memory (the duplicate
  // search). AUTOINCREMENT: a number is never reused once its row is erased.
  `
  CREATE TABLE template_changes (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    client       TEXT,
    username     TEXT,
    recorded_at  TEXT NOT NULL
  );
  CREATE INDEX template_changes_recorded ON template_changes(recorded_at);
  `,
];
