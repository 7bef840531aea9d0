/**
 * Schema migrations, applied in order. `PRAGMA user_version` records how many have run;
 * a migration is never edited once released, only followed by a new one.
 */
export const MIGRATIONS: readonly string[] = [
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
];
