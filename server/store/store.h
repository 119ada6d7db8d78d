// NAME
//   store - durable storage of projects, inboxes and messages in SQLite (WAL), with an FTS5 index.
// CONTRACT
//   Store::open() creates or migrates the database from the versioned schema files (schema/NNN_*.sql,
//   compiled into the binary) and makes sure project "default" with inbox "default" exists.
//   A Store object wraps ONE SQLite connection and is NOT thread-safe: give each thread its own Store
//   (open() the same path again; WAL lets readers run beside the one writer). Writes from other
//   processes (the CLI creating an inbox while the server runs) are visible to the next read.
//   Raw message bytes are stored exactly as received, compressed with zstd. The encoding of a message's
//   columns (prepare_message()) needs no connection and runs on any thread, so the one writer only binds.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"
#include "core/types.h"
#include "store/query.h"

namespace mailjar::store {

struct StoreOptions {
  std::string data_dir = "./data";     // created if missing; the database is <data_dir>/mailjar.db
  int busy_timeout_ms = 5000;          // how long a write waits for another process's lock
  bool read_only = false;
  bool sync_full = true;               // PRAGMA synchronous=FULL (fsync each commit) or NORMAL (WAL write
                                       // only: durable against a process crash, not an OS crash)
  // Leave new messages out of the full-text index when inserting them; index_pending() adds them later.
  // Off, each insert indexes its messages in its own transaction. Either way a query that uses the index
  // first indexes whatever is missing, so results are the same; the lag only moves the work. The
  // server's writer turns it on and indexes when it has no mail to commit (BatchWriter).
  bool index_lag = false;
};

struct Project {
  int64_t id = 0;
  std::string name;
  int64_t created_ms = 0;
};

struct Inbox {
  int64_t id = 0;
  int64_t project_id = 0;
  std::string project_name;
  std::string name;
  std::string slug;            // unique across the server, [a-z0-9-]
  std::string smtp_username;   // unique across the server
  std::string smtp_password;   // kept in clear: a sandbox shows it, and CRAM-MD5 needs it
  int64_t created_ms = 0;
  // Retention limits, 0 = none: Store::prune() keeps at most this many messages, none older than
  // max_age_ms, and at most max_bytes of raw message size, removing the oldest first.
  int64_t max_messages = 0;
  int64_t max_age_ms = 0;
  int64_t max_bytes = 0;
};

// A change to an inbox; unset fields stay as they are.
struct InboxUpdate {
  std::optional<std::string> name;
  std::optional<int64_t> max_messages, max_age_ms, max_bytes;
  bool rotate_credentials = false;  // new SMTP username and password
};

// What an API token may see: everything (admin) or one project.
struct TokenScope {
  bool admin = false;
  int64_t project_id = 0;
  std::string project_name;
};

// A message ready to be committed.
struct NewMessage {
  std::string id;              // core::IdGenerator ULID
  int64_t inbox_id = 0;
  int64_t received_ms = 0;
  core::Envelope envelope;
  std::string raw;             // exactly as received
  core::MessageSummary summary;
};

// A NewMessage with every column value already encoded, ready for Store::insert_prepared(), which only
// binds these values and steps. The rows stored are byte-identical to what insert_messages() stores for
// the same NewMessage. Built by prepare_message(); plain data (movable, copyable), no thread affinity.
struct PreparedMessage {
  NewMessage message;         // as given, except `raw`, which is emptied: its bytes are in raw_data
  int64_t raw_size = 0;       // length of the raw bytes as received (messages.size, message_raw.raw_size)
  int raw_compression = 0;    // message_raw.compression: 0 = raw_data is the raw bytes, 1 = a zstd frame
  std::string raw_data;       // message_raw.data
  std::string index_data;     // message_raw.index_data: zstd frame of the six FTS column values
  std::string envelope_json;  // messages.envelope
  // messages.from_json, to_json, cc_json, bcc_json, reply_to_json and tags_json.
  std::string from_json, to_json, cc_json, bcc_json, reply_to_json, tags_json;
  // The FTS columns "from", "to", cc, bcc ("Name address, Name address"); subject and body are the
  // summary's subject and text_for_index.
  std::string from_text, to_text, cc_text, bcc_text;
};

// Encodes every column of `message` (JSON text, zstd of the raw bytes and of the index text): the CPU
// work of an insert that does not need the database, so that it can run on any thread before the
// message reaches the single writer. Thread-safe and reentrant: no shared state (each thread keeps its
// own compression context). Invalid UTF-8 in any field is replaced, never an error. Fails ("io") only
// when zstd fails (out of memory).
core::Result<PreparedMessage> prepare_message(NewMessage message);

// One analyzer's report on one message, as stored (schema/003_reports.sql). The store keeps `json` as
// given and never reads inside it.
struct StoredReport {
  std::string analyzer;   // the analyzer's name; one report per analyzer and message
  std::string verdict;    // "pass", "warn", ...
  std::string json;       // the report as the API shows it
  int64_t created_ms = 0;
};

// The reports of one message, written together (Store::put_reports, BatchWriter::submit_reports).
struct MessageReports {
  int64_t inbox_id = 0;
  std::string message_id;
  std::vector<StoredReport> reports;
};

// One row of the message list (Mailpit's summary shape).
struct MessageRow {
  std::string id;
  int64_t seq = 0;             // storage order (commit order): larger is stored later
  int64_t inbox_id = 0;
  int64_t received_ms = 0;
  int64_t size = 0;            // raw size in bytes
  bool read = false;
  std::string auth_user;       // the envelope's SMTP AUTH user (Mailpit's "Username")
  core::MessageSummary summary;  // text_for_index is left empty in list results
};

struct MessagePage {
  int64_t total = 0;           // messages in the inbox
  int64_t unread = 0;
  std::vector<MessageRow> messages;  // newest first
};

struct SearchPage {
  int64_t total = 0;           // messages in the inbox
  int64_t unread = 0;          // unread messages in the inbox
  int64_t matched = 0;         // messages matching the query
  int64_t matched_unread = 0;  // of those, unread
  std::vector<MessageRow> messages;  // the requested page of the matches, newest first
};

class Store {
 public:
  static core::Result<std::unique_ptr<Store>> open(const StoreOptions& options);
  ~Store();

