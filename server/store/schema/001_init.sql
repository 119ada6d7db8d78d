-- 001_init: projects, inboxes, messages (summary + raw kept apart), full-text index, per-inbox counters.
-- Applied once, inside a transaction, by store.cpp; PRAGMA user_version records the last file applied.

CREATE TABLE projects (
  id          INTEGER PRIMARY KEY,
  name        TEXT    NOT NULL UNIQUE,
  created_ms  INTEGER NOT NULL
);

CREATE TABLE inboxes (
  id             INTEGER PRIMARY KEY,
  project_id     INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  name           TEXT    NOT NULL,
  slug           TEXT    NOT NULL UNIQUE,
  smtp_username  TEXT    NOT NULL UNIQUE,
  smtp_password  TEXT    NOT NULL,
  created_ms     INTEGER NOT NULL,
  -- Retention limits; 0 means unlimited.
  max_messages   INTEGER NOT NULL DEFAULT 0,
  max_age_ms     INTEGER NOT NULL DEFAULT 0,
  max_bytes      INTEGER NOT NULL DEFAULT 0,
  UNIQUE (project_id, name)
);

-- O(1) totals for the list API, maintained by the triggers below in the same transaction as the rows.
CREATE TABLE inbox_counters (
  inbox_id  INTEGER PRIMARY KEY REFERENCES inboxes(id) ON DELETE CASCADE,
  total     INTEGER NOT NULL DEFAULT 0,
  unread    INTEGER NOT NULL DEFAULT 0,
  bytes     INTEGER NOT NULL DEFAULT 0
);

CREATE TRIGGER inboxes_counters_insert AFTER INSERT ON inboxes BEGIN
  INSERT INTO inbox_counters (inbox_id) VALUES (NEW.id);
END;

-- One row per message: the summary the list API shows. `seq` is the insertion order and the key shared
-- with message_raw and messages_fts (AUTOINCREMENT: never reused, so an index entry can never point at a
-- later message); `id` is the public, time-ordered ULID.
CREATE TABLE messages (
  seq            INTEGER PRIMARY KEY AUTOINCREMENT,
  id             TEXT    NOT NULL UNIQUE,
  inbox_id       INTEGER NOT NULL REFERENCES inboxes(id) ON DELETE CASCADE,
  received_ms    INTEGER NOT NULL,
  size           INTEGER NOT NULL,
  read           INTEGER NOT NULL DEFAULT 0,
  flags          INTEGER NOT NULL DEFAULT 0,
  envelope       TEXT    NOT NULL,          -- JSON object
  from_json      TEXT    NOT NULL DEFAULT '[]',
  to_json        TEXT    NOT NULL DEFAULT '[]',
  cc_json        TEXT    NOT NULL DEFAULT '[]',
  bcc_json       TEXT    NOT NULL DEFAULT '[]',
  reply_to_json  TEXT    NOT NULL DEFAULT '[]',
  subject        TEXT    NOT NULL DEFAULT '',
  date           TEXT    NOT NULL DEFAULT '',
  message_id     TEXT    NOT NULL DEFAULT '',
  attachments    INTEGER NOT NULL DEFAULT 0,
  snippet        TEXT    NOT NULL DEFAULT '',
  tags_json      TEXT    NOT NULL DEFAULT '[]',
  parse_failed   INTEGER NOT NULL DEFAULT 0,
  parse_error    TEXT    NOT NULL DEFAULT ''
);

-- Newest first within an inbox: ORDER BY id DESC walks this index backwards.
CREATE INDEX messages_inbox_id ON messages (inbox_id, id);

CREATE TRIGGER messages_counters_insert AFTER INSERT ON messages BEGIN
  UPDATE inbox_counters
     SET total = total + 1, unread = unread + (NEW.read = 0), bytes = bytes + NEW.size
   WHERE inbox_id = NEW.inbox_id;
END;

CREATE TRIGGER messages_counters_delete AFTER DELETE ON messages BEGIN
  UPDATE inbox_counters
     SET total = total - 1, unread = unread - (OLD.read = 0), bytes = bytes - OLD.size
   WHERE inbox_id = OLD.inbox_id;
END;

CREATE TRIGGER messages_counters_read AFTER UPDATE OF read ON messages
WHEN (OLD.read = 0) != (NEW.read = 0) BEGIN
  UPDATE inbox_counters SET unread = unread + (NEW.read = 0) - (OLD.read = 0) WHERE inbox_id = NEW.inbox_id;
END;

-- The raw bytes exactly as received, apart from the summary so that list scans stay small.
-- compression: 0 = stored as is, 1 = zstd frame.
-- index_data: a zstd frame of the exact column values given to messages_fts (length-prefixed), which a
-- contentless FTS5 table needs back to delete the row (see the trigger below).
CREATE TABLE message_raw (
  seq          INTEGER PRIMARY KEY REFERENCES messages(seq) ON DELETE CASCADE,
  raw_size     INTEGER NOT NULL,
  compression  INTEGER NOT NULL,
  data         BLOB    NOT NULL,
  index_data   BLOB    NOT NULL
);

-- Full-text index, rowid = messages.seq. Contentless: the text lives only in the index (and compressed
-- in message_raw.index_data), so it is not stored twice. columnsize=0: no ranking, results are newest
-- first.
CREATE VIRTUAL TABLE messages_fts USING fts5 (
  subject, "from", "to", cc, bcc, body,
  content = '',
  tokenize = 'unicode61 remove_diacritics 2',
  columnsize = 0
);

-- Deleting a message removes its index entry with the values it was indexed with. mailjar_index_field()
-- is registered by the store on each of its connections; elsewhere (e.g. the sqlite3 shell) the delete
-- fails instead of leaving the index inconsistent.
CREATE TRIGGER messages_fts_delete BEFORE DELETE ON messages BEGIN
  INSERT INTO messages_fts (messages_fts, rowid, subject, "from", "to", cc, bcc, body)
  SELECT 'delete', r.seq,
         mailjar_index_field(r.index_data, 0), mailjar_index_field(r.index_data, 1),
         mailjar_index_field(r.index_data, 2), mailjar_index_field(r.index_data, 3),
         mailjar_index_field(r.index_data, 4), mailjar_index_field(r.index_data, 5)
    FROM message_raw r
   WHERE r.seq = OLD.seq;
END;
