// Tests for store::parse_query and store::compile_query: first the parser and the compiler as pure functions
// (table-driven), then the proof that matters: the compiled SQL run against an in-memory SQLite database
// holding mailjar's FTS5 table (same tokenizer) and hand-made messages, query by query, with the expected
// set of matching messages.
#include "store/query.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <iterator>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "store/schema_internal.h"

namespace mailjar::store {
namespace {

using Kind = QueryTerm::Kind;

bool zone_exists(const std::string& name) { return std::filesystem::exists("/usr/share/zoneinfo/" + name); }

// One term as text, e.g. "-field/to q [Bob Smith]" or "after [2024-06-16] #1718496000000".
std::string describe(const QueryTerm& t) {
  static const char* const kNames[] = {"text", "field", "is", "has", "larger", "smaller", "before", "after"};
  std::string out = t.negated ? "-" : "";
  out += kNames[static_cast<int>(t.kind)];
  if (!t.field.empty()) out += "/" + t.field;
  if (t.phrase) out += " q";
  out += " [" + t.value + "]";
  if (t.kind >= Kind::kLarger) out += " #" + std::to_string(t.number);
  return out;
}

std::string describe(const std::vector<QueryTerm>& terms) {
  std::string out;
  for (const QueryTerm& t : terms) out += (out.empty() ? "" : " | ") + describe(t);
  return out;
}

std::string describe(const std::vector<SqlValue>& params) {
  std::string out;
  for (const SqlValue& p : params) {
    out += out.empty() ? "" : " | ";
    out += std::holds_alternative<int64_t>(p) ? "i:" + std::to_string(std::get<int64_t>(p))
                                              : "s:" + std::get<std::string>(p);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// parse_query

struct ParseCase {
  std::string query;
  std::string tz;
  std::string expected;  // describe() of the terms
};

TEST(ParseQuery, EveryOperatorAndForm) {
  const ParseCase cases[] = {
      {"", "", ""},
      {" \t\r\n ", "", ""},
      {"invoice", "", "text [invoice]"},
      {"Invoice  March", "", "text [Invoice] | text [March]"},
      {"\"two words\"", "", "text q [two words]"},
      {"\"two words\"next", "", "text q [two words] | text [next]"},
      {"-spam", "", "-text [spam]"},
      {"!spam", "", "-text [spam]"},
      {"-\"a phrase\"", "", "-text q [a phrase]"},
      {"--spam", "", "-text [-spam]"},
      {"- spam", "", "text [spam]"},  // a lone "-" has no token characters: ignored
      {"& * ^ \"\" \"!!\"", "", ""},
      {"Re: lunch", "", "text [Re:] | text [lunch]"},
      {"https://example.com/a?b=c", "", "text [https://example.com/a?b=c]"},
      {"10:30", "", "text [10:30]"},
      {"a\"b", "", "text [a\"b]"},
      {"Übergröße ZOË 日本語", "", "text [Übergröße] | text [ZOË] | text [日本語]"},
      {"from:alice", "", "field/from [alice]"},
      {"FROM:Alice", "", "field/from [Alice]"},
      {"To:bob@example.com", "", "field/to [bob@example.com]"},
      {"cc:carol", "", "field/cc [carol]"},
      {"bcc:dave", "", "field/bcc [dave]"},
      {"addressed:eve", "", "field/addressed [eve]"},
      {"reply-to:billing", "", "field/reply-to [billing]"},
      {"Reply-To:billing", "", "field/reply-to [billing]"},
      {"subject:Ärger", "", "field/subject [Ärger]"},
      {"subject:\"two words\"", "", "field/subject q [two words]"},
      {"message-id:<abc@example.com>", "", "field/message-id [<abc@example.com>]"},
      {"tag:Finance", "", "field/tag [Finance]"},
      {"to:\"Bob Smith\" x", "", "field/to q [Bob Smith] | text [x]"},
      {"-to:\"Bob Smith\"", "", "-field/to q [Bob Smith]"},
      {"!from:alice", "", "-field/from [alice]"},
      {"from:\"@@\"", "", "field/from q [@@]"},
      {"from:a:b", "", "field/from [a:b]"},
      {"is:read", "", "is [read]"},
      {"is:UNREAD", "", "is [unread]"},
      {"IS:Tagged", "", "is [tagged]"},
      {"!is:read", "", "-is [read]"},
      {"has:attachment", "", "has [attachment]"},
      {"has:Attachments", "", "has [attachment]"},
      {"has:inline", "", "has [inline]"},
      {"-has:inlines", "", "-has [inline]"},
      {"larger:10", "", "larger [10] #10"},
      {"larger:0", "", "larger [0] #0"},
      {"larger:10k", "", "larger [10k] #10240"},
      {"larger:10KB", "", "larger [10KB] #10240"},
      {"smaller:1.5M", "", "smaller [1.5M] #1572864"},
      {"smaller:2mb", "", "smaller [2mb] #2097152"},
      {"larger:2G", "", "larger [2G] #2147483648"},
      {"larger:512b", "", "larger [512b] #512"},
      {"larger:10.9", "", "larger [10.9] #10"},
      {"-smaller:1k", "", "-smaller [1k] #1024"},
      {"before:2024-06-16", "", "before [2024-06-16] #1718496000000"},
      {"before:2024-06-16", "UTC", "before [2024-06-16] #1718496000000"},
      {"before:2024-06-16", "utc", "before [2024-06-16] #1718496000000"},
      {"after:2024-06-16", "+02:00", "after [2024-06-16] #1718488800000"},
      {"after:2024-06-16", "+0200", "after [2024-06-16] #1718488800000"},
      {"after:2024-06-16", "+02", "after [2024-06-16] #1718488800000"},
      {"after:2024-06-16", "-0530", "after [2024-06-16] #1718515800000"},
      {"before:2024-06-16T12:30:00Z", "+02:00", "before [2024-06-16T12:30:00Z] #1718541000000"},
      {"before:2024-06-16t12:30:00z", "", "before [2024-06-16t12:30:00z] #1718541000000"},
      {"after:2024-06-16T12:30:00.250+02:00", "", "after [2024-06-16T12:30:00.250+02:00] #1718533800250"},
      {"after:\"2024-06-16 12:30:00Z\"", "", "after q [2024-06-16 12:30:00Z] #1718541000000"},
      {"after:2024-06-16T12:30", "+02:00", "after [2024-06-16T12:30] #1718533800000"},
      {"-before:2024-06-16", "", "-before [2024-06-16] #1718496000000"},
      // The time zone is only resolved when a date term needs it.
      {"invoice", "No/Such_Zone", "text [invoice]"},
      {"after:2024-06-16T00:00:00Z", "No/Such_Zone", "after [2024-06-16T00:00:00Z] #1718496000000"},
      {"subject:\"Ärger\" -from:zoë is:unread larger:1k", "",
       "field/subject q [Ärger] | -field/from [zoë] | is [unread] | larger [1k] #1024"},
  };
  for (const ParseCase& c : cases) {
    auto terms = parse_query(c.query, QueryOptions{c.tz});
    ASSERT_TRUE(terms.ok()) << c.query << ": " << terms.error().message;
    EXPECT_EQ(describe(*terms), c.expected) << c.query << " (tz " << c.tz << ")";
  }
}

struct ErrorCase {
  std::string query;
  std::string tz;
  std::string message_part;
};

TEST(ParseQuery, Errors) {
  const ErrorCase cases[] = {
      {"foo:bar", "", "unknown search operator 'foo:'"},
      {"X-Mailer:thing", "", "unknown search operator 'X-Mailer:'"},
      {"-in:inbox", "", "unknown search operator 'in:'"},
      {"col:x", "", "unknown search operator 'col:'"},
      {"to:", "", "'to:' needs a value"},
      {"larger:", "", "'larger:' needs a value"},
      {"is:foo", "", "unknown value 'foo' for is:"},
      {"is:", "", "needs a value"},
      {"has:pdf", "", "unknown value 'pdf' for has:"},
      {"larger:abc", "", "invalid size 'abc' for larger:"},
      {"larger:10x", "", "invalid size"},
      {"larger:1.M", "", "invalid size"},
      {"larger:.5", "", "invalid size"},
      {"smaller:-5", "", "invalid size '-5' for smaller:"},
      {"larger:1e3", "", "invalid size"},
      {"larger:9999999999999999999", "", "invalid size"},
      {"larger:99999999999G", "", "invalid size"},
      {"before:2024-13-01", "", "invalid date '2024-13-01' for before:"},
      {"before:2024-02-30", "", "invalid date"},
      {"before:2023-02-29", "", "invalid date"},
      {"after:yesterday", "", "invalid date 'yesterday' for after:"},
      {"after:24-06-16", "", "invalid date"},
      {"after:2024-06-16T25:00:00Z", "", "invalid date"},
      {"after:2024-06-16T12:00:00+2", "", "invalid date"},
      {"after:2024-06-16T12:00:00+25:00", "", "invalid date"},
      {"after:2024-06-16T12:00:00.Z", "", "invalid date"},
      {"after:2024-06-16Z", "", "invalid date"},
      {"\"unterminated phrase", "", "unterminated quote"},
      {"to:\"Bob", "", "unterminated quote"},
      {"ok \"", "", "unterminated quote"},
      {"after:2024-06-16", "Mars/Olympus_Mons", "unknown time zone 'Mars/Olympus_Mons'"},
      {"after:2024-06-16", "../../../etc/passwd", "unknown time zone"},
      {"after:2024-06-16", "/etc/localtime", "unknown time zone"},
      {"after:2024-06-16", "Europe/../Europe/Berlin", "unknown time zone"},
      {"after:2024-06-16", "zone.tab", "unknown time zone"},
      {"after:2024-06-16", "+25:00", "unknown time zone"},
      {"after:2024-06-16", "Europe/Berlin\n", "unknown time zone"},
      {"after:2024-06-16", std::string(200, 'A'), "unknown time zone"},
      {std::string(4097, 'a'), "", "longer than 4096 bytes"},
  };
  for (const ErrorCase& c : cases) {
    auto terms = parse_query(c.query, QueryOptions{c.tz});
    ASSERT_FALSE(terms.ok()) << c.query << " parsed as " << describe(*terms);
    EXPECT_EQ(terms.error().code, "invalid") << c.query;
    EXPECT_NE(terms.error().message.find(c.message_part), std::string::npos)
        << c.query << ": " << terms.error().message;
  }
}

TEST(ParseQuery, DirectoriesAndNonTzifFilesAreUnknownZones) {
  // tzdata (installed by scripts/setup.sh) has all three: a directory and two tables that are not TZif.
  for (const char* tz : {"Europe", "leapseconds", "iso3166.tab"}) {
    ASSERT_TRUE(zone_exists(tz)) << "/usr/share/zoneinfo/" << tz << " is missing: install tzdata";
    auto terms = parse_query("after:2024-06-16", QueryOptions{tz});
    ASSERT_FALSE(terms.ok()) << tz;
    EXPECT_NE(terms.error().message.find("unknown time zone"), std::string::npos) << tz;
  }
}

TEST(ParseQuery, Limits) {
  EXPECT_TRUE(parse_query(std::string(4096, 'a')).ok());

  std::string words;
  for (int k = 0; k < 64; ++k) words += "w" + std::to_string(k) + " ";
  auto ok = parse_query(words);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->size(), 64u);

  auto too_many = parse_query(words + "one-more");
  ASSERT_FALSE(too_many.ok());
  EXPECT_EQ(too_many.error().code, "invalid");
  EXPECT_NE(too_many.error().message.find("more than 64 terms"), std::string::npos);

  // Ignored terms count too: the bound is on the work, not on the result.
  EXPECT_TRUE(parse_query(std::string(65, '&')).ok());  // one word
  std::string ampersands;
  for (int k = 0; k < 65; ++k) ampersands += "& ";
  EXPECT_FALSE(parse_query(ampersands).ok());
}

// Midnight in IANA zones, read from the system's TZif files; expected values from Python's zoneinfo over the
// same files. The 2050 and 2060 rows lie past the files' transitions, so they exercise the POSIX TZ footer.
struct ZoneCase {
  std::string tz;
  std::string date;
  int64_t expected_ms;
};

TEST(ParseQuery, IanaZonesAtLocalMidnight) {
  const ZoneCase cases[] = {
      {"Europe/Berlin", "2024-01-10", 1704841200000},      // CET, +01:00
      {"Europe/Berlin", "2024-06-16", 1718488800000},      // CEST, +02:00
      {"Europe/Berlin", "2024-03-31", 1711839600000},      // day DST starts (at 02:00): midnight is +01:00
      {"Europe/Berlin", "2024-10-27", 1729980000000},      // day DST ends (at 03:00): midnight is +02:00
      {"Europe/Berlin", "2050-07-01", 2540239200000},      // footer rule, summer
      {"Europe/Berlin", "2050-01-01", 2524604400000},      // footer rule, winter
      {"Europe/Berlin", "1850-01-01", -3786828808000},     // before the first transition: LMT +00:53:28
      {"America/Santiago", "2023-09-03", 1693713600000},   // midnight skipped: the day starts at 01:00 -03
      {"America/Santiago", "2060-09-05", 2861582400000},   // the same gap from the footer rule (/24)
      {"Australia/Sydney", "2050-01-15", 2525778000000},   // southern summer, footer: +11:00
      {"Australia/Sydney", "2050-07-15", 2541420000000},   // southern winter, footer: +10:00
      {"America/Havana", "2024-11-03", 1730606400000},     // midnight occurs twice: the earlier one
      {"America/Sao_Paulo", "2050-01-01", 2524618800000},  // footer "<-03>3", no DST
      {"Asia/Kolkata", "2024-06-16", 1718476200000},       // +05:30
  };
  for (const ZoneCase& c : cases) {
    ASSERT_TRUE(zone_exists(c.tz)) << "/usr/share/zoneinfo/" << c.tz << " is missing: install tzdata";
    auto terms = parse_query("after:" + c.date, QueryOptions{c.tz});
    ASSERT_TRUE(terms.ok()) << c.tz << ": " << terms.error().message;
    ASSERT_EQ(terms->size(), 1u);
    EXPECT_EQ((*terms)[0].number, c.expected_ms) << c.tz << " " << c.date;
  }
}

// ---------------------------------------------------------------------------------------------------------
// compile_query

struct CompileCase {
  std::string query;
  std::string fts;
  std::string where;
  std::string params;  // describe() of the params
};

constexpr const char* kNotFts = "m.seq NOT IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?)";

TEST(CompileQuery, OutputShape) {
  const std::string not_fts = kNotFts;
  const CompileCase cases[] = {
      {"", "", "1", ""},
      {"invoice", "\"invoice\"*", "1", ""},
      {"invoice March", "\"invoice\"* AND \"March\"*", "1", ""},
      {"\"two words\"", "\"two words\"", "1", ""},
      {"alice@example.com", "\"alice example com\"*", "1", ""},
      {"foo—bar «baz» 🎉", "\"foo bar\"* AND \"baz\"*", "1", ""},
      {"zoë 日本語", "\"zoë\"* AND \"日本語\"*", "1", ""},
      {"from:alice", "{\"from\"} : (\"alice\"*)", "1", ""},
      {"to:alice@exa", "{\"to\"} : (\"alice exa\"*)", "1", ""},
      {"to:\"Bob Smith\"", "{\"to\"} : (\"Bob Smith\")", "1", ""},
      {"cc:carol bcc:dave", "{\"cc\"} : (\"carol\"*) AND {\"bcc\"} : (\"dave\"*)", "1", ""},
      {"addressed:carol", "{\"to\" \"cc\" \"bcc\"} : (\"carol\"*)", "1", ""},
      {"subject:\"Ärger mit\"", "{\"subject\"} : (\"Ärger mit\")", "1", ""},
      {"-spam", "", not_fts, "s:\"spam\"*"},
      {"-\"a b\" !from:x", "", not_fts + " AND " + not_fts, "s:\"a b\" | s:{\"from\"} : (\"x\"*)"},
      {"NEAR(a b) col", "\"NEAR a\"* AND \"b\"* AND \"col\"*", "1", ""},
      {"\"col:x\" * ^ AND OR NOT", "\"col x\" AND \"AND\"* AND \"OR\"* AND \"NOT\"*", "1", ""},
      {"\"a\"\"b\"", "\"a\" AND \"b\"", "1", ""},
      {"{\"from\"}:x", "\"from x\"*", "1", ""},
      {"is:read", "", "m.read != 0", ""},
      {"-is:read", "", "NOT (m.read != 0)", ""},
      {"is:unread", "", "m.read = 0", ""},
      {"is:tagged", "", "EXISTS (SELECT 1 FROM message_tags t WHERE t.seq = m.seq)", ""},
      {"has:attachment", "", "m.attachments > 0", ""},
      {"has:inline", "", "m.inlines > 0", ""},
      {"larger:10k", "", "m.size > ?", "i:10240"},
      {"smaller:1M", "", "m.size < ?", "i:1048576"},
      {"before:2024-06-16", "", "m.received_ms < ?", "i:1718496000000"},
      {"after:2024-06-16", "", "m.received_ms >= ?", "i:1718496000000"},
      {"-after:2024-06-16", "", "NOT (m.received_ms >= ?)", "i:1718496000000"},
      {"reply-to:50%_off\\", "", "m.reply_to_json LIKE ? ESCAPE '\\'", "s:%50\\%\\_off\\\\%"},
      {"message-id:<abc@example.com>", "", "m.message_id = ?", "s:abc@example.com"},
      {"message-id:abc@example.com", "", "m.message_id = ?", "s:abc@example.com"},
      {"tag:Finance", "", "m.seq IN (SELECT seq FROM message_tags WHERE tag = ? COLLATE NOCASE)",
       "s:Finance"},
      {"-tag:x", "", "NOT (m.seq IN (SELECT seq FROM message_tags WHERE tag = ? COLLATE NOCASE))", "s:x"},
      {"from:\"@@\"", "", "0", ""},
      {"-from:\"@@\"", "", "1", ""},
      {"invoice -spam is:unread larger:1k", "\"invoice\"*", not_fts + " AND m.read = 0 AND m.size > ?",
       "s:\"spam\"* | i:1024"},
  };
  for (const CompileCase& c : cases) {
    auto terms = parse_query(c.query);
    ASSERT_TRUE(terms.ok()) << c.query << ": " << terms.error().message;
    const CompiledQuery q = compile_query(*terms);
    EXPECT_EQ(q.fts_match, c.fts) << c.query;
    EXPECT_EQ(q.where, c.where) << c.query;
    EXPECT_EQ(describe(q.params), c.params) << c.query;
  }
}

TEST(CompileQuery, HandMadeTermsThatCannotMatchNeverFail) {
  const auto make = [](Kind kind, std::string field, std::string value, bool negated) {
    QueryTerm t;
    t.kind = kind;
    t.field = std::move(field);
    t.value = std::move(value);
    t.negated = negated;
    return t;
  };
  struct Case {
    QueryTerm term;
    std::string where;
  };
  const Case cases[] = {
      {make(Kind::kText, "", "&&", false), "0"},          {make(Kind::kText, "", "&&", true), "1"},
      {make(Kind::kField, "x-unknown", "v", false), "0"}, {make(Kind::kIs, "", "starred", false), "0"},
      {make(Kind::kIs, "", "starred", true), "NOT (0)"},  {make(Kind::kHas, "", "pdf", false), "0"},
  };
  for (const Case& c : cases) {
    const CompiledQuery q = compile_query({c.term});
    EXPECT_EQ(q.fts_match, "") << describe(c.term);
    EXPECT_EQ(q.where, c.where) << describe(c.term);
    EXPECT_TRUE(q.params.empty()) << describe(c.term);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Against SQLite

// The tables the compiled SQL names, shaped as in schema/001_init.sql (plus messages.inlines and
// message_tags), with the same FTS5 tokenizer.
constexpr const char* kSchema = R"sql(
CREATE TABLE messages (
  seq            INTEGER PRIMARY KEY,
  inbox_id       INTEGER NOT NULL DEFAULT 1,
  received_ms    INTEGER NOT NULL,
  size           INTEGER NOT NULL,
  read           INTEGER NOT NULL DEFAULT 0,
  attachments    INTEGER NOT NULL DEFAULT 0,
  inlines        INTEGER NOT NULL DEFAULT 0,
  message_id     TEXT    NOT NULL DEFAULT '',
  reply_to_json  TEXT    NOT NULL DEFAULT '[]'
);
CREATE VIRTUAL TABLE messages_fts USING fts5 (
  subject, "from", "to", cc, bcc, body,
  content = '',
  tokenize = 'unicode61 remove_diacritics 2',
  columnsize = 0
);
CREATE TABLE message_tags (seq INTEGER NOT NULL, tag TEXT NOT NULL);
)sql";

struct Message {
  int64_t seq;
  std::string subject, from, to, cc, bcc, body;
  int64_t received_ms;
  int64_t size;
  int read, attachments, inlines;
  std::string message_id, reply_to_json;
  std::vector<std::string> tags;
};

// 2024-... in UT, as Unix ms.
constexpr int64_t kJan9_2330 = 1704843000000;   // 2024-01-09T23:30:00Z = 2024-01-10 00:30 in Berlin
constexpr int64_t kJun15_2159 = 1718488799000;  // 2024-06-15T21:59:59Z = 23:59:59 in Berlin
constexpr int64_t kJun15_2200 = 1718488800000;  // 2024-06-15T22:00:00Z = 2024-06-16 00:00 in Berlin

const std::vector<Message>& messages() {
  // clang-format off
  static const std::vector<Message> kMessages = {
      {1, "Invoice 2024-001 for March", "Alice Smith alice@example.com", "Bob Jones bob@example.org", "", "",
       "Please find the invoice attached. Total: 100 EUR.", 1709287200000 /* 2024-03-01T10:00Z */, 5000, 1, 1,
       0, "inv-001@example.com", R"([{"name":"Billing Team","address":"billing@example.com"}])", {"Finance"}},
      {2, "Ärger mit der Übergröße", "Zoë Müller zoe@example.com", "Jürgen Groß juergen@example.de", "", "",
       "Die Lieferung war leider viel zu groß.", 1709625600000 /* 2024-03-05T08:00Z */, 12000, 0, 0, 2,
       "a1@mail.example.de", "[]", {}},
      {3, "Weekly newsletter #12", "News Desk news@newsletter.example", "alice@example.com", "",
       "Carol White carol@example.net", "Hello world! Top stories this week: invoices, taxes and more.",
       1712750400000 /* 2024-04-10T12:00Z */, 200000, 0, 0, 5, "nl-12@newsletter.example",
       R"([{"name":"","address":"no-reply@newsletter.example"}])", {"newsletter", "Promo"}},
      {4, "Re: lunch tomorrow?", "Bob Jones bob@example.org", "Alice Smith alice@example.com",
       "Dave Brown dave@example.com", "", "world hello, see you at noon", 1716203700000 /* 2024-05-20T11:15Z */,
       800, 1, 0, 0, "lunch-4@example.org", R"([{"name":"Bob","address":"bob.private@example.org"}])", {}},
      {5, "NEAR(a b) col:x \"quoted\" * ^ AND OR NOT", "Mallory mallory@evil.example", "victim@example.com", "",
       "", "a b c special characters 50%_off", 1717200000000 /* 2024-06-01T00:00Z */, 1500, 0, 0, 0,
       "inj@evil.example", R"([{"name":"50%_off deals","address":"deals@evil.example"}])", {"security"}},
      {6, "Your order has shipped", "Shop shop@store.example", "Carol White carol@example.net", "", "",
       "Tracking number 1Z999AA1 for order 42. Total 19.99 EUR", kJun15_2200, 1048577, 0, 2, 0,
       "order-42@store.example", "[]", {"orders"}},
      {7, "Meeting notes", "Carol White carol@example.net", "Team team@example.com", "alice@example.com", "",
       "The quick brown fox jumps over the lazy dog", kJun15_2159, 3000, 1, 0, 0, "notes-7@example.net", "[]",
       {}},
      {8, "Δοκιμή Ελληνικά", "Σωκράτης socrates@example.gr", "Πλάτων plato@example.gr", "", "",
       "Привет мир, 日本語のテスト", kJan9_2330, 2048, 0, 0, 0, "greek@example.gr", "[]", {}},
      {9, "Fox report", "Dave Brown dave@example.com", "Bob Jones bob@example.org", "", "",
       "a fox that is brown, quick and lazy", 1718524800000 /* 2024-06-16T08:00Z */, 1024, 0, 0, 0,
       "fox-9@example.com", "[]", {"FINANCE"}},
      {10, "Password reset 🎉", "no-reply no-reply@service.example", "alice@example.com", "", "",
       "Click the link to reset — it expires in 24 hours. https://service.example/reset?token=abc",
       1719824400000 /* 2024-07-01T09:00Z */, 4096, 0, 0, 0, "reset-10@service.example",
       R"([{"name":"Support","address":"support@service.example"}])", {}},
      {11, "", "", "", "", "", "", 1704063600000 /* 2023-12-31T23:00Z */, 10, 0, 0, 0, "", "[]", {}},
  };
  // clang-format on
  return kMessages;
}

using Seqs = std::set<int64_t>;

Seqs all_except(const Seqs& excluded) {
  Seqs out;
  for (const Message& m : messages()) {
    if (!excluded.count(m.seq)) out.insert(m.seq);
  }
  return out;
}

class Db {
 public:
  // An in-memory database, with kSchema unless `schema` is null.
  explicit Db(const char* schema = kSchema) {
    sqlite3_open(":memory:", &db_);
    if (schema != nullptr) exec(schema);
  }
  ~Db() { sqlite3_close(db_); }
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  void exec(const char* sql) {
    char* error = nullptr;
    const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &error);
    const std::string message = error ? error : "";
    sqlite3_free(error);
    ASSERT_EQ(rc, SQLITE_OK) << message;
  }

  // Runs `sql` with text/integer `params` bound in order; the first column of each row, or an error.
  core::Result<Seqs> select(const std::string& sql, const std::vector<SqlValue>& params) const {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) != SQLITE_OK) {
      return core::make_error("sqlite", sqlite3_errmsg(db_));
    }
    for (std::size_t k = 0; k < params.size(); ++k) {
      const int index = static_cast<int>(k) + 1;
      if (const auto* i = std::get_if<int64_t>(&params[k])) {
        sqlite3_bind_int64(s, index, *i);
      } else {
        const std::string& text = std::get<std::string>(params[k]);
        sqlite3_bind_text(s, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
      }
    }
    Seqs out;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) out.insert(sqlite3_column_int64(s, 0));
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) return core::make_error("sqlite", sqlite3_errmsg(db_));
    return out;
  }