  // ---- projects and inboxes ----
  core::Result<Project> create_project(const std::string& name);            // "conflict" if it exists
  core::Result<std::vector<Project>> list_projects();
  // Creates an inbox with a slug derived from `name` (unique: "-2", "-3" appended on collision) and
  // generated SMTP credentials. "not_found" if the project does not exist.
  core::Result<Inbox> create_inbox(const std::string& project_name, const std::string& name);
  core::Result<std::vector<Inbox>> list_inboxes();
  core::Result<std::optional<Inbox>> find_inbox_by_username(const std::string& smtp_username);
  core::Result<std::optional<Inbox>> find_inbox_by_slug(const std::string& slug);
  core::Result<Inbox> default_inbox();
  core::Result<std::optional<Project>> find_project(const std::string& name);  // created_ms left 0
  // "not_found" when there is no such inbox, "conflict" when the new name is taken in its project.
  core::Result<Inbox> update_inbox(const std::string& slug, const InboxUpdate& update);
  // Deletes an inbox and all its messages; false when there is no such inbox. The default inbox cannot
  // be deleted ("invalid").
  core::Result<bool> delete_inbox(const std::string& slug);
  // Applies the inbox's retention limits at time now_ms (one transaction); returns the IDs removed.
  core::Result<std::vector<std::string>> prune(const Inbox& inbox, int64_t now_ms);
  // A new API token for one project (or, without a project, an admin token); returns the token text,
  // of which only a SHA-256 is stored. "not_found" for an unknown project.
  core::Result<std::string> create_token(const std::optional<std::string>& project_name, const std::string& name);
  // The scope of a token; nullopt when it is unknown.
  core::Result<std::optional<TokenScope>> find_token(const std::string& token);

