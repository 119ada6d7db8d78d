-- 002_api: what the REST API needs. Tags as rows (search by tag and the tag list without scanning JSON),
-- the count of inline parts (has:inline), and API tokens. messages.tags_json stays the list API's copy of a message's tags, kept equal
-- to its message_tags rows by the store.

ALTER TABLE messages ADD COLUMN inlines INTEGER NOT NULL DEFAULT 0;

-- One row per (tag, message). Tags compare case-insensitively (ASCII, SQLite's NOCASE); a message has a
-- tag at most once in any letter case.
CREATE TABLE message_tags (
  tag  TEXT    NOT NULL COLLATE NOCASE,
  seq  INTEGER NOT NULL REFERENCES messages(seq) ON DELETE CASCADE,
  PRIMARY KEY (tag, seq)
) WITHOUT ROWID;

CREATE INDEX message_tags_seq ON message_tags (seq);

INSERT OR IGNORE INTO message_tags (tag, seq)
  SELECT j.value, m.seq FROM messages m, json_each(m.tags_json) j WHERE j.type = 'text' AND j.value != '';

-- API tokens (--auth on). Only a SHA-256 of the token is kept. project_id NULL: an admin token (every
-- project); else the token sees only that project's inboxes.
CREATE TABLE api_tokens (
  id          INTEGER PRIMARY KEY,
  project_id  INTEGER REFERENCES projects(id) ON DELETE CASCADE,
  name        TEXT    NOT NULL,
  sha256      TEXT    NOT NULL UNIQUE,
  created_ms  INTEGER NOT NULL
);
