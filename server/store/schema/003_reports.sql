-- 003_reports: analysis reports, one per (message, analyzer). `report` is the analyzer's JSON as the API
-- shows it (the store does not read inside it); `verdict` is copied out of it so that queries can filter
-- on it. A new report of the same analyzer replaces the old one. Deleting a message deletes its reports.
CREATE TABLE message_reports (
  seq         INTEGER NOT NULL REFERENCES messages(seq) ON DELETE CASCADE,
  analyzer    TEXT    NOT NULL,
  verdict     TEXT    NOT NULL,
  report      TEXT    NOT NULL,
  created_ms  INTEGER NOT NULL,
  PRIMARY KEY (seq, analyzer)
) WITHOUT ROWID;