  // ---- messages ----
  // Inserts all messages in ONE transaction (group commit); all or nothing. When it returns ok the
  // transaction has committed (synchronous=FULL: durable against process and power loss).
  // Same as prepare_message() on each message, then insert_prepared().
  core::Result<void> insert_messages(const std::vector<const NewMessage*>& batch);
  // The same for messages already prepared: one transaction, all or nothing; only binds and steps, so
  // that the writer thread does no encoding. A null pointer in the batch is "invalid".
  // When `seqs` is given it receives each message's seq, in batch order, once committed. `reports` are
  // written in the same transaction, after the messages, as put_reports() writes them.
  core::Result<void> insert_prepared(const std::vector<const PreparedMessage*>& batch,
                                     std::vector<int64_t>* seqs = nullptr,
                                     const std::vector<const MessageReports*>& reports = {});
  // Replaces, in one transaction, each message's reports of the analyzers given (other analyzers'
  // reports stay). A message that is no longer in its inbox is skipped, never an error.
  core::Result<void> put_reports(const std::vector<const MessageReports*>& batch);
  // Up to `limit` messages (any inbox) that have no report at all, newest first: (inbox_id, ID).
  core::Result<std::vector<std::pair<int64_t, std::string>>> unanalysed(int64_t limit);
  // A message's stored reports, ordered by analyzer name; nullopt when the inbox has no such message.
  core::Result<std::optional<std::vector<StoredReport>>> get_reports(int64_t inbox_id, const std::string& id);
  // Newest first; with `before_id`, only messages whose ID sorts before it (older), for paging that stays
  // stable while mail arrives. total/unread are always the whole inbox's.
  core::Result<MessagePage> list_messages(int64_t inbox_id, int64_t start, int64_t limit,
                                          const std::string& before_id = "");
  core::Result<std::optional<std::string>> get_raw(int64_t inbox_id, const std::string& id);
  core::Result<std::optional<MessageRow>> get_message(int64_t inbox_id, const std::string& id);
  core::Result<std::optional<core::Envelope>> get_envelope(int64_t inbox_id, const std::string& id);
  // Full-text search (FTS5 MATCH syntax) within an inbox, newest first; for tests and the later API.
  core::Result<std::vector<std::string>> search_ids(int64_t inbox_id, const std::string& fts_query, int64_t limit);
  core::Result<int64_t> count_messages(int64_t inbox_id);
  // Adds up to `limit` messages that are not yet in the full-text index (oldest first) to it, in one
  // transaction; returns how many. That commit is not fsynced on its own (the index is derived from
  // stored columns: an index commit lost in a crash is redone), the next durable commit covers it.
  core::Result<int64_t> index_pending(int64_t limit);
  // How many stored messages are not yet in the full-text index.
  core::Result<int64_t> index_backlog();
  bool index_lag() const;  // StoreOptions::index_lag

  // ---- the API's queries (store::query compiles the search language) ----
  core::Result<SearchPage> search(int64_t inbox_id, const CompiledQuery& query, int64_t start, int64_t limit);
  // The OLDEST message of the inbox stored after `after_seq` (seq > after_seq) and received at or after
  // `min_received_ms` that matches `query`; nullopt when there is none. Serves the wait API.
  core::Result<std::optional<MessageRow>> first_match(int64_t inbox_id, const CompiledQuery& query,
                                                      int64_t after_seq, int64_t min_received_ms);
  // The highest seq stored in any inbox (0 when empty): "everything up to now" for a new waiter.
  core::Result<int64_t> max_seq();
  // The seq of a message, nullopt when the inbox has no such ID.
  core::Result<std::optional<int64_t>> seq_of(int64_t inbox_id, const std::string& id);
  // The distinct tags of the inbox's messages, sorted case-insensitively.
  core::Result<std::vector<std::string>> list_tags(int64_t inbox_id);

