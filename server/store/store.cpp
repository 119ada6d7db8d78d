// NAME
//   store.cpp - the SQLite implementation of Store (see store.h for the contract).
// DESIGN
//   One connection per Store, WAL journal, synchronous FULL or NORMAL (StoreOptions::sync_full), foreign keys
//   on. Writable connections open through the WAL write-coalescing VFS (wal_vfs.h: one pwrite per commit
//   instead of two per page). Every statement is prepared once (SQLITE_PREPARE_PERSISTENT) and cached in
//   Impl. insert_prepared() is one BEGIN IMMEDIATE transaction that only binds values prepare_message()
//   encoded beforehand, on any thread (JSON, zstd, index text), so that the single writer spends its time
//   in SQLite; insert_messages() is the two in sequence. Per-inbox counters and FTS deletions are kept consistent by triggers in the
//   schema. Raw bytes go to message_raw as a zstd frame (level 1, one reused context per thread). The FTS5
//   table is contentless; the exact values it indexed are kept compressed in message_raw.index_data so that
//   the delete trigger can remove them (through mailjar_index_field(), registered on every connection).
//   Summaries and envelopes are JSON text, written with invalid UTF-8 replaced, so that nothing here
//   throws on hostile input.
// SECURITY
//   Values are always bound, never spliced into SQL. Credentials come from OpenSSL's CSPRNG.
#include "store/store.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sqlite3.h>
#include <unistd.h>
#include <zstd.h>

#include <array>
#include <cerrno>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <string_view>
#include <utility>
#include <variant>
#include <optional>

#include "core/id.h"
#include "core/names.h"
#include "core/utf8.h"
#include "store/index_internal.h"
#include "store/wal_vfs.h"
#include "store/schema_internal.h"

namespace mailjar::store {
namespace {

using core::Error;
using core::Result;
using json = nlohmann::json;

constexpr const char* kDatabaseFile = "mailjar.db";
constexpr const char* kDefaultName = "default";
constexpr int kZstdLevel = 1;
constexpr std::size_t kMaxSlugBytes = 48;
constexpr int64_t kMaxRawBytes = int64_t{1} << 31;  // sanity bound on a stored raw_size
constexpr int kCompressionNone = 0;
constexpr int kCompressionZstd = 1;

// ---- statements ------------------------------------------------------------------------------------

enum Stmt : int {
  kBegin,
  kCommit,
  kRollback,
  kUserVersion,
  kProjectInsert,
  kProjectList,
  kProjectIdByName,
  kInboxInsert,
  kInboxBySlug,
  kInboxByUsername,
  kInboxList,
  kSlugExists,
  kUsernameExists,
  kMessageInsert,
  kRawInsert,
  kFtsInsert,
  kCounters,
  kMessageList,
  kMessageGet,
  kRawGet,
  kEnvelopeGet,
  kSearch,
  kTagInsert,
  kMaxSeq,
  kSeqOf,
  kTagList,
  kMessageListBefore,
  kSummaryInsert,
  kReportPut,
  kReportsGet,
  kUnanalysed,
  kIndexLine,
  kIndexTodo,
  kIndexLineSet,
  kSyncNormal,
  kSyncFull,
  kStmtCount
};

#define MAILJAR_INBOX_COLUMNS                                                                          \
  "SELECT i.id, i.project_id, p.name, i.name, i.slug, i.smtp_username, i.smtp_password, i.created_ms, "  \
  "i.max_messages, i.max_age_ms, i.max_bytes " \
  "FROM inboxes i JOIN projects p ON p.id = i.project_id "
// The columns read_row() reads, in its order, from "messages m" joined with "message_summaries s".
#define MAILJAR_ROW_SELECT                                                                                    \
  "SELECT m.id, m.inbox_id, m.received_ms, m.size, m.read, s.from_json, s.to_json, s.cc_json, s.bcc_json, "   \
  "m.reply_to_json, s.subject, s.date, m.message_id, m.attachments, s.snippet, s.tags_json, m.parse_failed, " \
  "s.parse_error, s.envelope ->> '$.auth_user', m.seq, m.inlines "
#define MAILJAR_SUMMARY_JOIN "JOIN message_summaries s ON s.seq = m.seq "
#define MAILJAR_ROW_COLUMNS MAILJAR_ROW_SELECT "FROM messages m " MAILJAR_SUMMARY_JOIN

constexpr std::array<const char*, kStmtCount> kSql = {
    "BEGIN IMMEDIATE",
    "COMMIT",
    "ROLLBACK",
    "PRAGMA user_version",
    "INSERT INTO projects (name, created_ms) VALUES (?1, ?2)",
    "SELECT id, name, created_ms FROM projects ORDER BY id",
    "SELECT id FROM projects WHERE name = ?1",
    "INSERT INTO inboxes (project_id, name, slug, smtp_username, smtp_password, created_ms) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    MAILJAR_INBOX_COLUMNS "WHERE i.slug = ?1",
    MAILJAR_INBOX_COLUMNS "WHERE i.smtp_username = ?1",
    MAILJAR_INBOX_COLUMNS "ORDER BY i.id",
    "SELECT 1 FROM inboxes WHERE slug = ?1",
    "SELECT 1 FROM inboxes WHERE smtp_username = ?1",
    "INSERT INTO messages (id, inbox_id, received_ms, size, reply_to_json, message_id, attachments, parse_failed, "
    "inlines) VALUES (?1, ?2, ?3, ?4, ?10, ?13, ?14, ?17, ?19)",
    "INSERT INTO message_raw (seq, raw_size, compression, data, index_data) VALUES (?1, ?2, ?3, ?4, ?5)",
    "INSERT INTO messages_fts (rowid, subject, \"from\", \"to\", cc, bcc, body) VALUES (?1, ?2, ?3, ?4, ?5, "
    "?6, ?7)",
    "SELECT total, unread FROM inbox_counters WHERE inbox_id = ?1",
    MAILJAR_ROW_COLUMNS "WHERE m.inbox_id = ?1 ORDER BY m.id DESC LIMIT ?2 OFFSET ?3",
    MAILJAR_ROW_COLUMNS "WHERE m.inbox_id = ?1 AND m.id = ?2",
    "SELECT r.raw_size, r.compression, r.data FROM messages m JOIN message_raw r ON r.seq = m.seq "
    "WHERE m.inbox_id = ?1 AND m.id = ?2",
    "SELECT s.envelope FROM messages m " MAILJAR_SUMMARY_JOIN "WHERE m.inbox_id = ?1 AND m.id = ?2",
    "SELECT m.id FROM messages_fts f JOIN messages m ON m.seq = f.rowid "
    "WHERE messages_fts MATCH ?2 AND m.inbox_id = ?1 ORDER BY f.rowid DESC LIMIT ?3",
    "INSERT OR IGNORE INTO message_tags (tag, seq) VALUES (?1, ?2)",
    "SELECT coalesce(max(seq), 0) FROM messages",
    "SELECT seq FROM messages WHERE inbox_id = ?1 AND id = ?2",
    "SELECT DISTINCT t.tag FROM message_tags t CROSS JOIN messages m ON m.seq = t.seq WHERE m.inbox_id = ?1 "
    "ORDER BY t.tag COLLATE NOCASE",
    MAILJAR_ROW_COLUMNS "WHERE m.inbox_id = ?1 AND m.id < ?4 ORDER BY m.id DESC LIMIT ?2 OFFSET ?3",
    "INSERT INTO message_summaries (seq, envelope, from_json, to_json, cc_json, bcc_json, subject, date, snippet, "
    "tags_json, parse_error) VALUES (?20, ?5, ?6, ?7, ?8, ?9, ?11, ?12, ?15, ?16, ?18)",
    "INSERT OR REPLACE INTO message_reports (seq, analyzer, verdict, report, created_ms) "
    "SELECT seq, ?3, ?4, ?5, ?6 FROM messages WHERE inbox_id = ?1 AND id = ?2",
    "SELECT analyzer, verdict, report, created_ms FROM message_reports WHERE seq = ?1 ORDER BY analyzer",
    "SELECT m.inbox_id, m.id FROM messages m WHERE NOT EXISTS (SELECT 1 FROM message_reports r WHERE r.seq = m.seq) "
    "ORDER BY m.seq DESC LIMIT ?1",
    "SELECT (SELECT indexed_seq FROM index_state WHERE id = 1), (SELECT coalesce(max(seq), 0) FROM messages)",
    "SELECT seq, index_data FROM message_raw WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    "UPDATE index_state SET indexed_seq = ?1 WHERE id = 1",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA synchronous = FULL",
};

#undef MAILJAR_INBOX_COLUMNS
#undef MAILJAR_ROW_COLUMNS
constexpr const char* kRowSelect = MAILJAR_ROW_SELECT;
constexpr const char* kSummaryJoin = MAILJAR_SUMMARY_JOIN;
#undef MAILJAR_ROW_SELECT
#undef MAILJAR_SUMMARY_JOIN

// Maps an SQLite result code to the module's error codes.
Error db_error(sqlite3* db, int rc, std::string_view what) {
  std::string code = "io";
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      code = "busy";
      break;
    case SQLITE_READONLY:
      code = "read_only";
      break;
    case SQLITE_CONSTRAINT:
      if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) {
        code = "not_found";
      } else if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
        code = "conflict";
      } else {
        code = "invalid";
      }
      break;
    default:
      break;
  }
  std::string message(what);
  message += ": ";
  message += db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  return Error{std::move(code), std::move(message)};
}

// Resets (and unbinds) a cached statement when the scope ends, whatever the outcome.
class Use {
 public:
  explicit Use(sqlite3_stmt* s) : s_(s) {}
  ~Use() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;

 private:
  sqlite3_stmt* s_;
};

void bind_text(sqlite3_stmt* s, int i, std::string_view v) {
  sqlite3_bind_text64(s, i, v.data(), v.size(), SQLITE_STATIC, SQLITE_UTF8);
}

std::string column_text(sqlite3_stmt* s, int i) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, i));
  return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s, i))) : std::string();
}

// ---- JSON encoding ---------------------------------------------------------------------------------

// Appends `s` as a JSON string literal. Invalid UTF-8 becomes U+FFFD (one per bad byte), so that any
// input bytes give valid JSON; nlohmann's parser reads it back.
void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  std::size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      std::size_t j = i + 1;
      while (j < s.size()) {
        const unsigned char d = static_cast<unsigned char>(s[j]);
        if (d < 0x20 || d >= 0x80 || d == '"' || d == '\\') break;
        ++j;
      }
      out.append(s.data() + i, j - i);
      i = j;
    } else if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
      ++i;
    } else if (c < 0x20) {
      out.append("\\u00");
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
      ++i;
    } else if (const std::size_t n = core::utf8_sequence_length(s, i); n > 0) {
      out.append(s.data() + i, n);
      i += n;
    } else {
      out.append("\xEF\xBF\xBD");
      ++i;
    }
  }
  out.push_back('"');
}

