-- 004_index_lag: the full-text index may lag behind the messages. The server's writer stores a message
-- without indexing it and indexes the messages it stored in batches when it has no mail to commit; any
-- query that uses messages_fts first indexes what is missing (Store::ensure_indexed), so searches stay
-- exact. index_state.indexed_seq is the line: every message with seq <= indexed_seq is in messages_fts,
-- none above it. Rows are indexed in seq order, and the line moves in the transaction that indexes them.

CREATE TABLE index_state (
  id           INTEGER PRIMARY KEY CHECK (id = 1),
  indexed_seq  INTEGER NOT NULL
);

-- Everything stored so far was indexed with its row.
INSERT INTO index_state (id, indexed_seq) VALUES (1, (SELECT coalesce(max(seq), 0) FROM messages));

-- A message above the line is not in the index: deleting it must not touch messages_fts (a 'delete' of
-- values a contentless table never saw corrupts it).
DROP TRIGGER messages_fts_delete;
CREATE TRIGGER messages_fts_delete BEFORE DELETE ON messages
WHEN OLD.seq <= (SELECT indexed_seq FROM index_state WHERE id = 1) BEGIN
  INSERT INTO messages_fts (messages_fts, rowid, subject, "from", "to", cc, bcc, body)
  SELECT 'delete', r.seq,
         mailjar_index_field(r.index_data, 0), mailjar_index_field(r.index_data, 1),
         mailjar_index_field(r.index_data, 2), mailjar_index_field(r.index_data, 3),
         mailjar_index_field(r.index_data, 4), mailjar_index_field(r.index_data, 5)
    FROM message_raw r
   WHERE r.seq = OLD.seq;
END;