  // The compiled query, run as Store runs it.
  core::Result<Seqs> search(const CompiledQuery& q) const {
    std::string sql = "SELECT m.seq FROM messages m WHERE ";
    std::vector<SqlValue> params;
    if (!q.fts_match.empty()) {
      sql += "m.seq IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?) AND ";
      params.emplace_back(q.fts_match);
    }
    sql += "(" + q.where + ")";
    params.insert(params.end(), q.params.begin(), q.params.end());
    return select(sql, params);
  }

 private:
  sqlite3* db_ = nullptr;
};

class QueryDbTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    db_ = new Db();
    for (const Message& m : messages()) {
      const std::vector<SqlValue> row = {m.seq,           m.received_ms,          m.size,
                                         int64_t{m.read}, int64_t{m.attachments}, int64_t{m.inlines},
                                         m.message_id,    m.reply_to_json};
      ASSERT_TRUE(db_->select("INSERT INTO messages (seq, received_ms, size, read, attachments, inlines, "
                              "message_id, reply_to_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                              row)
                      .ok());
      const std::vector<SqlValue> fts = {m.seq, m.subject, m.from, m.to, m.cc, m.bcc, m.body};
      ASSERT_TRUE(db_->select("INSERT INTO messages_fts (rowid, subject, \"from\", \"to\", cc, bcc, body) "
                              "VALUES (?, ?, ?, ?, ?, ?, ?)",
                              fts)
                      .ok());
      for (const std::string& tag : m.tags) {
        ASSERT_TRUE(db_->select("INSERT INTO message_tags (seq, tag) VALUES (?, ?)", {m.seq, tag}).ok());
      }
    }
  }
  static void TearDownTestSuite() {
    delete db_;
    db_ = nullptr;
  }

  // Parses, compiles and runs `query`; fails the test (naming the query) on any error.
  static Seqs run(const std::string& query, const std::string& tz = "") {
    auto terms = parse_query(query, QueryOptions{tz});
    if (!terms.ok()) {
      ADD_FAILURE() << query << ": " << terms.error().message;
      return {};
    }
    const CompiledQuery q = compile_query(*terms);
    auto rows = db_->search(q);
    if (!rows.ok()) {
      ADD_FAILURE() << query << ": " << rows.error().message << "\n  fts: " << q.fts_match
                    << "\n  where: " << q.where;
      return {};
    }
    return *rows;
  }

  static Db* db_;
};