// [{"name":"..","address":".."},...]
void append_addresses_json(std::string& out, const std::vector<core::Address>& list) {
  out.push_back('[');
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (i) out.push_back(',');
    out.append("{\"name\":");
    append_json_string(out, list[i].name);
    out.append(",\"address\":");
    append_json_string(out, list[i].address);
    out.push_back('}');
  }
  out.push_back(']');
}

void append_strings_json(std::string& out, const std::vector<std::string>& list) {
  out.push_back('[');
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (i) out.push_back(',');
    append_json_string(out, list[i]);
  }
  out.push_back(']');
}

void append_envelope_json(std::string& out, const core::Envelope& e) {
  const auto field = [&](const char* key, std::string_view value) {
    if (out.back() != '{') out.push_back(',');
    out.push_back('"');
    out.append(key);
    out.append("\":");
    append_json_string(out, value);
  };
  const auto raw = [&](const char* key, std::string_view value) {
    out.push_back(',');
    out.push_back('"');
    out.append(key);
    out.append("\":");
    out.append(value);
  };
  out.push_back('{');
  field("mail_from", e.mail_from);
  field("mail_params", e.mail_params);
  out.append(",\"rcpts\":[");
  for (std::size_t i = 0; i < e.rcpts.size(); ++i) {
    if (i) out.push_back(',');
    out.append("{\"address\":");
    append_json_string(out, e.rcpts[i].address);
    out.append(",\"params\":");
    append_json_string(out, e.rcpts[i].params);
    out.push_back('}');
  }
  out.push_back(']');
  field("helo", e.helo);
  raw("esmtp", e.esmtp ? "true" : "false");
  field("client_ip", e.client_ip);
  raw("client_port", std::to_string(e.client_port));
  field("tls_version", e.tls_version);
  field("tls_cipher", e.tls_cipher);
  field("auth_user", e.auth_user);
  raw("smtputf8", e.smtputf8 ? "true" : "false");
  raw("bare_newline", e.bare_newline ? "true" : "false");
  raw("chunked", e.chunked ? "true" : "false");
  out.push_back('}');
}

std::vector<core::Address> addresses_from_json(const std::string& text) {
  std::vector<core::Address> out;
  const json arr = json::parse(text, nullptr, false);
  if (!arr.is_array()) return out;
  for (const auto& item : arr) {
    if (!item.is_object()) continue;
    core::Address a;
    if (auto it = item.find("name"); it != item.end() && it->is_string()) a.name = it->get<std::string>();
    if (auto it = item.find("address"); it != item.end() && it->is_string())
      a.address = it->get<std::string>();
    out.push_back(std::move(a));
  }
  return out;
}

std::vector<std::string> strings_from_json(const std::string& text) {
  std::vector<std::string> out;
  const json arr = json::parse(text, nullptr, false);
  if (!arr.is_array()) return out;
  for (const auto& item : arr) {
    if (item.is_string()) out.push_back(item.get<std::string>());
  }
  return out;
}

core::Envelope envelope_from_json(const std::string& text) {
  core::Envelope e;
  const json j = json::parse(text, nullptr, false);
  if (!j.is_object()) return e;
  const auto str = [&](const char* key, std::string& out) {
    if (auto it = j.find(key); it != j.end() && it->is_string()) out = it->get<std::string>();
  };
  const auto flag = [&](const char* key, bool& out) {
    if (auto it = j.find(key); it != j.end() && it->is_boolean()) out = it->get<bool>();
  };
  str("mail_from", e.mail_from);
  str("mail_params", e.mail_params);
  str("helo", e.helo);
  str("client_ip", e.client_ip);
  str("tls_version", e.tls_version);
  str("tls_cipher", e.tls_cipher);
  str("auth_user", e.auth_user);
  flag("esmtp", e.esmtp);
  flag("smtputf8", e.smtputf8);
  flag("bare_newline", e.bare_newline);
  flag("chunked", e.chunked);
  if (auto it = j.find("client_port"); it != j.end() && it->is_number_unsigned()) {
    e.client_port = static_cast<uint16_t>(it->get<uint64_t>());
  }
  if (auto it = j.find("rcpts"); it != j.end() && it->is_array()) {
    for (const auto& r : *it) {
      if (!r.is_object()) continue;
      core::Recipient rcpt;
      if (auto a = r.find("address"); a != r.end() && a->is_string()) rcpt.address = a->get<std::string>();
      if (auto p = r.find("params"); p != r.end() && p->is_string()) rcpt.params = p->get<std::string>();
      e.rcpts.push_back(std::move(rcpt));
    }
  }
  return e;
}

// "Name address, Name address" for the full-text index.
void addresses_to_text(const std::vector<core::Address>& list, std::string& out) {
  out.clear();
  for (const auto& a : list) {
    if (!out.empty()) out += ", ";
    out += a.name;
    if (!a.name.empty()) out += ' ';
    out += a.address;
  }
}

// ---- credentials and slugs -------------------------------------------------------------------------

// Uniformly random characters from `alphabet` (rejection sampling over CSPRNG bytes).
std::string random_string(std::size_t length, std::string_view alphabet) {
  std::string out;
  out.reserve(length);
  const unsigned limit = 256 - (256 % alphabet.size());
  unsigned char buf[64];
  while (out.size() < length) {
    if (RAND_bytes(buf, sizeof(buf)) != 1) {
      std::random_device rd;  // OpenSSL unavailable: the OS entropy source directly
      for (auto& b : buf) b = static_cast<unsigned char>(rd());
    }
    for (unsigned char b : buf) {
      if (b < limit && out.size() < length) out.push_back(alphabet[b % alphabet.size()]);
    }
  }
  return out;
}

// Uniform in [lo, hi], hi - lo < 256.
std::size_t random_between(std::size_t lo, std::size_t hi) {
  const unsigned span = static_cast<unsigned>(hi - lo + 1);
  const unsigned limit = 256 - (256 % span);
  while (true) {
    unsigned char b = 0;
    if (RAND_bytes(&b, 1) != 1) b = static_cast<unsigned char>(std::random_device{}());
    if (b < limit) return lo + b % span;
  }
}

constexpr std::string_view kLowerAlnum = "abcdefghijklmnopqrstuvwxyz0123456789";
constexpr std::string_view kAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

std::string make_username() { return random_string(random_between(12, 16), kLowerAlnum); }
std::string make_password() { return random_string(random_between(16, 24), kAlnum); }

// Lower-case; every run of characters outside [a-z0-9] becomes one '-'; trimmed; bounded; "inbox" if
// nothing is left.
std::string slugify(std::string_view name) {
  std::string slug;
  for (char c : name) {
    const char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    const bool keep = (lower >= 'a' && lower <= 'z') || (lower >= '0' && lower <= '9');
    if (keep) {
      slug.push_back(lower);
    } else if (!slug.empty() && slug.back() != '-') {
      slug.push_back('-');
    }
    if (slug.size() >= kMaxSlugBytes) break;
  }
  while (!slug.empty() && slug.back() == '-') slug.pop_back();
  return slug.empty() ? "inbox" : slug;
}

Inbox read_inbox(sqlite3_stmt* s) {
  Inbox in;
  in.id = sqlite3_column_int64(s, 0);
  in.project_id = sqlite3_column_int64(s, 1);
  in.project_name = column_text(s, 2);
  in.name = column_text(s, 3);
  in.slug = column_text(s, 4);
  in.smtp_username = column_text(s, 5);
  in.smtp_password = column_text(s, 6);
  in.created_ms = sqlite3_column_int64(s, 7);
  in.max_messages = sqlite3_column_int64(s, 8);
  in.max_age_ms = sqlite3_column_int64(s, 9);
  in.max_bytes = sqlite3_column_int64(s, 10);
  return in;
}

MessageRow read_row(sqlite3_stmt* s) {
  MessageRow row;
  row.id = column_text(s, 0);
  row.inbox_id = sqlite3_column_int64(s, 1);
  row.received_ms = sqlite3_column_int64(s, 2);
  row.size = sqlite3_column_int64(s, 3);
  row.read = sqlite3_column_int(s, 4) != 0;
  core::MessageSummary& m = row.summary;
  m.from = addresses_from_json(column_text(s, 5));
  m.to = addresses_from_json(column_text(s, 6));
  m.cc = addresses_from_json(column_text(s, 7));
  m.bcc = addresses_from_json(column_text(s, 8));
  m.reply_to = addresses_from_json(column_text(s, 9));
  m.subject = column_text(s, 10);
  m.date = column_text(s, 11);
  m.message_id = column_text(s, 12);
  m.attachments = sqlite3_column_int(s, 13);
  m.snippet = column_text(s, 14);
  m.tags = strings_from_json(column_text(s, 15));
  m.parse_failed = sqlite3_column_int(s, 16) != 0;
  m.parse_error = column_text(s, 17);
  row.auth_user = column_text(s, 18);
  row.seq = sqlite3_column_int64(s, 19);
  m.inlines = sqlite3_column_int(s, 20);
  return row;
}

}  // namespace

// ---- index_data codec (index_internal.h) -----------------------------------------------------------

namespace internal {

void encode_index_fields(const std::string_view (&fields)[kIndexFields], std::string& out) {
  for (std::string_view f : fields) {
    const auto n = static_cast<uint32_t>(f.size());
    const char len[4] = {static_cast<char>(n & 0xff), static_cast<char>((n >> 8) & 0xff),
                         static_cast<char>((n >> 16) & 0xff), static_cast<char>((n >> 24) & 0xff)};
    out.append(len, 4);
    out.append(f);
  }
}

bool decode_index_field(std::string_view encoded, int index, std::string_view& field) {
  if (index < 0 || index >= kIndexFields) return false;
  std::size_t pos = 0;
  for (int i = 0; i <= index; ++i) {
    if (encoded.size() - pos < 4) return false;
    const auto* p = reinterpret_cast<const unsigned char*>(encoded.data() + pos);
    const std::size_t n = p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<std::size_t>(p[3]) << 24);
    pos += 4;
    if (encoded.size() - pos < n) return false;
    if (i == index) field = encoded.substr(pos, n);
    pos += n;
  }
  return true;
}

// Decompresses an index_data value (one zstd frame that records its content size) into `plain`; false
// when it is malformed.
bool unpack_index_data(ZSTD_DCtx* dctx, const void* blob, std::size_t size, std::string& plain) {
  const unsigned long long content = blob ? ZSTD_getFrameContentSize(blob, size) : ZSTD_CONTENTSIZE_ERROR;
  if (content == ZSTD_CONTENTSIZE_ERROR || content == ZSTD_CONTENTSIZE_UNKNOWN || content > (1ull << 31)) {
    return false;
  }
  plain.resize(static_cast<std::size_t>(content));
  const std::size_t n = ZSTD_decompressDCtx(dctx, plain.data(), plain.size(), blob, size);
  return !ZSTD_isError(n) && n == plain.size();
}

