-- 002_api: what the REST API needs. The display columns of a message move to message_summaries, so that
-- `messages` stays narrow (about 100 bytes a row): search counts and filters (has:attachment, is:read,
-- larger:) walk or probe it by seq and touch few pages. Tags become rows (search by tag and the tag list
-- without scanning JSON), inline parts are counted (has:inline), and API tokens are added.

-- What the list and message APIs show; one row per message, same seq.
CREATE TABLE message_summaries (
  seq            INTEGER PRIMARY KEY REFERENCES messages(seq) ON DELETE CASCADE,
  envelope       TEXT    NOT NULL,          -- JSON object
  from_json      TEXT    NOT NULL DEFAULT '[]',
  to_json        TEXT    NOT NULL DEFAULT '[]',
  cc_json        TEXT    NOT NULL DEFAULT '[]',
  bcc_json       TEXT    NOT NULL DEFAULT '[]',
  subject        TEXT    NOT NULL DEFAULT '',
  date           TEXT    NOT NULL DEFAULT '',
  snippet        TEXT    NOT NULL DEFAULT '',
  tags_json      TEXT    NOT NULL DEFAULT '[]',
  parse_error    TEXT    NOT NULL DEFAULT ''
);

INSERT INTO message_summaries (seq, envelope, from_json, to_json, cc_json, bcc_json, subject, date, snippet,
                               tags_json, parse_error)
  SELECT seq, envelope, from_json, to_json, cc_json, bcc_json, subject, date, snippet, tags_json, parse_error
    FROM messages;

ALTER TABLE messages DROP COLUMN envelope;
ALTER TABLE messages DROP COLUMN from_json;
ALTER TABLE messages DROP COLUMN to_json;
ALTER TABLE messages DROP COLUMN cc_json;
ALTER TABLE messages DROP COLUMN bcc_json;
ALTER TABLE messages DROP COLUMN subject;
ALTER TABLE messages DROP COLUMN date;
ALTER TABLE messages DROP COLUMN snippet;
ALTER TABLE messages DROP COLUMN parse_error;
-- Kept in messages (the search language filters on them): id, inbox_id, received_ms, size, read, flags,
-- message_id, reply_to_json, attachments, parse_failed; tags_json is moved below, after the tag rows. messages.tags_json stays the list API's copy of a message's tags, kept equal
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
  SELECT j.value, s.seq FROM message_summaries s, json_each(s.tags_json) j WHERE j.type = 'text' AND j.value != '';

ALTER TABLE messages DROP COLUMN tags_json;

-- API tokens (--auth on). Only a SHA-256 of the token is kept. project_id NULL: an admin token (every
-- project); else the token sees only that project's inboxes.
CREATE TABLE api_tokens (
  id          INTEGER PRIMARY KEY,
  project_id  INTEGER REFERENCES projects(id) ON DELETE CASCADE,
  name        TEXT    NOT NULL,
  sha256      TEXT    NOT NULL UNIQUE,
  created_ms  INTEGER NOT NULL
);