Db* QueryDbTest::db_ = nullptr;

struct MatchCase {
  std::string query;
  Seqs expected;
  std::string tz = "";
};

void expect_matches(const std::vector<MatchCase>& cases,
                    Seqs (*run)(const std::string&, const std::string&)) {
  for (const MatchCase& c : cases) {
    EXPECT_EQ(run(c.query, c.tz), c.expected) << c.query << " (tz " << c.tz << ")";
  }
}

TEST_F(QueryDbTest, Words) {
  expect_matches(
      {
          {"", all_except({})},
          {"invoice", {1, 3}},  // a prefix: "invoices" too
          {"INVOICE", {1, 3}},
          {"invoice march", {1}},
          {"hello world", {3, 4}},
          {"fox brown", {7, 9}},
          {"tomorr", {4}},
          {"alice@example.com", {1, 3, 4, 7, 10}},
          {"1z999", {6}},
          {"eur 19", {6}},
          {"nothing-like-this", {}},
          {"Re: lunch", {4}},
          {"https://service.example/reset", {10}},
      },
      &run);
}

TEST_F(QueryDbTest, Phrases) {
  expect_matches(
      {
          {"\"hello world\"", {3}},
          {"\"world hello\"", {4}},
          {"\"quick brown fox\"", {7}},
          {"\"brown fox\"", {7}},
          {"\"fox brown\"", {}},
          {"\"tomorr\"", {}},  // no prefix in a phrase
          {"\"tomorrow\"", {4}},
          {"\"Total: 100 EUR\"", {1}},
      },
      &run);
}