namespace {

void index_field_function(sqlite3_context* ctx, int, sqlite3_value** argv) {
  const void* blob = sqlite3_value_blob(argv[0]);
  const auto size = static_cast<std::size_t>(sqlite3_value_bytes(argv[0]));
  const int index = sqlite3_value_int(argv[1]);
  std::string plain;
  std::string_view field;
  if (!unpack_index_data(static_cast<ZSTD_DCtx*>(sqlite3_user_data(ctx)), blob, size, plain) ||
      !decode_index_field(plain, index, field)) {
    sqlite3_result_error(ctx, "mailjar_index_field: malformed index_data", -1);
    return;
  }
  sqlite3_result_text64(ctx, field.data(), field.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
}

void free_dctx(void* p) { ZSTD_freeDCtx(static_cast<ZSTD_DCtx*>(p)); }

}  // namespace

int register_sql_functions(sqlite3* db) {
  ZSTD_DCtx* dctx = ZSTD_createDCtx();
  if (!dctx) return SQLITE_NOMEM;
  // Deterministic and innocuous: it only decodes its argument, so triggers may call it.
  return sqlite3_create_function_v2(db, "mailjar_index_field", 2,
                                    SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, dctx,
                                    index_field_function, nullptr, nullptr, free_dctx);
}

}  // namespace internal

namespace {

// ---- encoding (prepare_message) --------------------------------------------------------------------

constexpr std::size_t kMaxKeptScratch = std::size_t{1} << 20;  // larger buffers are freed after use

// This thread's zstd context and scratch buffers: prepare_message() may run on many threads at once.
struct ThreadEncoder {
  ZSTD_CCtx* cctx = nullptr;
  std::string scratch;      // compression output, sized to the largest bound seen (up to a limit)
  std::string index_plain;  // encode_index_fields() output
  ThreadEncoder() = default;
  ThreadEncoder(const ThreadEncoder&) = delete;
  ThreadEncoder& operator=(const ThreadEncoder&) = delete;
  ~ThreadEncoder() { ZSTD_freeCCtx(cctx); }
};

ThreadEncoder& thread_encoder() {
  thread_local ThreadEncoder encoder;
  return encoder;
}

// Compresses `in` as one zstd frame with its content size, into enc.scratch; the result views it and is
// valid until the next call on this thread.
Result<std::string_view> zstd_frame(ThreadEncoder& enc, std::string_view in) {
  if (!enc.cctx) enc.cctx = ZSTD_createCCtx();
  if (!enc.cctx) return core::make_error("io", "zstd: out of memory");
  const std::size_t bound = ZSTD_compressBound(in.size());
  if (enc.scratch.size() < bound) enc.scratch.resize(bound);
  const std::size_t n =
      ZSTD_compressCCtx(enc.cctx, enc.scratch.data(), bound, in.data(), in.size(), kZstdLevel);
  if (ZSTD_isError(n)) return core::make_error("io", std::string("zstd: ") + ZSTD_getErrorName(n));
  return std::string_view(enc.scratch.data(), n);
}

// Fills every encoded column of `out` from `m`: all of `out` except `out.message`. For raw bytes that do
// not compress, raw_compression is kCompressionNone and raw_data is left EMPTY: the caller moves or
// copies m.raw into it.
Result<void> encode_columns(const NewMessage& m, PreparedMessage& out) {
  ThreadEncoder& enc = thread_encoder();
  const core::MessageSummary& sum = m.summary;
  for (std::string* column : {&out.envelope_json, &out.from_json, &out.to_json, &out.cc_json, &out.bcc_json,
                              &out.reply_to_json, &out.tags_json, &out.raw_data, &out.index_data}) {
    column->clear();
  }
  append_envelope_json(out.envelope_json, m.envelope);
  append_addresses_json(out.from_json, sum.from);
  append_addresses_json(out.to_json, sum.to);
  append_addresses_json(out.cc_json, sum.cc);
  append_addresses_json(out.bcc_json, sum.bcc);
  append_addresses_json(out.reply_to_json, sum.reply_to);
  append_strings_json(out.tags_json, sum.tags);

  out.raw_size = static_cast<int64_t>(m.raw.size());
  out.raw_compression = kCompressionNone;
  if (!m.raw.empty()) {
    auto frame = zstd_frame(enc, m.raw);
    if (!frame) return frame.error();
    if (frame->size() < m.raw.size()) {  // else incompressible: the bytes are kept as they are
      out.raw_compression = kCompressionZstd;
      out.raw_data.assign(*frame);
    }
  }

  addresses_to_text(sum.from, out.from_text);
  addresses_to_text(sum.to, out.to_text);
  addresses_to_text(sum.cc, out.cc_text);
  addresses_to_text(sum.bcc, out.bcc_text);
  const std::string_view fields[internal::kIndexFields] = {sum.subject, out.from_text, out.to_text,
                                                           out.cc_text, out.bcc_text,  sum.text_for_index};
  enc.index_plain.clear();
  internal::encode_index_fields(fields, enc.index_plain);
  auto frame = zstd_frame(enc, enc.index_plain);
  if (!frame) return frame.error();
  out.index_data.assign(*frame);

  // A very large message leaves large buffers behind; keep them only up to a bound per thread.
  if (enc.scratch.size() > kMaxKeptScratch) std::string().swap(enc.scratch);
  if (enc.index_plain.capacity() > kMaxKeptScratch) std::string().swap(enc.index_plain);
  return {};
}

}  // namespace

Result<PreparedMessage> prepare_message(NewMessage message) {
  PreparedMessage p;
  if (auto r = encode_columns(message, p); !r) return r.error();
  if (p.raw_compression == kCompressionNone) {
    p.raw_data = std::move(message.raw);
  }
  std::string().swap(message.raw);  // the raw bytes are in raw_data (as they are or compressed)
  p.message = std::move(message);
  return p;
}

// ---- Impl ------------------------------------------------------------------------------------------

struct Store::Impl {
  // The raw message of a kRawGet row (columns raw_size, compression, data), decompressed and checked.
  Result<std::string> decode_raw(sqlite3_stmt* s, const std::string& id);

  sqlite3* db = nullptr;
  bool read_only = false;
  std::array<sqlite3_stmt*, kStmtCount> stmts{};
  ZSTD_DCtx* dctx = nullptr;
  // Reused across batches.
  std::vector<int64_t> seqs;
  std::vector<const NewMessage*> batch_messages;
  std::string index_plain;  // scratch: decompressed index_data
  bool sync_full = true;    // StoreOptions::sync_full
  bool index_lag = false;   // StoreOptions::index_lag

  ~Impl() {
    for (sqlite3_stmt* s : stmts) sqlite3_finalize(s);
    if (db) sqlite3_close_v2(db);
    ZSTD_freeDCtx(dctx);
  }

  // The cached statement, prepared on first use.
  Result<sqlite3_stmt*> stmt(Stmt id) {
    if (!stmts[id]) {
      const int rc = sqlite3_prepare_v3(db, kSql[id], -1, SQLITE_PREPARE_PERSISTENT, &stmts[id], nullptr);
      if (rc != SQLITE_OK) return db_error(db, rc, std::string("prepare \"") + kSql[id] + "\"");
    }
    return stmts[id];
  }

  // Runs a statement that returns no rows (or whose rows are ignored).
  Result<void> run(Stmt id, std::string_view what) {
    auto s = stmt(id);
    if (!s) return s.error();
    Use use(*s);
    int rc;
    while ((rc = sqlite3_step(*s)) == SQLITE_ROW) {
    }
    if (rc != SQLITE_DONE) return db_error(db, rc, what);
    return {};
  }

  // Ends the open transaction: commits when `outcome` is ok; rolls back when it, or the commit, failed.
  // Returns the first failure.
  Result<void> end_transaction(Result<void> outcome, std::string_view what) {
    if (outcome) outcome = run(kCommit, what);
    if (!outcome) (void)run(kRollback, "rollback");
    return outcome;
  }

  // The inbox's message and unread counts (inbox_counters); "not_found" for an unknown inbox.
  Result<void> counters(int64_t inbox_id, int64_t& total, int64_t& unread) {
    auto s = stmt(kCounters);
    if (!s) return s.error();
    Use use(*s);
    sqlite3_bind_int64(*s, 1, inbox_id);
    const int rc = sqlite3_step(*s);
    if (rc == SQLITE_DONE) return core::make_error("not_found", "inbox " + std::to_string(inbox_id) + " does not exist");
    if (rc != SQLITE_ROW) return db_error(db, rc, "count messages");
    total = sqlite3_column_int64(*s, 0);
    unread = sqlite3_column_int64(*s, 1);
    return {};
  }

  Result<void> exec(const char* sql, std::string_view what) {
    const int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return db_error(db, rc, what);
    return {};
  }

  Result<int> user_version() {
    auto s = stmt(kUserVersion);
    if (!s) return s.error();
    Use use(*s);
    const int rc = sqlite3_step(*s);
    if (rc != SQLITE_ROW) return db_error(db, rc, "read user_version");
    return sqlite3_column_int(*s, 0);
  }

  // Applies the embedded migrations newer than the database. Each runs in its own BEGIN IMMEDIATE
  // transaction after re-reading user_version, so two processes opening a new database at once apply
  // each migration exactly once.
  Result<void> migrate() {
    const auto all = internal::migrations();
    const int latest = static_cast<int>(all.size());
    while (true) {
      auto v = user_version();
      if (!v) return v.error();
      if (*v > latest) {
        return core::make_error("schema", "database schema version " + std::to_string(*v) +
                                              " is newer than this binary (" + std::to_string(latest) + ")");
      }
      if (*v == latest) return {};
      if (auto r = run(kBegin, "begin migration"); !r) return r;
      auto current = user_version();
      if (!current) {
        (void)run(kRollback, "rollback");
        return current.error();
      }
      Result<void> applied;
      if (*current < latest) {
        const internal::Migration& m = all[static_cast<std::size_t>(*current)];
        applied = exec(m.sql, std::string("apply schema ") + m.name);
        if (applied) {
          const std::string bump = "PRAGMA user_version = " + std::to_string(m.version);
          applied = exec(bump.c_str(), "set user_version");
        }
      }
      if (auto r = end_transaction(applied, "commit migration"); !r) return r;
    }
  }

  Result<std::optional<Inbox>> inbox_where(Stmt id, std::string_view key) {
    auto s = stmt(id);
    if (!s) return s.error();
    Use use(*s);
    bind_text(*s, 1, key);
    const int rc = sqlite3_step(*s);
    if (rc == SQLITE_ROW) return std::optional<Inbox>(read_inbox(*s));
    if (rc != SQLITE_DONE) return db_error(db, rc, "find inbox");
    return std::optional<Inbox>();
  }

  Result<bool> exists(Stmt id, std::string_view key) {
    auto s = stmt(id);
    if (!s) return s.error();
    Use use(*s);
    bind_text(*s, 1, key);
    const int rc = sqlite3_step(*s);
    if (rc == SQLITE_ROW) return true;
    if (rc != SQLITE_DONE) return db_error(db, rc, "lookup");
    return false;
  }