  // ---- the API's changes: one transaction each; IDs not in the inbox are skipped, never an error ----
  // Read status of the given messages / all / those matching; returns the IDs whose status changed.
  core::Result<std::vector<std::string>> set_read(int64_t inbox_id, const std::vector<std::string>& ids, bool read);
  core::Result<std::vector<std::string>> set_read_all(int64_t inbox_id, bool read);
  core::Result<std::vector<std::string>> set_read_matching(int64_t inbox_id, const CompiledQuery& query, bool read);
  // Deletes messages (row, raw bytes, index entry, tags); returns the IDs deleted.
  core::Result<std::vector<std::string>> delete_messages(int64_t inbox_id, const std::vector<std::string>& ids);
  core::Result<int64_t> delete_all(int64_t inbox_id);  // returns how many
  core::Result<std::vector<std::string>> delete_matching(int64_t inbox_id, const CompiledQuery& query);
  // Replaces the tags of the given messages (duplicates in any letter case and empty tags dropped);
  // returns the IDs found. Tags of a message are kept sorted case-insensitively.
  core::Result<std::vector<std::string>> set_tags(int64_t inbox_id, const std::vector<std::string>& ids,
                                                  const std::vector<std::string>& tags);
  // Renames (to non-empty) or deletes a tag on every message of the inbox; returns the IDs changed.
  core::Result<std::vector<std::string>> rename_tag(int64_t inbox_id, const std::string& from, const std::string& to);
  core::Result<std::vector<std::string>> delete_tag(int64_t inbox_id, const std::string& tag);

 private:
  struct Impl;
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// When a BatchWriter whose store has StoreOptions::index_lag indexes the messages it stored.
struct WriterIndexing {
  std::chrono::milliseconds quiet{50};  // after this long without anything to commit: index, a chunk at a time
  int64_t chunk = 500;                  // messages per index transaction
  int64_t max_lag = 50000;              // with more messages unindexed, a chunk after every group, even under load
};

// The single writer: a thread that takes queued messages and commits them in groups (everything queued
// when the previous commit finished, up to max_batch) with one transaction each (insert_prepared()),
// then calls each message's callback with the commit's outcome, on the writer thread. Thread-safe:
// submit() may be called from any thread. The destructor commits what is queued and joins the thread.
// A callback told "ok" means what the store's StoreOptions::sync_full says: with FULL the group's commit
// (one fdatasync of the WAL for the whole group) is on disk.
//
// A message is either prepared by the submitter (submit(PreparedMessage): the encoding runs on the
// submitting thread) or by the writer itself (submit(Prepare)): `prepare` then runs on the writer thread,
// in submission order, just before the transaction of its group. The latter is for small messages, whose
// parsing and encoding cost less than handing them from thread to thread; `prepare` must not use anything
// that may be gone before the writer is (it can run while the destructor drains the queue).
//
// With a store opened with StoreOptions::index_lag, the groups leave their messages out of the full-text
// index, and the writer indexes them (Store::index_pending) once nothing was queued for
// WriterIndexing::quiet, a chunk per transaction, checking the queue between chunks; beyond max_lag
// unindexed messages it also indexes a chunk after each group. A query that needs the index catches up
// itself (Store), so the lag never changes a result.
class BatchWriter {
 public:
  // The outcome: the message's seq (MessageRow::seq) once committed, else the error.
  using Done = std::function<void(const core::Result<int64_t>&)>;
  // Makes the message to insert; an error (or an exception, reported as "internal") is given to the
  // message's `done` instead, in order, and the rest of its group commits.
  using Prepare = std::function<core::Result<PreparedMessage>()>;
  explicit BatchWriter(std::unique_ptr<Store> store, std::size_t max_batch = 512, WriterIndexing indexing = {});
  ~BatchWriter();
  void submit(PreparedMessage message, Done done);
  // Prepares on the caller's thread, then queues. If preparing fails the message is queued with that
  // error and committed with nothing: its callback gets the error, on the writer thread, in order.
  void submit(NewMessage message, Done done);
  // Queues a message that the writer thread prepares (see above).
  void submit(Prepare prepare, Done done);
  // Queues the reports of one or more messages to be written with the next group (Store::put_reports
  // semantics: a message that is gone is skipped). done(0) once committed,
  // else done(error); same thread and ordering rules as messages. Reports do not count in pending().
  void submit_reports(std::vector<MessageReports> reports, Done done);
  // Messages queued and not yet committed (for /readyz and backpressure).
  std::size_t pending() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mailjar::store
