// NAME
//   store::query - Mailpit's search language, parsed and compiled to SQL over mailjar's schema.
// CONTRACT
//   Pure: no SQLite handle, no I/O except reading the zoneinfo file of an IANA time zone (QueryOptions).
//   Thread-safe (no shared state). parse_query() turns the text a user types into terms;
//   compile_query() turns terms into SQL text with bound values for Store to run. Never throws.
//
//   Syntax (Mailpit's, https://mailpit.axllent.org/docs/usage/search-filters/):
//     word                  every plain word must match somewhere (subject, from, to, cc, bcc, body),
//                           as a token prefix ("invoice" matches "invoices"); a word of several tokens
//                           ("alice@example.com") matches them in order, the last one as a prefix
//     "a phrase"            the words in this order (no prefix)
//     from: to: cc: bcc:    the address/name fields ("to:alice@example.com", "from:Alice"); like a word,
//                           the last token is a prefix ("to:alice@exa"), unless the value is quoted
//     addressed:            to, cc or bcc
//     reply-to:             the Reply-To addresses (substring)
//     subject:              the subject ("subject:\"two words\"" for a phrase)
//     message-id:           the Message-ID, exact, without <>
//     tag:NAME              has tag NAME (case-insensitive)
//     is:read is:unread is:tagged
//     has:attachment has:inline
//     larger:SIZE smaller:SIZE   SIZE is bytes or with a K/M/G suffix (1024-based, case-insensitive,
//                                optionally followed by B: 10, 10k, 2MB, 512b); a fraction is allowed
//                                (1.5M) and truncated to whole bytes. As in Mailpit, larger: is strictly
//                                greater and smaller: strictly less.
//     before:DATE after:DATE     DATE is YYYY-MM-DD (midnight in the request's time zone), RFC 3339 with
//                                Z or an offset, or YYYY-MM-DDTHH:MM[:SS] (read in the request's time zone);
//                                before is exclusive, after is inclusive of the instant
//     -term  !term          negation of any term above (the - or ! directly before it)
//   Operator names are case-insensitive; is: and has: values too (has:attachments, has:inlines are
//   accepted, as in Mailpit). A value may be quoted after the colon (to:"Bob Smith"). "name:value" with
//   a name of letters and '-' that is not an operator is an error, except a URL ("https://..."); "Re:" (no
//   value) is a plain word. Quotes elsewhere are ordinary characters. A plain word or phrase without token
//   characters (e.g. "-", "&") is ignored, as in Mailpit.
//   Limits: at most 4096 bytes and 64 terms.
//   Matching of words is Unicode case-insensitive and, for Latin letters, diacritic-insensitive (FTS5
//   unicode61, remove_diacritics 2); token characters are letters and digits, everything else separates
//   tokens.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/result.h"

namespace mailjar::store {

struct QueryTerm {
  enum class Kind {
    kText,    // plain word or phrase; field == ""
    kField,   // from/to/cc/bcc/addressed/subject/reply-to/message-id/tag: field set, value the text
    kIs,      // value: read | unread | tagged
    kHas,     // value: attachment | inline
    kLarger,  // number = bytes
    kSmaller,
    kBefore,  // number = Unix ms
    kAfter,
  };
  Kind kind = Kind::kText;
  bool negated = false;
  bool phrase = false;  // the value was quoted
  std::string field;    // lower-case operator name for kField
  std::string value;    // as typed (unquoted); for kIs/kHas normalised to the lower-case forms above
  int64_t number = 0;
};

// The time zone in which dates without an offset are read: "" or "UTC" (default), a fixed offset
// "+02:00"/"-0530", or an IANA name ("Europe/Berlin") read from the system zoneinfo
// (/usr/share/zoneinfo, TZif). It is resolved, and so checked, only when a date term needs it.
struct QueryOptions {
  std::string tz;
};

// Errors ("invalid", message naming the problem): unknown operator ("foo:bar"), operator without a value,
// bad is:/has: value, bad size or date, unterminated quote, unknown time zone, query too long or with too
// many terms.
// An empty or all-space query yields no terms (matches everything).
core::Result<std::vector<QueryTerm>> parse_query(std::string_view text, const QueryOptions& options = {});

using SqlValue = std::variant<int64_t, std::string>;

// SQL for Store. The schema names it may use (and nothing else):
//   messages m:      m.seq, m.inbox_id, m.received_ms, m.size, m.read, m.attachments, m.inlines,
//                    m.message_id, m.reply_to_json
//   messages_fts:    FTS5 table, rowid = m.seq; columns subject, "from", "to", cc, bcc, body
//   message_tags:    (seq, tag) rows; tag compared with COLLATE NOCASE
struct CompiledQuery {
  // FTS5 MATCH expression for all positive text/field terms that the full-text index serves, ANDed;
  // empty if there are none. The caller runs it as: messages_fts MATCH ?  (one bound value).
  std::string fts_match;
  // A boolean SQL condition on alias m for every other term (including negated full-text terms, as
  // "m.seq NOT IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?)"), ANDed; "1" if none.
  // Uses only positional "?" placeholders, bound in order from `params`.
  std::string where;
  std::vector<SqlValue> params;
  // Whether fts_match or `where` reads messages_fts: Store brings the index up to date first (it may lag
  // behind the messages, see schema 004_index_lag.sql).
  bool full_text = false;
};

// Never fails: every term from parse_query() compiles. A term whose text has no token characters
// (e.g. from:"@@") matches nothing when positive and everything when negated.
CompiledQuery compile_query(const std::vector<QueryTerm>& terms);

}  // namespace mailjar::store