  Result<std::optional<int64_t>> project_id(std::string_view name) {
    auto s = stmt(kProjectIdByName);
    if (!s) return s.error();
    Use use(*s);
    bind_text(*s, 1, name);
    const int rc = sqlite3_step(*s);
    if (rc == SQLITE_ROW) return std::optional<int64_t>(sqlite3_column_int64(*s, 0));
    if (rc != SQLITE_DONE) return db_error(db, rc, "find project");
    return std::optional<int64_t>();
  }

  Result<int64_t> insert_project(std::string_view name, int64_t now) {
    auto s = stmt(kProjectInsert);
    if (!s) return s.error();
    Use use(*s);
    bind_text(*s, 1, name);
    sqlite3_bind_int64(*s, 2, now);
    const int rc = sqlite3_step(*s);
    if (rc != SQLITE_DONE) return db_error(db, rc, "create project");
    return sqlite3_last_insert_rowid(db);
  }

  // Inside a write transaction: inserts an inbox with a fresh unique slug and credentials.
  Result<Inbox> insert_inbox(int64_t project, std::string_view project_name, std::string_view name,
                             std::string_view slug_base) {
    std::string slug(slug_base);
    for (int n = 2;; ++n) {
      auto taken = exists(kSlugExists, slug);
      if (!taken) return taken.error();
      if (!*taken) break;
      slug = std::string(slug_base) + "-" + std::to_string(n);
    }
    std::string username;
    do {
      username = make_username();
      auto taken = exists(kUsernameExists, username);
      if (!taken) return taken.error();
      if (!*taken) break;
    } while (true);
    Inbox in;
    in.project_id = project;
    in.project_name = std::string(project_name);
    in.name = std::string(name);
    in.slug = std::move(slug);
    in.smtp_username = std::move(username);
    in.smtp_password = make_password();
    in.created_ms = core::now_unix_ms();
    auto s = stmt(kInboxInsert);
    if (!s) return s.error();
    Use use(*s);
    sqlite3_bind_int64(*s, 1, in.project_id);
    bind_text(*s, 2, in.name);
    bind_text(*s, 3, in.slug);
    bind_text(*s, 4, in.smtp_username);
    bind_text(*s, 5, in.smtp_password);
    sqlite3_bind_int64(*s, 6, in.created_ms);
    const int rc = sqlite3_step(*s);
    if (rc != SQLITE_DONE) {
      Error e = db_error(db, rc, "create inbox");
      if (e.code == "conflict")
        e.message = "inbox '" + in.name + "' already exists in project '" + in.project_name + "'";
      return e;
    }
    in.id = sqlite3_last_insert_rowid(db);
    return in;
  }

  // Makes sure project "default" with inbox "default" (slug "default") exists.
  Result<void> ensure_default() {
    auto found = inbox_where(kInboxBySlug, kDefaultName);
    if (!found) return found.error();
    if (found->has_value()) return {};
    if (auto r = run(kBegin, "begin"); !r) return r;
    auto result = [&]() -> Result<void> {
      auto again = inbox_where(kInboxBySlug, kDefaultName);
      if (!again) return again.error();
      if (again->has_value()) return {};  // another process won the race
      auto pid = project_id(kDefaultName);
      if (!pid) return pid.error();
      int64_t project;
      if (pid->has_value()) {
        project = **pid;
      } else {
        auto created = insert_project(kDefaultName, core::now_unix_ms());
        if (!created) return created.error();
        project = *created;
      }
      auto inbox = insert_inbox(project, kDefaultName, kDefaultName, kDefaultName);
      if (!inbox) return inbox.error();
      return run(kCommit, "commit");
    }();
    if (!result) (void)run(kRollback, "rollback");
    return result;
  }

  // Inserts the summary row and the raw bytes; returns the row's seq. `m` supplies the plain fields
  // (its raw bytes are not read), `p` the encoded ones.
  Result<int64_t> insert_row(const NewMessage& m, const PreparedMessage& p) {
    const core::MessageSummary& sum = m.summary;
    int64_t seq = 0;
    // Both statements use the same parameter numbers (?1..?20), so one binder serves them.
    const auto bind_all = [&](sqlite3_stmt* s) {
      const auto text = [&](int i, std::string_view v) {
        if (sqlite3_bind_parameter_name(s, i)) bind_text(s, i, v);
      };
      const auto integer = [&](int i, int64_t v) {
        if (sqlite3_bind_parameter_name(s, i)) sqlite3_bind_int64(s, i, v);
      };
      text(1, m.id);
      integer(2, m.inbox_id);
      integer(3, m.received_ms);
      integer(4, p.raw_size);
      text(5, p.envelope_json);
      text(6, p.from_json);
      text(7, p.to_json);
      text(8, p.cc_json);
      text(9, p.bcc_json);
      text(10, p.reply_to_json);
      text(11, sum.subject);
      text(12, sum.date);
      text(13, sum.message_id);
      integer(14, sum.attachments);
      text(15, sum.snippet);
      text(16, p.tags_json);
      integer(17, sum.parse_failed ? 1 : 0);
      text(18, sum.parse_error);
      integer(19, sum.inlines);
      integer(20, seq);
    };
    {
      auto s = stmt(kMessageInsert);
      if (!s) return s.error();
      Use use(*s);
      bind_all(*s);
      const int rc = sqlite3_step(*s);
      if (rc != SQLITE_DONE) {
        Error e = db_error(db, rc, "insert message " + m.id);
        if (e.code == "not_found") e.message = "inbox " + std::to_string(m.inbox_id) + " does not exist";
        return e;
      }
      seq = sqlite3_last_insert_rowid(db);
    }
    {
      auto s = stmt(kSummaryInsert);
      if (!s) return s.error();
      Use use(*s);
      bind_all(*s);
      const int rc = sqlite3_step(*s);
      if (rc != SQLITE_DONE) return db_error(db, rc, "insert summary " + m.id);
    }
    {
      auto s = stmt(kRawInsert);
      if (!s) return s.error();
      Use use(*s);
      sqlite3_bind_int64(*s, 1, seq);
      sqlite3_bind_int64(*s, 2, p.raw_size);
      sqlite3_bind_int(*s, 3, p.raw_compression);
      sqlite3_bind_blob64(*s, 4, p.raw_data.data(), p.raw_data.size(), SQLITE_STATIC);
      sqlite3_bind_blob64(*s, 5, p.index_data.data(), p.index_data.size(), SQLITE_STATIC);
      const int rc = sqlite3_step(*s);
      if (rc != SQLITE_DONE) return db_error(db, rc, "insert raw " + m.id);
    }
    for (const std::string& tag : sum.tags) {
      if (tag.empty()) continue;
      auto s = stmt(kTagInsert);
      if (!s) return s.error();
      Use use(*s);
      bind_text(*s, 1, tag);
      sqlite3_bind_int64(*s, 2, seq);
      const int rc = sqlite3_step(*s);
      if (rc != SQLITE_DONE) return db_error(db, rc, "insert tags of " + m.id);
    }
    return seq;
  }

  // Inside the open write transaction: adds up to `limit` (all when negative) messages above index_state's
  // line to messages_fts, oldest first, from their stored index_data, and moves the line past them.
  // Returns how many were indexed.
  Result<int64_t> index_above_line(int64_t limit) {
    auto line = index_line();
    if (!line) return line.error();
    int64_t last = line->first;
    int64_t done = 0;
    {
      auto todo = stmt(kIndexTodo);
      if (!todo) return todo.error();
      Use use_todo(*todo);
      sqlite3_bind_int64(*todo, 1, last);
      sqlite3_bind_int64(*todo, 2, limit);
      auto insert = stmt(kFtsInsert);
      if (!insert) return insert.error();
      int rc;
      while ((rc = sqlite3_step(*todo)) == SQLITE_ROW) {
        const int64_t seq = sqlite3_column_int64(*todo, 0);
        const auto malformed = [seq] {
          return core::make_error("corrupt", "index data of message " + std::to_string(seq) + " is malformed");
        };
        if (!internal::unpack_index_data(dctx, sqlite3_column_blob(*todo, 1),
                                         static_cast<std::size_t>(sqlite3_column_bytes(*todo, 1)), index_plain)) {
          return malformed();
        }
        Use use(*insert);
        sqlite3_bind_int64(*insert, 1, seq);
        for (int f = 0; f < internal::kIndexFields; ++f) {
          std::string_view field;
          if (!internal::decode_index_field(index_plain, f, field)) return malformed();
          sqlite3_bind_text64(*insert, 2 + f, field.data(), field.size(), SQLITE_STATIC, SQLITE_UTF8);
        }
        const int irc = sqlite3_step(*insert);
        if (irc != SQLITE_DONE) return db_error(db, irc, "index message " + std::to_string(seq));
        last = seq;
        ++done;
      }
      if (rc != SQLITE_DONE) return db_error(db, rc, "read messages to index");
    }
    if (done == 0) return done;
    auto set = stmt(kIndexLineSet);
    if (!set) return set.error();
    Use use(*set);
    sqlite3_bind_int64(*set, 1, last);
    const int rc = sqlite3_step(*set);
    if (rc != SQLITE_DONE) return db_error(db, rc, "move the index line");
    return done;
  }

  // (index_state's line, the highest seq stored), as this connection sees them now.
  Result<std::pair<int64_t, int64_t>> index_line() {
    auto s = stmt(kIndexLine);
    if (!s) return s.error();
    Use use(*s);
    const int rc = sqlite3_step(*s);
    if (rc != SQLITE_ROW) return db_error(db, rc, "read the index line");
    return std::pair<int64_t, int64_t>(sqlite3_column_int64(*s, 0), sqlite3_column_int64(*s, 1));
  }

  // Indexes up to `limit` (all when negative) lagging messages in a transaction of their own, committed
  // with synchronous=NORMAL: the index is derived data, and the next durable commit syncs the WAL frames
  // before it anyway.
  Result<int64_t> index_pending(int64_t limit) {
    if (read_only) return core::make_error("read_only", "the full-text index is behind and the store is read-only");
    if (sync_full) {
      if (auto r = run(kSyncNormal, "relax sync"); !r) return r.error();
    }
    Result<int64_t> done = int64_t{0};
    if (auto r = run(kBegin, "begin"); !r) {
      done = r.error();
    } else {
      done = index_above_line(limit);
      Result<void> outcome = done ? Result<void>() : Result<void>(done.error());
      if (auto ended = end_transaction(outcome, "commit index"); !ended) done = ended.error();
    }
    if (sync_full) {
      if (auto r = run(kSyncFull, "restore sync"); !r && done) done = r.error();
    }
    return done;
  }

  // Before a query that reads messages_fts, outside a transaction: indexes what lags, in chunks so that
  // the writer is not held off for long. Then gives back the page cache the index writes filled: on a
  // connection that mostly reads (an API thread's), it would otherwise stay at its cache_size.
  Result<void> ensure_indexed() {
    auto line = index_line();
    if (!line) return line.error();
    if (line->first >= line->second) return {};
    constexpr int64_t kChunk = 500;
    Result<void> out;
    while (true) {
      auto done = index_pending(kChunk);
      if (!done) {
        out = done.error();
        break;
      }
      if (*done < kChunk) break;
    }
    sqlite3_db_release_memory(db);
    return out;
  }