TEST_F(QueryDbTest, UnicodeCaseFoldingAndDiacritics) {
  expect_matches(
      {
          {"ärger", {2}},
          {"ÄRGER", {2}},
          {"arger", {2}},
          {"übergröße", {2}},
          {"ubergroße", {2}},
          {"ZOË", {2}},
          {"zoe", {2}},
          {"Zoë", {2}},
          {"muller", {2}},
          {"groß", {2}},
          {"subject:ÜBERGRÖßE", {2}},
          {"from:ZOE", {2}},
          {"δοκιμή", {8}},
          {"ΔΟΚΙΜΉ", {8}},
          {"δοκιμη", {}},  // unicode61 removes diacritics from Latin letters only
          {"ПРИВЕТ мир", {8}},
          {"日本語", {8}},  // unicode61 does not split CJK: a prefix of the run "日本語のテスト"
          {"🎉 reset", {10}},
          {"reset —", {10}},
          {"«reset»", {10}},
      },
      &run);
}

TEST_F(QueryDbTest, FieldOperators) {
  expect_matches(
      {
          {"from:alice", {1}},
          {"FROM:ALICE", {1}},
          {"from:alice@example.com", {1}},
          {"to:alice", {3, 4, 10}},
          {"to:alice@exa", {3, 4, 10}},
          {"to:\"alice@exa\"", {}},
          {"to:\"Bob Jones\"", {1, 9}},
          {"to:\"Alice Smith\"", {4}},
          {"to:\"Alice Jones\"", {}},
          {"cc:alice", {7}},
          {"bcc:carol", {3}},
          {"addressed:carol", {3, 6}},
          {"addressed:alice", {3, 4, 7, 10}},
          {"from:zoë", {2}},
          {"subject:invoice", {1}},
          {"subject:\"lunch tomorrow\"", {4}},
          {"subject:fox", {9}},
          {"subject:\"\"", {}},
          {"from:\"@@\"", {}},
          {"reply-to:billing", {1}},
          {"reply-to:EXAMPLE.ORG", {4}},
          {"reply-to:\"Billing Team\"", {1}},
          {"reply-to:50%_off", {5}},
          {"reply-to:%", {5}},
          {"reply-to:_", {5}},
          {"reply-to:\\", {}},
          {"message-id:inv-001@example.com", {1}},
          {"message-id:<inv-001@example.com>", {1}},
          {"message-id:inv-001", {}},
          {"tag:finance", {1, 9}},
          {"tag:FINANCE", {1, 9}},
          {"tag:promo", {3}},
          {"tag:\"no such tag\"", {}},
      },
      &run);
}