  // Writes one message's reports (inside the caller's transaction); a message that is gone is skipped.
  Result<void> put_report_rows(const MessageReports& m) {
    for (const StoredReport& report : m.reports) {
      auto s = stmt(kReportPut);
      if (!s) return s.error();
      Use use(*s);
      sqlite3_bind_int64(*s, 1, m.inbox_id);
      bind_text(*s, 2, m.message_id);
      bind_text(*s, 3, report.analyzer);
      bind_text(*s, 4, report.verdict);
      bind_text(*s, 5, report.json);
      sqlite3_bind_int64(*s, 6, report.created_ms);
      const int rc = sqlite3_step(*s);
      if (rc != SQLITE_DONE) return db_error(db, rc, "store report of " + m.message_id);
    }
    return {};
  }

  // Inserts messages[i] encoded as prepared[i] (same length, no nulls), then `reports`, in ONE transaction.
  Result<void> insert_batch(const std::vector<const NewMessage*>& messages,
                            const std::vector<const PreparedMessage*>& prepared,
                            const std::vector<const MessageReports*>& reports = {}) {
    if (messages.empty() && reports.empty()) return {};
    if (auto r = run(kBegin, "begin"); !r) return r;
    // All ordinary rows first, then (unless the index lags) all FTS rows: FTS5 flushes its in-memory index
    // at every statement savepoint, and each INSERT INTO messages (triggers, foreign key) opens one once
    // the FTS table has joined the transaction. In this order the batch's terms are written once, at commit.
    seqs.clear();
    Result<void> r;
    for (std::size_t i = 0; i < messages.size(); ++i) {
      auto seq = insert_row(*messages[i], *prepared[i]);
      if (!seq) {
        r = seq.error();
        break;
      }
      seqs.push_back(*seq);
    }
    if (r && !index_lag && !messages.empty()) {
      auto indexed = index_above_line(-1);
      if (!indexed) r = indexed.error();
    }
    for (std::size_t i = 0; r && i < reports.size(); ++i) r = put_report_rows(*reports[i]);
    return end_transaction(r, "commit");
  }

  // Opens one configured connection (pragmas, SQL functions, zstd contexts); no schema work.
  static Result<std::unique_ptr<Impl>> open_connection(const std::string& path, const StoreOptions& options) {
    auto impl = std::make_unique<Impl>();
    impl->read_only = options.read_only;
    impl->sync_full = options.sync_full;
    impl->index_lag = options.index_lag;
    const int flags =
        (options.read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)) |
        SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(path.c_str(), &impl->db, flags,
                             options.read_only ? nullptr : internal::wal_coalescing_vfs());
    if (rc != SQLITE_OK) {
      Error e = db_error(impl->db, rc, "open " + path);
      if ((rc & 0xff) == SQLITE_CANTOPEN) e.code = options.read_only ? "not_found" : "io";
      return e;
    }
    sqlite3_extended_result_codes(impl->db, 1);
    rc = internal::register_sql_functions(impl->db);
    if (rc != SQLITE_OK) return db_error(impl->db, rc, "register functions");
    sqlite3_busy_timeout(impl->db, options.busy_timeout_ms);
    if (auto r = impl->exec("PRAGMA foreign_keys = ON", "enable foreign keys"); !r) return r.error();
    if (!options.read_only) {
      if (auto r = impl->exec("PRAGMA journal_mode = WAL", "enable WAL"); !r) return r.error();
    }
    const std::string pragmas = std::string("PRAGMA synchronous = ") + (options.sync_full ? "FULL" : "NORMAL") +
                                "; PRAGMA temp_store = MEMORY; PRAGMA cache_size = -16384";
    if (auto r = impl->exec(pragmas.c_str(), "configure connection"); !r) {
      return r.error();
    }
    impl->dctx = ZSTD_createDCtx();
    if (!impl->dctx) return core::make_error("io", "zstd: out of memory");
    return impl;
  }

  // Creates a complete database (WAL mode, schema, defaults) under a private name, then links it into
  // place only if no database exists yet. A new file is the one case where SQLite's WAL locking does not
  // yet apply (an empty file uses rollback locking until its first commit), and concurrent first writers
  // can then block each other for the whole busy timeout; building aside and linking avoids that race.
  // Returns ok when `final_path` exists afterwards (made by this process or by another one).
  static Result<void> create_database(const std::filesystem::path& final_path, const StoreOptions& options) {
    namespace fs = std::filesystem;
    const fs::path tmp =
        final_path.string() + ".new-" + std::to_string(::getpid()) + "-" + random_string(8, kLowerAlnum);
    const auto remove_tmp = [&] {
      std::error_code ec;
      for (const char* suffix : {"", "-wal", "-shm", "-journal"}) fs::remove(tmp.string() + suffix, ec);
    };
    const Result<void> built = [&]() -> Result<void> {
      auto impl = open_connection(tmp.string(), options);
      if (!impl) return impl.error();
      if (auto r = impl.value()->migrate(); !r) return r;
      if (auto r = impl.value()->ensure_default(); !r) return r;
      return impl.value()->exec("PRAGMA wal_checkpoint(TRUNCATE)", "checkpoint new database");
    }();  // the connection is closed here: its WAL is checkpointed and removed
    if (!built) {
      remove_tmp();
      return built;
    }
    if (::link(tmp.c_str(), final_path.c_str()) != 0 && errno != EEXIST) {
      // No hard links on this filesystem: a plain rename, unless another process got there first.
      std::error_code ec;
      if (!fs::exists(final_path, ec)) fs::rename(tmp, final_path, ec);
    }
    remove_tmp();
    return {};
  }
};

// ---- Store -----------------------------------------------------------------------------------------

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Store::~Store() = default;

Result<std::unique_ptr<Store>> Store::open(const StoreOptions& options) {
  namespace fs = std::filesystem;
  const fs::path dir(options.data_dir.empty() ? "." : options.data_dir);
  const fs::path path = dir / kDatabaseFile;
  if (!options.read_only) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return core::make_error("io", "create " + dir.string() + ": " + ec.message());
    if (!fs::exists(path, ec)) {
      if (auto r = Impl::create_database(path, options); !r) return r.error();
    }
  }

  auto opened = Impl::open_connection(path.string(), options);
  if (!opened) return opened.error();
  std::unique_ptr<Impl> impl = std::move(opened).value();
  if (options.read_only) {
    auto v = impl->user_version();
    if (!v) return v.error();
    const int latest = static_cast<int>(internal::migrations().size());
    if (*v != latest) {
      return core::make_error("schema", "read-only database has schema version " + std::to_string(*v) +
                                            ", this binary needs " + std::to_string(latest));
    }
  } else {
    // An existing database may be older than this binary: migrate it (no-op when current).
    if (auto r = impl->migrate(); !r) return r.error();
    if (auto r = impl->ensure_default(); !r) return r.error();
  }
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

Result<Project> Store::create_project(const std::string& name) {
  if (auto problem = core::name_problem(name, "project name", core::kMaxNameBytes)) {
    return core::make_error("invalid", *problem);
  }
  const int64_t now = core::now_unix_ms();
  auto id = impl_->insert_project(name, now);
  if (!id) {
    Error e = id.error();
    if (e.code == "conflict") e.message = "project '" + name + "' already exists";
    return e;
  }
  return Project{*id, name, now};
}

Result<std::vector<Project>> Store::list_projects() {
  auto s = impl_->stmt(kProjectList);
  if (!s) return s.error();
  Use use(*s);
  std::vector<Project> out;
  int rc;
  while ((rc = sqlite3_step(*s)) == SQLITE_ROW) {
    out.push_back(Project{sqlite3_column_int64(*s, 0), column_text(*s, 1), sqlite3_column_int64(*s, 2)});
  }
  if (rc != SQLITE_DONE) return db_error(impl_->db, rc, "list projects");
  return out;
}

Result<Inbox> Store::create_inbox(const std::string& project_name, const std::string& name) {
  if (auto problem = core::name_problem(name, "inbox name", core::kMaxNameBytes)) {
    return core::make_error("invalid", *problem);
  }
  if (auto r = impl_->run(kBegin, "begin"); !r) return r.error();
  auto result = [&]() -> Result<Inbox> {
    auto pid = impl_->project_id(project_name);
    if (!pid) return pid.error();
    if (!pid->has_value())
      return core::make_error("not_found", "project '" + project_name + "' does not exist");
    auto inbox = impl_->insert_inbox(**pid, project_name, name, slugify(name));
    if (!inbox) return inbox;
    if (auto r = impl_->run(kCommit, "commit"); !r) return r.error();
    return inbox;
  }();
  if (!result) (void)impl_->run(kRollback, "rollback");
  return result;
}

Result<std::vector<Inbox>> Store::list_inboxes() {
  auto s = impl_->stmt(kInboxList);
  if (!s) return s.error();
  Use use(*s);
  std::vector<Inbox> out;
  int rc;
  while ((rc = sqlite3_step(*s)) == SQLITE_ROW) out.push_back(read_inbox(*s));
  if (rc != SQLITE_DONE) return db_error(impl_->db, rc, "list inboxes");
  return out;
}

Result<std::optional<Inbox>> Store::find_inbox_by_username(const std::string& smtp_username) {
  return impl_->inbox_where(kInboxByUsername, smtp_username);
}

Result<std::optional<Inbox>> Store::find_inbox_by_slug(const std::string& slug) {
  return impl_->inbox_where(kInboxBySlug, slug);
}

Result<Inbox> Store::default_inbox() {
  auto found = impl_->inbox_where(kInboxBySlug, kDefaultName);
  if (!found) return found.error();
  if (!found->has_value()) return core::make_error("not_found", "the default inbox does not exist");
  return std::move(**found);
}

Result<void> Store::insert_messages(const std::vector<const NewMessage*>& batch) {
  if (batch.empty()) return {};
  for (const NewMessage* m : batch) {
    if (!m) return core::make_error("invalid", "null message in batch");
  }
  // Encoded here, on the caller's thread; the raw bytes are read from `batch`, not copied, unless they
  // do not compress.
  std::vector<PreparedMessage> prepared(batch.size());
  std::vector<const PreparedMessage*> pointers(batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (auto r = encode_columns(*batch[i], prepared[i]); !r) return r;
    if (prepared[i].raw_compression == kCompressionNone) prepared[i].raw_data = batch[i]->raw;
    pointers[i] = &prepared[i];
  }
  return impl_->insert_batch(batch, pointers);
}

Result<void> Store::insert_prepared(const std::vector<const PreparedMessage*>& batch, std::vector<int64_t>* seqs,
                                    const std::vector<const MessageReports*>& reports) {
  if (seqs) seqs->clear();
  if (batch.empty() && reports.empty()) return {};
  std::vector<const NewMessage*>& messages = impl_->batch_messages;
  messages.clear();
  for (const PreparedMessage* p : batch) {
    if (!p) return core::make_error("invalid", "null message in batch");
    messages.push_back(&p->message);
  }
  for (const MessageReports* m : reports) {
    if (!m) return core::make_error("invalid", "null reports in batch");
  }
  impl_->seqs.clear();
  auto r = impl_->insert_batch(messages, batch, reports);
  if (r && seqs) *seqs = impl_->seqs;
  return r;
}

Result<void> Store::put_reports(const std::vector<const MessageReports*>& batch) {
  return insert_prepared({}, nullptr, batch);
}

Result<std::vector<std::pair<int64_t, std::string>>> Store::unanalysed(int64_t limit) {
  std::vector<std::pair<int64_t, std::string>> out;
  if (limit <= 0) return out;
  auto s = impl_->stmt(kUnanalysed);
  if (!s) return s.error();
  Use use(*s);
  sqlite3_bind_int64(*s, 1, limit);
  int rc;
  while ((rc = sqlite3_step(*s)) == SQLITE_ROW) out.emplace_back(sqlite3_column_int64(*s, 0), column_text(*s, 1));
  if (rc != SQLITE_DONE) return db_error(impl_->db, rc, "find unanalysed messages");
  return out;
}

Result<std::optional<std::vector<StoredReport>>> Store::get_reports(int64_t inbox_id, const std::string& id) {
  auto seq = seq_of(inbox_id, id);
  if (!seq) return seq.error();
  if (!seq.value()) return std::optional<std::vector<StoredReport>>();
  auto s = impl_->stmt(kReportsGet);
  if (!s) return s.error();
  Use use(*s);
  sqlite3_bind_int64(*s, 1, *seq.value());
  std::vector<StoredReport> out;
  int rc;
  while ((rc = sqlite3_step(*s)) == SQLITE_ROW) {
    StoredReport r;
    r.analyzer = column_text(*s, 0);
    r.verdict = column_text(*s, 1);
    r.json = column_text(*s, 2);
    r.created_ms = sqlite3_column_int64(*s, 3);
    out.push_back(std::move(r));
  }
  if (rc != SQLITE_DONE) return db_error(impl_->db, rc, "read reports");
  return std::optional<std::vector<StoredReport>>(std::move(out));
}

Result<MessagePage> Store::list_messages(int64_t inbox_id, int64_t start, int64_t limit,
                                         const std::string& before_id) {
  MessagePage page;
  if (auto r = impl_->counters(inbox_id, page.total, page.unread); !r) return r.error();
  if (limit <= 0 || start >= page.total) return page;
  auto s = impl_->stmt(before_id.empty() ? kMessageList : kMessageListBefore);
  if (!s) return s.error();
  Use use(*s);
  sqlite3_bind_int64(*s, 1, inbox_id);
  sqlite3_bind_int64(*s, 2, limit);
  sqlite3_bind_int64(*s, 3, start < 0 ? 0 : start);
  if (!before_id.empty()) bind_text(*s, 4, before_id);
  page.messages.reserve(static_cast<std::size_t>(std::min<int64_t>(limit, page.total)));
  int rc;
  while ((rc = sqlite3_step(*s)) == SQLITE_ROW) page.messages.push_back(read_row(*s));
  if (rc != SQLITE_DONE) return db_error(impl_->db, rc, "list messages");
  return page;
}

namespace {

// Runs a prepared "one message by (inbox_id, id)" statement: nullopt when there is no such row, else
// `read(stmt)` on the row (which may itself fail with an Error).
template <typename T, typename Read>
Result<std::optional<T>> find_one(sqlite3* db, Result<sqlite3_stmt*> s, int64_t inbox_id, const std::string& id,
                                  const char* what, Read read) {
  if (!s) return s.error();
  Use use(*s);
  sqlite3_bind_int64(*s, 1, inbox_id);
  bind_text(*s, 2, id);
  const int rc = sqlite3_step(*s);
  if (rc == SQLITE_DONE) return std::optional<T>();
  if (rc != SQLITE_ROW) return db_error(db, rc, what);
  Result<T> value = read(*s);
  if (!value.ok()) return value.error();
  return std::optional<T>(std::move(value).value());
}

}  // namespace

Result<std::optional<std::string>> Store::get_raw(int64_t inbox_id, const std::string& id) {
  return find_one<std::string>(impl_->db, impl_->stmt(kRawGet), inbox_id, id, "read raw",
                               [&](sqlite3_stmt* s) { return impl_->decode_raw(s, id); });
}

Result<std::string> Store::Impl::decode_raw(sqlite3_stmt* s, const std::string& id) {
  const int64_t raw_size = sqlite3_column_int64(s, 0);
  const int kind = sqlite3_column_int(s, 1);
  const void* data = sqlite3_column_blob(s, 2);
  const auto data_size = static_cast<std::size_t>(sqlite3_column_bytes(s, 2));
  if (raw_size < 0 || raw_size > kMaxRawBytes) return core::make_error("corrupt", "bad raw_size for " + id);
  std::string raw;
  if (kind == kCompressionNone) {
    raw.assign(static_cast<const char*>(data), data_size);
  } else if (kind == kCompressionZstd) {
    raw.resize(static_cast<std::size_t>(raw_size));
    const std::size_t n = ZSTD_decompressDCtx(dctx, raw.data(), raw.size(), data, data_size);
    if (ZSTD_isError(n))
      return core::make_error("corrupt", "zstd: " + std::string(ZSTD_getErrorName(n)) + " in " + id);
    raw.resize(n);
  } else {
    return core::make_error("corrupt", "unknown compression " + std::to_string(kind) + " for " + id);
  }
  if (static_cast<int64_t>(raw.size()) != raw_size)
    return core::make_error("corrupt", "raw size mismatch for " + id);
  return raw;
}

Result<std::optional<MessageRow>> Store::get_message(int64_t inbox_id, const std::string& id) {
  return find_one<MessageRow>(impl_->db, impl_->stmt(kMessageGet), inbox_id, id, "read message",
                              [](sqlite3_stmt* s) { return Result<MessageRow>(read_row(s)); });
}

Result<std::optional<core::Envelope>> Store::get_envelope(int64_t inbox_id, const std::string& id) {
  return find_one<core::Envelope>(
      impl_->db, impl_->stmt(kEnvelopeGet), inbox_id, id, "read envelope",
      [](sqlite3_stmt* s) { return Result<core::Envelope>(envelope_from_json(column_text(s, 0))); });
}

Result<std::vector<std::string>> Store::search_ids(int64_t inbox_id, const std::string& fts_query,
                                                   int64_t limit) {
  std::vector<std::string> ids;
  if (limit <= 0) return ids;
  if (auto r = impl_->ensure_indexed(); !r) return r.error();
  auto s = impl_->stmt(kSearch);
  if (!s) return s.error();
  Use use(*s);
  sqlite3_bind_int64(*s, 1, inbox_id);
  bind_text(*s, 2, fts_query);
  sqlite3_bind_int64(*s, 3, limit);
  int rc;
  while ((rc = sqlite3_step(*s)) == SQLITE_ROW) ids.push_back(column_text(*s, 0));
  if (rc != SQLITE_DONE) {
    Error e = db_error(impl_->db, rc, "search");
    if ((rc & 0xff) == SQLITE_ERROR) e.code = "invalid";  // FTS5 query syntax
    return e;
  }
  return ids;
}

Result<int64_t> Store::count_messages(int64_t inbox_id) {
  int64_t total = 0, unread = 0;
  if (auto r = impl_->counters(inbox_id, total, unread); !r) return r.error();
  return total;
}

// ---- the API's queries and changes --------------------------------------------------------------

namespace {

// A statement built for one call (dynamic SQL from a compiled query), finalized when the scope ends.
class Dynamic {
 public:
  Dynamic() = default;
  ~Dynamic() { sqlite3_finalize(s_); }
  Dynamic(const Dynamic&) = delete;
  Dynamic& operator=(const Dynamic&) = delete;

  Result<void> prepare(sqlite3* db, const std::string& sql) {
    const int rc = sqlite3_prepare_v2(db, sql.c_str(), static_cast<int>(sql.size()), &s_, nullptr);
    if (rc != SQLITE_OK) return db_error(db, rc, "prepare query");
    next_ = 1;
    return {};
  }
  void bind(int64_t v) { sqlite3_bind_int64(s_, next_++, v); }
  void bind(const std::string& v) { sqlite3_bind_text64(s_, next_++, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8); }
  void bind(const std::vector<SqlValue>& values) {
    for (const SqlValue& v : values) std::visit([&](const auto& x) { bind(x); }, v);
  }
  sqlite3_stmt* get() const { return s_; }

 private:
  sqlite3_stmt* s_ = nullptr;
  int next_ = 1;
};

// Maps a failed step of a query statement: FTS5 syntax errors cannot come from compiled queries, so any
// error here is the database's.
Error query_error(sqlite3* db, int rc, std::string_view what) { return db_error(db, rc, what); }

// "FROM ... WHERE ..." selecting the inbox's messages that match `q`, with alias m (and s, the summary,
// when `with_summary`, for reading rows); binds in order: [fts_match], inbox_id, q.params.
std::string match_from(const CompiledQuery& q, bool with_summary = false) {
  std::string sql;
  const std::string summary = with_summary ? std::string(" ") + kSummaryJoin : std::string(" ");
  if (!q.fts_match.empty()) {
    // CROSS JOIN keeps the full-text index as the outer loop (one MATCH, rows in rowid order); with a
    // plain JOIN the planner may walk the inbox and re-run the MATCH for every message.
    sql = "FROM messages_fts f CROSS JOIN messages m ON m.seq = f.rowid" + summary +
          "WHERE messages_fts MATCH ? AND m.inbox_id = ?";
  } else {
    sql = "FROM messages m" + summary + "WHERE m.inbox_id = ?";
  }
  sql += " AND (" + (q.where.empty() ? std::string("1") : q.where) + ")";
  return sql;
}

// Whether running `q` reads messages_fts, which must then be brought up to date first.
bool uses_index(const CompiledQuery& q) { return q.full_text || !q.fts_match.empty(); }

void bind_match(Dynamic& d, const CompiledQuery& q, int64_t inbox_id) {
  if (!q.fts_match.empty()) d.bind(q.fts_match);
  d.bind(inbox_id);
  d.bind(q.params);
}

// Collects column 0 (text) of every row.
Result<std::vector<std::string>> collect_ids(sqlite3* db, Dynamic& d, std::string_view what) {
  std::vector<std::string> ids;
  int rc;
  while ((rc = sqlite3_step(d.get())) == SQLITE_ROW) ids.push_back(column_text(d.get(), 0));
  if (rc != SQLITE_DONE) return query_error(db, rc, what);
  return ids;
}

// "?, ?, ?" for n values.
std::string placeholders(std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += i ? ", ?" : "?";
  return out;
}

// IDs are bound in chunks so that a request with many IDs stays under SQLite's variable limit.
constexpr std::size_t kIdChunk = 500;

}  // namespace