TEST_F(QueryDbTest, FlagSizeAndDateOperators) {
  expect_matches(
      {
          {"is:read", {1, 4, 7}},
          {"is:unread", all_except({1, 4, 7})},
          {"is:tagged", {1, 3, 5, 6, 9}},
          {"has:attachment", {1, 6}},
          {"has:inline", {2, 3}},
          {"larger:1k", all_except({4, 9, 11})},  // strictly greater: 1024 is not larger than 1k
          {"smaller:1k", {4, 11}},
          {"larger:1M", {6}},
          {"larger:1.5k", all_except({4, 5, 9, 11})},
          {"smaller:10", {}},
          {"before:2024-03-05", {1, 8, 11}},
          {"before:2024-03-05T08:00:00Z", {1, 8, 11}},
          {"before:2024-03-05T08:00:00.001Z", {1, 2, 8, 11}},
          {"after:2024-06-16", {9, 10}},
          {"after:2024-06-15T22:00:00Z", {6, 9, 10}},
          {"after:2024-06-15T23:59:59+02:00", {6, 7, 9, 10}},
          {"after:2024-06-16", {6, 9, 10}, "+02:00"},
          {"before:2024-06-16", {1, 2, 3, 4, 5, 7, 8, 11}, "+02:00"},
          {"after:2024-06-16T00:00", {6, 9, 10}, "+02:00"},
          {"after:2024-06-15 before:2024-06-16", {6, 7}},
          {"after:2024-01-10", all_except({8, 11})},
      },
      &run);
}

TEST_F(QueryDbTest, TimeZoneEuropeBerlin) {
  ASSERT_TRUE(zone_exists("Europe/Berlin")) << "/usr/share/zoneinfo/Europe/Berlin is missing: install tzdata";
  expect_matches(
      {
          {"after:2024-06-16", {6, 9, 10}, "Europe/Berlin"},  // summer: +02:00
          {"before:2024-06-16", {1, 2, 3, 4, 5, 7, 8, 11}, "Europe/Berlin"},
          {"after:2024-01-10", all_except({11}), "Europe/Berlin"},  // winter: +01:00, so 8 is on the 10th
          {"before:2024-01-10", {11}, "Europe/Berlin"},
          {"after:2024-06-16T00:00:00", {6, 9, 10}, "Europe/Berlin"},
          {"after:2024-06-16T00:00:00Z", {9, 10}, "Europe/Berlin"},  // an explicit offset wins
      },
      &run);
}

TEST_F(QueryDbTest, NegationOfEveryKind) {
  expect_matches(
      {
          {"-invoice", all_except({1, 3})},
          {"!invoice", all_except({1, 3})},
          {"hello -\"hello world\"", {4}},
          {"-from:alice", all_except({1})},
          {"-to:\"Bob Jones\"", all_except({1, 9})},
          {"-addressed:carol", all_except({3, 6})},
          {"-subject:invoice", all_except({1})},
          {"-from:\"@@\"", all_except({})},
          {"-reply-to:example.org", all_except({4})},
          {"-message-id:inj@evil.example", all_except({5})},
          {"-tag:finance", all_except({1, 9})},
          {"-is:tagged", all_except({1, 3, 5, 6, 9})},
          {"-is:read", all_except({1, 4, 7})},
          {"!is:unread", {1, 4, 7}},
          {"-has:attachment", all_except({1, 6})},
          {"-has:inline", all_except({2, 3})},
          {"-larger:1k", {4, 9, 11}},
          {"-smaller:1k", all_except({4, 11})},
          {"-before:2024-06-01", {5, 6, 7, 9, 10}},
          {"-after:2024-06-01", all_except({5, 6, 7, 9, 10})},
      },
      &run);
}