Result<SearchPage> Store::search(int64_t inbox_id, const CompiledQuery& query, int64_t start, int64_t limit) {
  SearchPage page;
  if (uses_index(query)) {
    if (auto r = impl_->ensure_indexed(); !r) return r.error();
  }
  if (auto r = impl_->counters(inbox_id, page.total, page.unread); !r) return r.error();
  const std::string from = match_from(query);
  const std::string from_rows = match_from(query, true);
  {
    Dynamic d;
    if (auto r = d.prepare(impl_->db, "SELECT count(*), coalesce(sum(m.read = 0), 0) " + from); !r) return r.error();
    bind_match(d, query, inbox_id);
    const int rc = sqlite3_step(d.get());
    if (rc != SQLITE_ROW) return query_error(impl_->db, rc, "count matches");
    page.matched = sqlite3_column_int64(d.get(), 0);
    page.matched_unread = sqlite3_column_int64(d.get(), 1);
  }
  if (limit <= 0 || start >= page.matched) return page;
  Dynamic d;
  const std::string order = query.fts_match.empty() ? " ORDER BY m.id DESC" : " ORDER BY f.rowid DESC";
  if (auto r = d.prepare(impl_->db, std::string(kRowSelect) + from_rows + order + " LIMIT ? OFFSET ?"); !r)
    return r.error();
  bind_match(d, query, inbox_id);
  d.bind(limit);
  d.bind(start < 0 ? int64_t{0} : start);
  int rc;
  while ((rc = sqlite3_step(d.get())) == SQLITE_ROW) page.messages.push_back(read_row(d.get()));
  if (rc != SQLITE_DONE) return query_error(impl_->db, rc, "search");
  return page;
}

Result<std::optional<MessageRow>> Store::first_match(int64_t inbox_id, const CompiledQuery& query, int64_t after_seq,
                                                     int64_t min_received_ms) {
  // Walks the few messages after `after_seq` in storage order; the full-text part is checked per row
  // (MATCH with a rowid constraint), so a common word does not expand its whole doclist.
  // "+m.inbox_id" keeps the planner on the seq range (the newest few rows) instead of the inbox index.
  if (uses_index(query)) {
    if (auto r = impl_->ensure_indexed(); !r) return r.error();
  }
  std::string sql = std::string(kRowSelect) + "FROM messages m " + kSummaryJoin +
                    "WHERE +m.inbox_id = ? AND m.seq > ? AND m.received_ms >= ?";
  if (!query.fts_match.empty()) {
    sql += " AND EXISTS (SELECT 1 FROM messages_fts WHERE messages_fts MATCH ? AND rowid = m.seq)";
  }
  sql += " AND (" + (query.where.empty() ? std::string("1") : query.where) + ") ORDER BY m.seq LIMIT 1";
  Dynamic d;
  if (auto r = d.prepare(impl_->db, sql); !r) return r.error();
  d.bind(inbox_id);
  d.bind(after_seq);
  d.bind(min_received_ms);
  if (!query.fts_match.empty()) d.bind(query.fts_match);
  d.bind(query.params);
  const int rc = sqlite3_step(d.get());
  if (rc == SQLITE_DONE) return std::optional<MessageRow>();
  if (rc != SQLITE_ROW) return query_error(impl_->db, rc, "wait query");
  return std::optional<MessageRow>(read_row(d.get()));
}

Result<int64_t> Store::index_pending(int64_t limit) { return impl_->index_pending(limit); }

bool Store::index_lag() const { return impl_->index_lag; }

Result<int64_t> Store::index_backlog() {
  Dynamic d;
  if (auto r = d.prepare(impl_->db,
                         "SELECT count(*) FROM messages WHERE seq > (SELECT indexed_seq FROM index_state WHERE id = 1)");
      !r)
    return r.error();
  const int rc = sqlite3_step(d.get());
  if (rc != SQLITE_ROW) return db_error(impl_->db, rc, "count messages to index");
  return sqlite3_column_int64(d.get(), 0);
}

Result<int64_t> Store::max_seq() {
  auto s = impl_->stmt(kMaxSeq);
  if (!s) return s.error();
  Use use(*s);
  const int rc = sqlite3_step(*s);
  if (rc != SQLITE_ROW) return db_error(impl_->db, rc, "max seq");
  return sqlite3_column_int64(*s, 0);
}

Result<std::optional<int64_t>> Store::seq_of(int64_t inbox_id, const std::string& id) {
  return find_one<int64_t>(impl_->db, impl_->stmt(kSeqOf), inbox_id, id, "find message",
                           [](sqlite3_stmt* s) { return Result<int64_t>(sqlite3_column_int64(s, 0)); });
}

Result<std::vector<std::string>> Store::list_tags(int64_t inbox_id) {
  auto s = impl_->stmt(kTagList);
  if (!s) return s.error();
  Use use(*s);
  sqlite3_bind_int64(*s, 1, inbox_id);
  std::vector<std::string> tags;
  int rc;
  while ((rc = sqlite3_step(*s)) == SQLITE_ROW) tags.push_back(column_text(*s, 0));
  if (rc != SQLITE_DONE) return db_error(impl_->db, rc, "list tags");
  return tags;
}

namespace {

// Runs `body` inside BEGIN IMMEDIATE ... COMMIT (ROLLBACK on failure) on `db`.
template <typename T, typename Body>
Result<T> in_transaction(sqlite3* db, Body body) {
  if (const int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr); rc != SQLITE_OK)
    return db_error(db, rc, "begin");
  Result<T> out = body();
  if (out.ok()) {
    if (const int rc = sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr); rc != SQLITE_OK) {
      out = db_error(db, rc, "commit");
    }
  }
  if (!out.ok()) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
  return out;
}

// Runs `sql_prefix + "(?, ?, ...)" + sql_suffix` for each chunk of `ids` (bound after `before`, then the
// chunk) and collects column 0 of the rows (statements with RETURNING id).
Result<std::vector<std::string>> for_id_chunks(sqlite3* db, const std::string& sql_prefix, const std::string& sql_suffix,
                                               const std::vector<SqlValue>& before, const std::vector<std::string>& ids,
                                               std::string_view what) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < ids.size(); i += kIdChunk) {
    const std::size_t n = std::min(kIdChunk, ids.size() - i);
    Dynamic d;
    if (auto r = d.prepare(db, sql_prefix + "(" + placeholders(n) + ")" + sql_suffix); !r) return r.error();
    d.bind(before);
    for (std::size_t k = 0; k < n; ++k) d.bind(ids[i + k]);
    auto got = collect_ids(db, d, what);
    if (!got) return got.error();
    out.insert(out.end(), got->begin(), got->end());
  }
  return out;
}

// Rewrites tags_json of the given messages from their message_tags rows.
Result<void> refresh_tags_json(sqlite3* db, const std::vector<std::string>& ids, int64_t inbox_id) {
  auto r = for_id_chunks(db,
                         "UPDATE message_summaries AS s SET tags_json = (SELECT coalesce(json_group_array(tag), "
                         "'[]') FROM (SELECT tag FROM message_tags t WHERE t.seq = s.seq ORDER BY tag COLLATE "
                         "NOCASE)) WHERE s.seq IN (SELECT seq FROM messages WHERE inbox_id = ? AND id IN ",
                         ")", {SqlValue(inbox_id)}, ids, "update tags");
  if (!r) return r.error();
  return {};
}

}  // namespace

Result<std::vector<std::string>> Store::set_read(int64_t inbox_id, const std::vector<std::string>& ids, bool read) {
  return in_transaction<std::vector<std::string>>(impl_->db, [&] {
    return for_id_chunks(impl_->db, "UPDATE messages SET read = ? WHERE inbox_id = ? AND read != ? AND id IN ",
                         " RETURNING id", {SqlValue(int64_t{read}), SqlValue(inbox_id), SqlValue(int64_t{read})}, ids,
                         "set read status");
  });
}

Result<std::vector<std::string>> Store::set_read_all(int64_t inbox_id, bool read) {
  return in_transaction<std::vector<std::string>>(impl_->db, [&]() -> Result<std::vector<std::string>> {
    Dynamic d;
    if (auto r = d.prepare(impl_->db, "UPDATE messages SET read = ? WHERE inbox_id = ? AND read != ? RETURNING id"); !r)
      return r.error();
    d.bind(int64_t{read});
    d.bind(inbox_id);
    d.bind(int64_t{read});
    return collect_ids(impl_->db, d, "set read status");
  });
}

Result<std::vector<std::string>> Store::set_read_matching(int64_t inbox_id, const CompiledQuery& query, bool read) {
  return in_transaction<std::vector<std::string>>(impl_->db, [&]() -> Result<std::vector<std::string>> {
    if (uses_index(query)) {
      if (auto r = impl_->index_above_line(-1); !r) return r.error();
    }
    Dynamic d;
    const std::string sql = "UPDATE messages SET read = ? WHERE read != ? AND seq IN (SELECT m.seq " +
                            match_from(query) + ") RETURNING id";
    if (auto r = d.prepare(impl_->db, sql); !r) return r.error();
    d.bind(int64_t{read});
    d.bind(int64_t{read});
    bind_match(d, query, inbox_id);
    return collect_ids(impl_->db, d, "set read status");
  });
}

Result<std::vector<std::string>> Store::delete_messages(int64_t inbox_id, const std::vector<std::string>& ids) {
  return in_transaction<std::vector<std::string>>(impl_->db, [&] {
    return for_id_chunks(impl_->db, "DELETE FROM messages WHERE inbox_id = ? AND id IN ", " RETURNING id",
                         {SqlValue(inbox_id)}, ids, "delete messages");
  });
}

Result<int64_t> Store::delete_all(int64_t inbox_id) {
  return in_transaction<int64_t>(impl_->db, [&]() -> Result<int64_t> {
    Dynamic d;
    if (auto r = d.prepare(impl_->db, "DELETE FROM messages WHERE inbox_id = ?"); !r) return r.error();
    d.bind(inbox_id);
    const int rc = sqlite3_step(d.get());
    if (rc != SQLITE_DONE) return db_error(impl_->db, rc, "delete all messages");
    return static_cast<int64_t>(sqlite3_changes64(impl_->db));
  });
}

Result<std::vector<std::string>> Store::delete_matching(int64_t inbox_id, const CompiledQuery& query) {
  return in_transaction<std::vector<std::string>>(impl_->db, [&]() -> Result<std::vector<std::string>> {
    if (uses_index(query)) {
      if (auto r = impl_->index_above_line(-1); !r) return r.error();
    }
    Dynamic d;
    if (auto r = d.prepare(impl_->db, "DELETE FROM messages WHERE seq IN (SELECT m.seq " + match_from(query) +
                                          ") RETURNING id");
        !r)
      return r.error();
    bind_match(d, query, inbox_id);
    return collect_ids(impl_->db, d, "delete messages");
  });
}