TEST_F(QueryDbTest, Combinations) {
  expect_matches(
      {
          {"from:carol -is:read", {}},
          {"to:carol has:attachment larger:1M", {6}},
          {"invoice is:unread", {3}},
          {"world -\"world hello\" is:unread", {3}},
          {"alice -from:alice -to:alice", {7}},
          {"fox -tag:finance after:2024-06-01", {7}},
      },
      &run);
}

// Text that is FTS5 or SQL syntax is matched literally and never reaches either as syntax.
TEST_F(QueryDbTest, InjectionAttemptsMatchLiterally) {
  expect_matches(
      {
          {"\"NEAR(a b)\"", {5}},
          {"NEAR(a b)", {5}},
          {"\"col:x\"", {5}},
          {"subject:\"col:x\"", {5}},
          {"subject:NEAR", {5}},
          {"\"quoted\"", {5}},
          {"* ^ AND OR NOT", {5}},
          {"NOT", {5, 7}},
          {"a\"b", {5}},
          {"\"^invoice\"", {1}},
          {"invoice*", {1, 3}},
          {"x) OR (y", {}},
          {"{\"from\"}:alice", {}},
          {"from:\"alice\"*", {1}},  // the phrase "alice", then a word "*" (ignored): no prefix operator
          {"from:\"ali\"*", {}},
          {"'; DROP TABLE messages; --", {}},
          {"messages_fts", {}},
          {"subject:\") OR 1=1 --\"", {}},
          {"reply-to:\"' OR '1'='1\"", {}},
          {"message-id:\"' OR 1=1 --\"", {}},
          {"tag:\"x' OR '1'='1\"", {}},
          {"\xff\xfe invoice", {1, 3}},  // invalid UTF-8 separates tokens
      },
      &run);
  // The table is still there.
  EXPECT_EQ(run("invoice"), (Seqs{1, 3}));
}

// Queries assembled at random from hostile fragments: each either fails to parse with "invalid" or runs.
TEST_F(QueryDbTest, RandomHostileQueriesNeverBreakSql) {
  const std::vector<std::string> fragments = {
      "NEAR(", ")",   "\"",      "*",         "^",           ":",    "{",      "}",          "AND",
      "OR",    "NOT", "-",       "!",         "+",           "col:", "from:",  "to:\"",      "subject:",
      "\\",    "'",   ";",       "%",         "_",           "ä",    "🎉",      "—",          "日本",
      "alice", "fox", "is:read", "tag:",      "larger:",     "1k",   "after:", "2024-06-16", "\xff",
      " ",     " ",   " ",       "reply-to:", "message-id:", "<",    ">",      "\t",         "\"\"",
  };
  std::mt19937 rng(12345);
  std::uniform_int_distribution<std::size_t> pick(0, fragments.size() - 1);
  std::uniform_int_distribution<int> length(1, 12);
  int ran = 0;
  for (int k = 0; k < 3000; ++k) {
    std::string query;
    for (int n = length(rng); n > 0; --n) query += fragments[pick(rng)];
    auto terms = parse_query(query);
    if (!terms.ok()) {
      EXPECT_EQ(terms.error().code, "invalid") << query;
      continue;
    }
    auto rows = db_->search(compile_query(*terms));
    EXPECT_TRUE(rows.ok()) << query << ": " << rows.error().message;
    ++ran;
  }
  EXPECT_GT(ran, 500);
}