Result<std::vector<std::string>> Store::set_tags(int64_t inbox_id, const std::vector<std::string>& ids,
                                                 const std::vector<std::string>& tags) {
  if (tags.size() > core::kMaxTags) {
    return core::make_error("invalid", "more than " + std::to_string(core::kMaxTags) + " tags");
  }
  for (const std::string& tag : tags) {
    if (tag.empty()) continue;  // dropped, as documented
    if (auto problem = core::name_problem(tag, "tag", core::kMaxTagBytes)) return core::make_error("invalid", *problem);
  }
  return in_transaction<std::vector<std::string>>(impl_->db, [&]() -> Result<std::vector<std::string>> {
    auto cleared = for_id_chunks(impl_->db,
                                 "DELETE FROM message_tags WHERE seq IN (SELECT seq FROM messages WHERE inbox_id = ? "
                                 "AND id IN ",
                                 ")", {SqlValue(inbox_id)}, ids, "clear tags");
    if (!cleared) return cleared.error();
    for (const std::string& tag : tags) {
      if (tag.empty()) continue;
      auto added = for_id_chunks(impl_->db,
                                 "INSERT OR IGNORE INTO message_tags (tag, seq) SELECT ?, seq FROM messages WHERE inbox_id = ? AND id IN ",
                                 "", {SqlValue(tag), SqlValue(inbox_id)}, ids, "add tags");
      if (!added) return added.error();
    }
    if (auto r = refresh_tags_json(impl_->db, ids, inbox_id); !r) return r.error();
    // The IDs that exist in the inbox, in request order.
    return for_id_chunks(impl_->db, "SELECT id FROM messages WHERE inbox_id = ? AND id IN ", "",
                         {SqlValue(inbox_id)}, ids, "find messages");
  });
}

Result<std::vector<std::string>> Store::rename_tag(int64_t inbox_id, const std::string& from, const std::string& to) {
  if (!to.empty()) {
    if (auto problem = core::name_problem(to, "tag", core::kMaxTagBytes)) return core::make_error("invalid", *problem);
  }
  return in_transaction<std::vector<std::string>>(impl_->db, [&]() -> Result<std::vector<std::string>> {
    Dynamic d;
    if (auto r = d.prepare(impl_->db,
                           "SELECT m.id FROM message_tags t CROSS JOIN messages m ON m.seq = t.seq WHERE t.tag = ? AND "
                           "m.inbox_id = ?");
        !r)
      return r.error();
    d.bind(from);
    d.bind(inbox_id);
    auto ids = collect_ids(impl_->db, d, "find tagged messages");
    if (!ids || ids->empty()) return ids;
    if (auto r = for_id_chunks(impl_->db,
                               "DELETE FROM message_tags WHERE tag = ? AND seq IN (SELECT seq FROM messages WHERE "
                               "inbox_id = ? AND id IN ",
                               ")", {SqlValue(from), SqlValue(inbox_id)}, *ids, "remove tag");
        !r)
      return r.error();
    if (!to.empty()) {
      if (auto r = for_id_chunks(impl_->db,
                                 "INSERT OR IGNORE INTO message_tags (tag, seq) SELECT ?, seq FROM messages WHERE "
                                 "inbox_id = ? AND id IN ",
                                 "", {SqlValue(to), SqlValue(inbox_id)}, *ids, "add tag");
          !r)
        return r.error();
    }
    if (auto r = refresh_tags_json(impl_->db, *ids, inbox_id); !r) return r.error();
    return ids;
  });
}

Result<std::vector<std::string>> Store::delete_tag(int64_t inbox_id, const std::string& tag) {
  return rename_tag(inbox_id, tag, "");
}

// ---- management: inboxes, retention, tokens ---------------------------------------------------------

Result<Inbox> Store::update_inbox(const std::string& slug, const InboxUpdate& update) {
  return in_transaction<Inbox>(impl_->db, [&]() -> Result<Inbox> {
    auto found = impl_->inbox_where(kInboxBySlug, slug);
    if (!found) return found.error();
    if (!found->has_value()) return core::make_error("not_found", "inbox '" + slug + "' does not exist");
    Inbox in = std::move(**found);
    if (update.name) {
      if (auto problem = core::name_problem(*update.name, "inbox name", core::kMaxNameBytes)) {
        return core::make_error("invalid", *problem);
      }
      in.name = *update.name;
    }
    for (const auto& [value, field] : {std::pair{update.max_messages, &in.max_messages},
                                       std::pair{update.max_age_ms, &in.max_age_ms},
                                       std::pair{update.max_bytes, &in.max_bytes}}) {
      if (!value) continue;
      if (*value < 0) return core::make_error("invalid", "retention limits must be 0 (none) or positive");
      *field = *value;
    }
    if (update.rotate_credentials) {
      do {
        in.smtp_username = make_username();
        auto taken = impl_->exists(kUsernameExists, in.smtp_username);
        if (!taken) return taken.error();
        if (!*taken) break;
      } while (true);
      in.smtp_password = make_password();
    }
    Dynamic d;
    if (auto r = d.prepare(impl_->db,
                           "UPDATE inboxes SET name = ?, smtp_username = ?, smtp_password = ?, max_messages = ?, "
                           "max_age_ms = ?, max_bytes = ? WHERE id = ?");
        !r)
      return r.error();
    d.bind(in.name);
    d.bind(in.smtp_username);
    d.bind(in.smtp_password);
    d.bind(in.max_messages);
    d.bind(in.max_age_ms);
    d.bind(in.max_bytes);
    d.bind(in.id);
    const int rc = sqlite3_step(d.get());
    if (rc != SQLITE_DONE) {
      Error e = db_error(impl_->db, rc, "update inbox");
      if (e.code == "conflict") e.message = "an inbox named '" + in.name + "' already exists in this project";
      return e;
    }
    return in;
  });
}

Result<bool> Store::delete_inbox(const std::string& slug) {
  if (slug == kDefaultName) return core::make_error("invalid", "the default inbox cannot be deleted");
  return in_transaction<bool>(impl_->db, [&]() -> Result<bool> {
    auto found = impl_->inbox_where(kInboxBySlug, slug);
    if (!found) return found.error();
    if (!found->has_value()) return false;
    for (const char* sql : {"DELETE FROM messages WHERE inbox_id = ?", "DELETE FROM inboxes WHERE id = ?"}) {
      Dynamic d;
      if (auto r = d.prepare(impl_->db, sql); !r) return r.error();
      d.bind((*found)->id);
      const int rc = sqlite3_step(d.get());
      if (rc != SQLITE_DONE) return db_error(impl_->db, rc, "delete inbox");
    }
    return true;
  });
}

Result<std::vector<std::string>> Store::prune(const Inbox& inbox, int64_t now_ms) {
  if (inbox.max_messages <= 0 && inbox.max_age_ms <= 0 && inbox.max_bytes <= 0) return std::vector<std::string>();
  return in_transaction<std::vector<std::string>>(impl_->db, [&]() -> Result<std::vector<std::string>> {
    std::vector<std::string> deleted;
    const auto run_delete = [&](const std::string& sql, const std::vector<SqlValue>& values) -> Result<void> {
      Dynamic d;
      if (auto r = d.prepare(impl_->db, sql); !r) return r.error();
      d.bind(values);
      auto ids = collect_ids(impl_->db, d, "prune");
      if (!ids) return ids.error();
      deleted.insert(deleted.end(), ids->begin(), ids->end());
      return {};
    };
    if (inbox.max_age_ms > 0) {
      if (auto r = run_delete("DELETE FROM messages WHERE inbox_id = ? AND received_ms < ? RETURNING id",
                              {SqlValue(inbox.id), SqlValue(now_ms - inbox.max_age_ms)});
          !r)
        return r.error();
    }
    if (inbox.max_messages > 0) {
      // Everything after the newest max_messages, oldest first.
      if (auto r = run_delete("DELETE FROM messages WHERE seq IN (SELECT seq FROM messages WHERE inbox_id = ? "
                              "ORDER BY id DESC LIMIT -1 OFFSET ?) RETURNING id",
                              {SqlValue(inbox.id), SqlValue(inbox.max_messages)});
          !r)
        return r.error();
    }
    if (inbox.max_bytes > 0) {
      // The oldest messages whose removal brings the inbox's total size within the limit: those whose
      // running total counted from the newest exceeds it.
      if (auto r = run_delete("DELETE FROM messages WHERE seq IN (SELECT seq FROM (SELECT seq, sum(size) OVER "
                              "(ORDER BY id DESC) AS running FROM messages WHERE inbox_id = ?) WHERE running > ?) "
                              "RETURNING id",
                              {SqlValue(inbox.id), SqlValue(inbox.max_bytes)});
          !r)
        return r.error();
    }
    return deleted;
  });
}

namespace {

std::string sha256_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), digest, &n, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < n; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 15]);
  }
  return out;
}

}  // namespace

Result<std::string> Store::create_token(const std::optional<std::string>& project_name, const std::string& name) {
  std::optional<int64_t> project;
  if (project_name) {
    auto pid = impl_->project_id(*project_name);
    if (!pid) return pid.error();
    if (!pid->has_value()) return core::make_error("not_found", "project '" + *project_name + "' does not exist");
    project = **pid;
  }
  const std::string token = "mj_" + random_string(40, kAlnum);
  Dynamic d;
  if (auto r = d.prepare(impl_->db, "INSERT INTO api_tokens (project_id, name, sha256, created_ms) VALUES (?, ?, ?, ?)");
      !r)
    return r.error();
  // project_id stays NULL (an admin token) unless bound.
  if (project) sqlite3_bind_int64(d.get(), 1, *project);
  bind_text(d.get(), 2, name);
  const std::string hash = sha256_hex(token);
  bind_text(d.get(), 3, hash);
  sqlite3_bind_int64(d.get(), 4, core::now_unix_ms());
  const int rc = sqlite3_step(d.get());
  if (rc != SQLITE_DONE) return db_error(impl_->db, rc, "create token");
  return token;
}

Result<std::optional<TokenScope>> Store::find_token(const std::string& token) {
  if (token.empty() || token.size() > 256) return std::optional<TokenScope>();
  Dynamic d;
  if (auto r = d.prepare(impl_->db,
                         "SELECT t.project_id, coalesce(p.name, '') FROM api_tokens t LEFT JOIN projects p ON "
                         "p.id = t.project_id WHERE t.sha256 = ?");
      !r)
    return r.error();
  d.bind(sha256_hex(token));
  const int rc = sqlite3_step(d.get());
  if (rc == SQLITE_DONE) return std::optional<TokenScope>();
  if (rc != SQLITE_ROW) return db_error(impl_->db, rc, "find token");
  TokenScope scope;
  scope.admin = sqlite3_column_type(d.get(), 0) == SQLITE_NULL;
  scope.project_id = scope.admin ? 0 : sqlite3_column_int64(d.get(), 0);
  scope.project_name = column_text(d.get(), 1);
  return std::optional<TokenScope>(scope);
}

Result<std::optional<Project>> Store::find_project(const std::string& name) {
  auto pid = impl_->project_id(name);
  if (!pid) return pid.error();
  if (!pid->has_value()) return std::optional<Project>();
  return std::optional<Project>(Project{**pid, name, 0});
}

}  // namespace mailjar::store