// Every table and column the compiler names exists in the store's real schema (all migrations applied):
// each kind of term runs there and finds what it should.
TEST(QueryRealSchema, EveryKindOfTermRunsAgainstTheMigratedSchema) {
  Db db(nullptr);
  for (const internal::Migration& m : internal::migrations()) db.exec(m.sql);
  db.exec(R"sql(
    INSERT INTO projects (id, name, created_ms) VALUES (1, 'p', 0);
    INSERT INTO inboxes (id, project_id, name, slug, smtp_username, smtp_password, created_ms)
      VALUES (1, 1, 'default', 'default', 'u', 'p', 0);
    INSERT INTO messages (seq, id, inbox_id, received_ms, size, read, reply_to_json, message_id,
                          attachments, inlines)
      VALUES (1, 'A', 1, 1000, 5000, 1, '[{"name":"","address":"billing@example.com"}]', 'one@x', 1, 0),
             (2, 'B', 1, 2000, 100, 0, '[]', 'two@x', 0, 3);
    INSERT INTO message_summaries (seq, envelope) VALUES (1, '{}'), (2, '{}');
    INSERT INTO messages_fts (rowid, subject, "from", "to", cc, bcc, body)
      VALUES (1, 'Invoice', 'Alice alice@example.com', 'Bob bob@example.org', '', '', 'Total 100'),
             (2, 'Ärger', 'Zoë zoe@example.com', 'Carol carol@example.net', 'dave@example.com', '', 'Hallo');
    INSERT INTO message_tags (tag, seq) VALUES ('Finance', 1);
  )sql");
  const std::pair<std::string, Seqs> cases[] = {
      {"invoice", {1}},
      {"\"total 100\"", {1}},
      {"-invoice", {2}},
      {"from:zoe", {2}},
      {"to:bob@example.org", {1}},
      {"cc:dave", {2}},
      {"bcc:x", {}},
      {"addressed:carol", {2}},
      {"subject:ärger", {2}},
      {"reply-to:billing", {1}},
      {"message-id:<two@x>", {2}},
      {"tag:FINANCE", {1}},
      {"is:tagged", {1}},
      {"-is:tagged", {2}},
      {"is:read", {1}},
      {"is:unread", {2}},
      {"has:attachment", {1}},
      {"has:inline", {2}},
      {"larger:1k", {1}},
      {"smaller:1k", {2}},
      {"before:1970-01-01T00:00:01.500Z", {1}},
      {"after:1970-01-01T00:00:01.500Z", {2}},
  };
  for (const auto& [query, expected] : cases) {
    auto terms = parse_query(query);
    ASSERT_TRUE(terms.ok()) << query << ": " << terms.error().message;
    auto rows = db.search(compile_query(*terms));
    ASSERT_TRUE(rows.ok()) << query << ": " << rows.error().message;
    EXPECT_EQ(*rows, expected) << query;
  }
}

// compile_query's idea of which non-ASCII characters separate tokens agrees with unicode61's, for every
// code point in the blocks its table covers: "a<c>b" compiles to the phrase "a b" exactly when SQLite's
// tokenizer splits "a<c>b" in two. (Measured against the linked SQLite; if a future SQLite updates its
// Unicode tables, this test says which ranges to update.)
TEST(UnicodeTokens, SeparatorsAgreeWithUnicode61) {
  Db db;
  db.exec("CREATE VIRTUAL TABLE t USING fts5(x, tokenize = 'unicode61 remove_diacritics 2')");
  const std::pair<char32_t, char32_t> blocks[] = {
      {0x80, 0x3FF}, {0x2000, 0x2BFF}, {0x3000, 0x303F}, {0xFE00, 0xFFFF}, {0x1F000, 0x1FAFF}};
  const auto utf8 = [](char32_t c) {
    std::string s;
    if (c < 0x800) {
      s += static_cast<char>(0xC0 | (c >> 6));
    } else if (c < 0x10000) {
      s += static_cast<char>(0xE0 | (c >> 12));
      s += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    } else {
      s += static_cast<char>(0xF0 | (c >> 18));
      s += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
      s += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    }
    s += static_cast<char>(0x80 | (c & 0x3F));
    return s;
  };
  db.exec("BEGIN");
  Seqs ours;
  for (const auto& [first, last] : blocks) {
    for (char32_t c = first; c <= last; ++c) {
      const std::string text = "a" + utf8(c) + "b";
      ASSERT_TRUE(db.select("INSERT INTO t (rowid, x) VALUES (?, ?)", {int64_t{c}, text}).ok());
      QueryTerm term;
      term.value = text;
      if (compile_query({term}).fts_match == "\"a b\"*") ours.insert(c);
    }
  }
  db.exec("COMMIT");
  auto theirs = db.select("SELECT rowid FROM t WHERE t MATCH '\"a b\"'", {});
  ASSERT_TRUE(theirs.ok()) << theirs.error().message;
  std::vector<int64_t> only_ours, only_theirs;
  std::set_difference(ours.begin(), ours.end(), theirs->begin(), theirs->end(),
                      std::back_inserter(only_ours));
  std::set_difference(theirs->begin(), theirs->end(), ours.begin(), ours.end(),
                      std::back_inserter(only_theirs));
  EXPECT_TRUE(only_ours.empty()) << "first code point we split and unicode61 does not: U+" << std::hex
                                 << (only_ours.empty() ? 0 : only_ours[0]);
  EXPECT_TRUE(only_theirs.empty()) << "first code point unicode61 splits and we do not: U+" << std::hex
                                   << (only_theirs.empty() ? 0 : only_theirs[0]);
  EXPECT_GT(ours.size(), 1000u);
}

}  // namespace
}  // namespace mailjar::store
