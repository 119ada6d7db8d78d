// Tests for analyzers/analyzer.h (registry, run_all, grading, JSON) and analyzers/headers/headers.h: one
// row per finding id proving it fires, rows proving it does not fire on near-misses, and hostile input
// (random bytes, random header values, the real-world corpus in tests/fixtures/mime) that must never
// throw and must give bounded, valid UTF-8 evidence.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "analyzers/analyzer.h"
#include "analyzers/analyzer_internal.h"
#include "analyzers/headers/headers.h"
#include "mime/detail.h"
#include "mime/mime.h"
#include "tests/unit/mime/utf8_check.h"
#include "tests/unit/testing.h"

namespace mailjar::analyzers {
namespace {

namespace fs = std::filesystem;
using mailjar::testing::crlf;

constexpr int64_t kNow = 1704164645000;  // 2024-01-02T03:04:05Z, a Tuesday

bool valid_utf8(std::string_view s) { return mailjar::mime::testing::valid_utf8(s, /*reject_nul=*/false); }

// The header of a clean message, field by field; every check passes on it.
const std::vector<std::pair<std::string, std::string>>& base_fields() {
  static const std::vector<std::pair<std::string, std::string>> fields = {
      {"From", "From: Alice <alice@example.com>"},
      {"To", "To: Bob <bob@example.org>"},
      {"Subject", "Subject: Hello"},
      {"Date", "Date: Tue, 02 Jan 2024 03:00:00 +0000"},
      {"Message-ID", "Message-ID: <abc.123@example.com>"},
      {"MIME-Version", "MIME-Version: 1.0"},
      {"Content-Type", "Content-Type: text/plain; charset=utf-8"},
  };
  return fields;
}

// A change to the clean header: `lines` replace the base line of `field` ("" removes it); a field the
// base does not have is added after the others.
struct Edit {
  std::string field;
  std::string lines;
};

// The clean message with `edits` applied, "\n" line ends.
std::string message(const std::vector<Edit>& edits, const std::string& body = "Hello Bob.\n") {
  std::vector<std::pair<std::string, std::string>> fields = base_fields();
  for (const Edit& e : edits) {
    auto it = std::find_if(fields.begin(), fields.end(), [&](const auto& f) { return f.first == e.field; });
    if (it != fields.end()) {
      it->second = e.lines;
    } else {
      fields.emplace_back(e.field, e.lines);
    }
  }
  std::string out;
  for (const auto& f : fields) {
    if (!f.second.empty()) out += f.second + "\n";
  }
  return out + "\n" + body;
}

core::Envelope clean_envelope() {
  core::Envelope e;
  e.mail_from = "alice@example.com";
  e.rcpts.push_back({"bob@example.org", ""});
  e.helo = "client.example.com";
  e.esmtp = true;
  return e;
}

Context at(int64_t now_ms) {
  Context context;
  context.now_ms = now_ms;
  return context;
}

Report run_headers(std::string_view raw, const core::Envelope& envelope, int64_t received_ms = kNow,
                   int64_t now_ms = kNow) {
  const mime::MessageDetail detail = mime::parse_detail(raw);
  const Input input{detail, raw, envelope, received_ms};
  Context context;
  context.now_ms = now_ms;
  return *make_headers_analyzer()->step(input, context).report;
}

// "id:severity" of each finding, sorted, so a row states the exact multiset it expects.
std::vector<std::string> finding_keys(const Report& report) {
  std::vector<std::string> keys;
  for (const Finding& f : report.findings) keys.push_back(f.id + ":" + std::string(to_string(f.severity)));
  std::sort(keys.begin(), keys.end());
  return keys;
}

void expect_bounded_evidence(const Report& report) {
  for (const Finding& f : report.findings) {
    EXPECT_TRUE(valid_utf8(f.evidence)) << f.id;
    EXPECT_LE(f.evidence.size(), internal::kMaxEvidenceBytes) << f.id;
    EXPECT_TRUE(valid_utf8(f.message)) << f.id;
    EXPECT_FALSE(f.message.empty()) << f.id;
  }
}

class AnalyzersTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { mime::init(); }
};

// ---------------------------------------------------------------------------------------------------
// The header analyzer, table-driven.

struct Row {
  std::string name;                   // the test name
  std::string raw;                    // "\n" line ends, turned into CRLF unless `bare_lf`
  std::vector<std::string> expected;  // "id:severity", any order
  std::function<void(core::Envelope&)> envelope = nullptr;
  bool bare_lf = false;
  int64_t received_ms = kNow;
  int64_t now_ms = kNow;
};

std::ostream& operator<<(std::ostream& os, const Row& row) { return os << row.name; }

Row row(std::string name, const std::vector<Edit>& edits, std::vector<std::string> expected) {
  return Row{std::move(name), message(edits), std::move(expected)};
}

Row with_envelope(Row r, std::function<void(core::Envelope&)> f) {
  r.envelope = std::move(f);
  return r;
}

std::string long_field(std::string_view name, std::size_t line_octets) {
  std::string line = std::string(name) + ": ";
  line.append(line_octets - line.size(), 'a');
  return line;
}

std::string folded_field(std::string_view name, int lines) {
  std::string out = std::string(name) + ": start";
  for (int i = 0; i < lines; ++i) out += "\n " + std::string(60, 'a' + i % 26);
  return out;
}

std::vector<Row> header_rows() {
  const std::string E = ":error";
  const std::string W = ":warning";
  const std::string I = ":info";
  std::vector<Row> rows = {
      row("clean", {}, {}),

      // parse.failed: headerless input; the field checks are skipped, not reported as missing.
      Row{"parse_failed", "just words\nno header\n", {"parse.failed" + E}},

      // From.
      row("from_missing", {{"From", ""}}, {"from.missing" + E}),
      row("from_multiple", {{"From", "From: alice@example.com\nFrom: alice2@example.com"}},
          {"from.multiple" + E}),
      row("from_several_mailboxes_without_sender", {{"From", "From: alice@example.com, carol@example.com"}},
          {"from.multiple_mailboxes_without_sender" + E}),
      row("from_several_mailboxes_in_group_without_sender",
          {{"From", "From: Team: alice@example.com, carol@example.com;"}},
          {"from.multiple_mailboxes_without_sender" + E}),
      row("from_display_name_only", {{"From", "From: Alice"}}, {"from.unparseable" + E}),
      row("from_name_and_address_without_brackets", {{"From", "From: Alice alice@example.com"}},
          {"from.unparseable" + E}),
      row("from_empty_angle", {{"From", "From: Alice <>"}}, {"from.unparseable" + E}),
      row("from_no_domain", {{"From", "From: <alice@>"}}, {"from.unparseable" + E}),
      row("from_no_local_part", {{"From", "From: <@example.com>"}}, {"from.unparseable" + E}),
      row("from_unclosed_angle", {{"From", "From: Alice <alice@example.com"}}, {"from.unparseable" + E}),
      row("from_empty_group", {{"From", "From: undisclosed-senders:;"}}, {"from.unparseable" + E}),
      row("from_empty_value", {{"From", "From:"}}, {"from.unparseable" + E}),
      // Near misses.
      row("from_several_mailboxes_with_sender",
          {{"From", "From: alice@example.com, carol@example.com"}, {"Sender", "Sender: alice@example.com"}},
          {}),
      row("from_group_one_mailbox", {{"From", "From: Team: Alice <alice@example.com>;"}}, {}),
      row("from_quoted_comma_in_name", {{"From", "From: \"Doe, Alice\" <alice@example.com>"}}, {}),
      row("from_comment_name", {{"From", "From: alice@example.com (Alice, at work)"}}, {}),
      row("from_encoded_word_name", {{"From", "From: =?utf-8?q?Al=C3=AFce?= <alice@example.com>"}}, {}),
      row("from_obsolete_route", {{"From", "From: <@relay.example.net:alice@example.com>"}}, {}),
      row("from_quoted_local_part", {{"From", "From: \"alice smith\"@example.com"}}, {}),
      row("from_folded", {{"From", "From: Alice\n <alice@example.com>"}}, {}),
      row("from_trailing_empty_list_element", {{"From", "From: alice@example.com,"}}, {}),

      // Date.
      row("date_missing", {{"Date", ""}}, {"date.missing" + E}),
      row("date_words", {{"Date", "Date: yesterday"}}, {"date.unparseable" + E}),
      row("date_iso8601", {{"Date", "Date: 2024-01-02T03:00:00Z"}}, {"date.unparseable" + E}),
      row("date_no_zone", {{"Date", "Date: Tue, 02 Jan 2024 03:00:00"}}, {"date.unparseable" + E}),
      row("date_february_31", {{"Date", "Date: Sat, 31 Feb 2024 03:00:00 +0000"}}, {"date.unparseable" + E}),
      row("date_hour_24", {{"Date", "Date: Tue, 02 Jan 2024 24:00:00 +0000"}}, {"date.unparseable" + E}),
      row("date_minute_60", {{"Date", "Date: Tue, 02 Jan 2024 03:60:00 +0000"}}, {"date.unparseable" + E}),
      row("date_year_before_1900", {{"Date", "Date: Tue, 02 Jan 1899 03:00:00 +0000"}},
          {"date.unparseable" + E}),
      row("date_bad_month", {{"Date", "Date: Tue, 02 Foo 2024 03:00:00 +0000"}}, {"date.unparseable" + E}),
      row("date_full_day_name", {{"Date", "Date: Tuesday, 02 Jan 2024 03:00:00 +0000"}},
          {"date.unparseable" + E}),
      row("date_day_name_without_comma", {{"Date", "Date: Tue 02 Jan 2024 03:00:00 +0000"}},
          {"date.unparseable" + E}),
      row("date_trailing_text", {{"Date", "Date: Tue, 02 Jan 2024 03:00:00 +0000 tomorrow"}},
          {"date.unparseable" + E}),
      row("date_zone_three_digits", {{"Date", "Date: Tue, 02 Jan 2024 03:00:00 +000"}},
          {"date.unparseable" + E}),
      row("date_zone_minutes_60", {{"Date", "Date: Tue, 02 Jan 2024 03:00:00 +0060"}},
          {"date.unparseable" + E}),
      row("date_unknown_zone_name", {{"Date", "Date: Tue, 02 Jan 2024 03:00:00 CEST"}},
          {"date.unparseable" + E}),
      row("date_military_j", {{"Date", "Date: Tue, 02 Jan 2024 03:00:00 J"}}, {"date.unparseable" + E}),
      row("date_unclosed_comment", {{"Date", "Date: Tue, 02 Jan 2024 03:00:00 +0000 (UTC"}},
          {"date.unparseable" + E}),
      row("date_five_digit_year", {{"Date", "Date: Tue, 02 Jan 20240 03:00:00 +0000"}},
          {"date.unparseable" + E}),
      row("date_future", {{"Date", "Date: Tue, 02 Jan 2024 03:25:00 +0000"}}, {"date.future" + W}),
      row("date_future_just_over_15_minutes", {{"Date", "Date: Tue, 02 Jan 2024 03:19:06 +0000"}},
          {"date.future" + W}),
      row("date_future_by_zone", {{"Date", "Date: Tue, 02 Jan 2024 03:00:00 -0100"}}, {"date.future" + W}),
      row("date_old", {{"Date", "Date: Mon, 25 Dec 2023 03:00:00 +0000"}}, {"date.old" + W}),
      row("date_old_just_over_7_days", {{"Date", "Date: Tue, 26 Dec 2023 03:04:04 +0000"}}, {"date.old" + W}),
      row("date_two_digit_year_1900s", {{"Date", "Date: Sat, 02 Jan 99 03:00:00 +0000"}}, {"date.old" + W}),
      // Near misses: every obsolete form RFC 5322 4.3 allows, and the limits of the time checks.
      row("date_no_day_of_week", {{"Date", "Date: 2 Jan 2024 03:00:00 +0000"}}, {}),
      row("date_two_digit_year", {{"Date", "Date: Tue, 2 Jan 24 03:00:00 GMT"}}, {}),
      row("date_three_digit_year", {{"Date", "Date: Tue, 2 Jan 124 03:00:00 UT"}}, {}),
      row("date_no_seconds", {{"Date", "Date: Tue, 02 Jan 2024 03:00 +0000"}}, {}),
      row("date_comment_zone", {{"Date", "Date: Tue, 02 Jan 2024 03:00:00 +0000 (UTC)"}}, {}),
      row("date_us_zone", {{"Date", "Date: Mon, 01 Jan 2024 22:00:00 EST"}}, {}),
      row("date_positive_zone", {{"Date", "Date: Tue, 02 Jan 2024 04:00:00 +0100"}}, {}),
      row("date_military_zone", {{"Date", "Date: Tue, 02 Jan 2024 03:00:00 Z"}}, {}),
      row("date_lower_case", {{"Date", "Date: tue, 02 jan 2024 03:00:00 gmt"}}, {}),
      row("date_no_space_after_comma", {{"Date", "Date: Tue,02 Jan 2024 03:00:00 +0000"}}, {}),
      row("date_one_digit_hour", {{"Date", "Date: Tue, 02 Jan 2024 3:00:00 +0000"}}, {}),
      row("date_comments_between_tokens", {{"Date", "Date: (sent) Tue, 02 (day) Jan 2024 03:00:00 +0000"}},
          {}),
      row("date_folded", {{"Date", "Date: Tue, 02 Jan 2024\n 03:00:00 +0000"}}, {}),
      row("date_leap_day", {{"Date", "Date: Thu, 29 Feb 2024 03:00:00 +0000"}},
          {"date.future" + W}),  // valid, but in the future of kNow
      row("date_leap_second", {{"Date", "Date: Sun, 31 Dec 2023 23:59:60 +0000"}}, {}),
      row("date_future_exactly_15_minutes", {{"Date", "Date: Tue, 02 Jan 2024 03:19:05 +0000"}}, {}),
      row("date_old_exactly_7_days", {{"Date", "Date: Tue, 26 Dec 2023 03:04:05 +0000"}}, {}),
      row("date_6_days_old", {{"Date", "Date: Wed, 27 Dec 2023 03:00:00 +0000"}}, {}),

      // Message-ID.
      row("message_id_missing", {{"Message-ID", ""}}, {"message_id.missing" + W}),
      row("message_id_no_brackets", {{"Message-ID", "Message-ID: abc@example.com"}},
          {"message_id.invalid" + W}),
      row("message_id_no_at", {{"Message-ID", "Message-ID: <abc>"}}, {"message_id.invalid" + W}),
      row("message_id_empty_right", {{"Message-ID", "Message-ID: <abc@>"}}, {"message_id.invalid" + W}),
      row("message_id_empty_left", {{"Message-ID", "Message-ID: <@example.com>"}},
          {"message_id.invalid" + W}),
      row("message_id_space", {{"Message-ID", "Message-ID: <a b@example.com>"}}, {"message_id.invalid" + W}),
      row("message_id_two_ids", {{"Message-ID", "Message-ID: <a@example.com> <b@example.com>"}},
          {"message_id.invalid" + W}),
      row("message_id_two_ats", {{"Message-ID", "Message-ID: <a@b@example.com>"}},
          {"message_id.invalid" + W}),
      row("message_id_unclosed", {{"Message-ID", "Message-ID: <abc@example.com"}},
          {"message_id.invalid" + W}),
      row("message_id_empty", {{"Message-ID", "Message-ID:"}}, {"message_id.invalid" + W}),
      // Near misses.
      row("message_id_comment", {{"Message-ID", "Message-ID: <abc@example.com> (generated)"}}, {}),
      row("message_id_domain_literal", {{"Message-ID", "Message-ID: <abc@[192.0.2.1]>"}}, {}),
      row("message_id_quoted_left", {{"Message-ID", "Message-ID: <\"a b\"@example.com>"}}, {}),
      row("message_id_folded", {{"Message-ID", "Message-ID:\n <abc@example.com>"}}, {}),
      row("message_id_case", {{"Message-ID", "Message-Id: <abc@example.com>"}}, {}),

      // Subject.
      row("subject_missing", {{"Subject", ""}}, {"subject.missing" + W}),
      row("subject_empty", {{"Subject", "Subject:"}}, {"subject.empty" + I}),
      row("subject_blank", {{"Subject", "Subject:    "}}, {"subject.empty" + I}),

      // To / Cc.
      row("to_missing", {{"To", ""}}, {"to.missing" + W}),
      row("to_missing_bcc_only", {{"To", "Bcc: bob@example.org"}}, {"to.missing" + W}),
      row("cc_only", {{"To", "Cc: bob@example.org"}}, {}),
      row("to_undisclosed_recipients", {{"To", "To: undisclosed-recipients:;"}}, {}),

      // Single-instance fields.
      row("duplicate_subject", {{"Subject", "Subject: Hello\nSubject: Again"}}, {"header.duplicate" + E}),
      row("triplicate_to_is_one_finding", {{"To", "To: a@example.org\nTo: b@example.org\nTo: c@example.org"}},
          {"header.duplicate" + E}),
      row("duplicate_case_insensitive", {{"Subject", "Subject: Hello\nSUBJECT: Again"}},
          {"header.duplicate" + E}),
      row("two_fields_duplicated",
          {{"Subject", "Subject: Hello\nSubject: Again"}, {"To", "To: a@example.org\nTo: b@example.org"}},
          {"header.duplicate" + E, "header.duplicate" + E}),
      row("repeatable_fields",
          {{"Received",
            "Received: from a by b; Tue, 02 Jan 2024 03:00:00 +0000\n"
            "Received: from c by a; Tue, 02 Jan 2024 03:00:00 +0000\n"
            "Comments: one\nComments: two\nKeywords: a\nKeywords: b"}},
          {}),

      // Raw lines.
      row("line_999_octets", {{"X-Long", long_field("X-Long", 999)}}, {"header.line_too_long" + E}),
      row("two_long_lines_one_finding",
          {{"X-Long", long_field("X-Long", 1500) + "\n" + long_field("X-Long-Too", 2000)}},
          {"header.line_too_long" + E}),
      row("line_998_octets", {{"X-Long", long_field("X-Long", 998)}}, {}),
      row("folded_long_field_short_lines", {{"X-Folded", folded_field("X-Folded", 40)}}, {}),
      Row{"long_body_line", message({}, std::string(5000, 'b') + "\n"), {}},

      row("eight_bit_subject",
          {{"Subject",
            "Subject: Gr\xC3\xBC\xC3\x9F"
            "e"}},
          {"header.8bit_without_smtputf8" + W}),
      row("eight_bit_latin1_subject",
          {{"Subject",
            "Subject: Gr\xFC\xDF"
            "e"}},
          {"header.8bit_without_smtputf8" + W}),
      with_envelope(row("eight_bit_subject_with_smtputf8",
                        {{"Subject",
                          "Subject: Gr\xC3\xBC\xC3\x9F"
                          "e"}},
                        {}),
                    [](core::Envelope& e) { e.smtputf8 = true; }),
      Row{"eight_bit_body_only",
          message({},
                  "Gr\xC3\xBC\xC3\x9F"
                  "e\n"),
          {}},

      with_envelope(row("bare_newline", {}, {"header.bare_newline" + W}),
                    [](core::Envelope& e) { e.bare_newline = true; }),

      // MIME-Version.
      row("mime_version_missing", {{"MIME-Version", ""}}, {"mime.version_missing" + W}),
      row("mime_version_missing_cte_only",
          {{"MIME-Version", ""}, {"Content-Type", "Content-Transfer-Encoding: 7bit"}},
          {"mime.version_missing" + W}),
      row("no_mime_fields_at_all", {{"MIME-Version", ""}, {"Content-Type", ""}}, {}),

      row("return_path", {{"Return-Path", "Return-Path: <alice@example.com>"}}, {"return_path.present" + W}),

      // List-Unsubscribe: one finding per problem mime::parse_detail found.
      row("list_unsubscribe_https_without_post",
          {{"List-Unsubscribe", "List-Unsubscribe: <https://example.com/u>"}},
          {"list_unsubscribe.invalid" + W}),
      row("list_unsubscribe_two_problems",
          {{"List-Unsubscribe", "List-Unsubscribe: <ftp://example.com/u>, <https://example.com/u>"}},
          {"list_unsubscribe.invalid" + W, "list_unsubscribe.invalid" + W}),
      row("list_unsubscribe_one_click",
          {{"List-Unsubscribe",
            "List-Unsubscribe: <https://example.com/u>, <mailto:u@example.com>\n"
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click"}},
          {}),

      // Envelope.
      with_envelope(row("envelope_from_other_domain", {}, {"envelope.from_mismatch" + I}),
                    [](core::Envelope& e) { e.mail_from = "bounces@mailer.example.net"; }),
      with_envelope(row("envelope_from_subdomain", {}, {"envelope.from_mismatch" + I}),
                    [](core::Envelope& e) { e.mail_from = "bounces@bounce.example.com"; }),
      with_envelope(row("envelope_null_sender", {}, {}), [](core::Envelope& e) { e.mail_from.clear(); }),
      with_envelope(row("envelope_from_case", {}, {}),
                    [](core::Envelope& e) { e.mail_from = "Alice@EXAMPLE.com"; }),
      with_envelope(
          row("envelope_from_unparseable_from", {{"From", "From: Alice"}}, {"from.unparseable" + E}),
          [](core::Envelope& e) { e.mail_from = "bounces@mailer.example.net"; }),

      // Several problems at once are all reported.
      row("several",
          {{"From", ""},
           {"Date", "Date: soon"},
           {"Subject", ""},
           {"Return-Path", "Return-Path: <a@example.com>"}},
          {"from.missing" + E, "date.unparseable" + E, "subject.missing" + W, "return_path.present" + W}),
  };

  // Bare LF line ends: the raw scan still finds lines and the end of the header.
  Row lf_long{
      "bare_lf_long_line", message({{"X-Long", long_field("X-Long", 1200)}}), {"header.line_too_long:error"}};
  lf_long.bare_lf = true;
  rows.push_back(lf_long);
  Row lf_body{"bare_lf_long_body_line", message({}, std::string(2000, 'b') + "\n"), {}};
  lf_body.bare_lf = true;
  rows.push_back(lf_body);

  // The reception time: Input.received_ms, else Context.now_ms, else no time checks.
  Row now_only{"reception_time_from_context",
               message({{"Date", "Date: Tue, 02 Jan 2024 03:25:00 +0000"}}),
               {"date.future:warning"}};
  now_only.received_ms = 0;
  rows.push_back(now_only);
  Row no_time{"no_reception_time", message({{"Date", "Date: Tue, 02 Jan 2024 03:25:00 +0000"}}), {}};
  no_time.received_ms = 0;
  no_time.now_ms = 0;
  rows.push_back(no_time);
  Row received_wins{"received_time_wins", message({{"Date", "Date: Tue, 02 Jan 2024 03:25:00 +0000"}}), {}};
  received_wins.received_ms = kNow + 30 * 60 * 1000;
  rows.push_back(received_wins);
  return rows;
}

class HeaderRows : public AnalyzersTest, public ::testing::WithParamInterface<Row> {};

TEST_P(HeaderRows, ExactFindings) {
  const Row& r = GetParam();
  const std::string raw = r.bare_lf ? r.raw : crlf(r.raw);
  core::Envelope envelope = clean_envelope();
  if (r.envelope) r.envelope(envelope);
  const Report report = run_headers(raw, envelope, r.received_ms, r.now_ms);
  std::vector<std::string> expected = r.expected;
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(finding_keys(report), expected);
  EXPECT_EQ(report.verdict, verdict_of(report.findings));
  EXPECT_EQ(report.summary, summary_of(report.findings));
  expect_bounded_evidence(report);
}

INSTANTIATE_TEST_SUITE_P(Headers, HeaderRows, ::testing::ValuesIn(header_rows()),
                         [](const ::testing::TestParamInfo<Row>& info) { return info.param.name; });

// Every id the analyzer can report is proven to fire by some row above.
TEST(HeaderRowsCoverage, EveryFindingIdHasARow) {
  const std::vector<std::string> ids = {"parse.failed",
                                        "from.missing",
                                        "from.multiple",
                                        "from.unparseable",
                                        "from.multiple_mailboxes_without_sender",
                                        "date.missing",
                                        "date.unparseable",
                                        "date.future",
                                        "date.old",
                                        "message_id.missing",
                                        "message_id.invalid",
                                        "subject.missing",
                                        "subject.empty",
                                        "to.missing",
                                        "header.duplicate",
                                        "header.line_too_long",
                                        "header.8bit_without_smtputf8",
                                        "header.bare_newline",
                                        "mime.version_missing",
                                        "return_path.present",
                                        "list_unsubscribe.invalid",
                                        "envelope.from_mismatch"};
  const std::vector<Row> rows = header_rows();
  for (const std::string& id : ids) {
    const bool covered = std::any_of(rows.begin(), rows.end(), [&](const Row& r) {
      return r.expected.size() == 1 && r.expected[0].rfind(id + ":", 0) == 0;
    });
    EXPECT_TRUE(covered) << id;
  }
}

TEST_F(AnalyzersTest, CleanMessagePasses) {
  const Report report = run_headers(crlf(message({})), clean_envelope());
  EXPECT_TRUE(report.findings.empty());
  EXPECT_EQ(report.verdict, Verdict::kPass);
  EXPECT_EQ(report.summary, "all checks passed");
  EXPECT_FALSE(report.score.has_value());
}

TEST_F(AnalyzersTest, HeadersAnalyzerNames) {
  const auto a = make_headers_analyzer();
  EXPECT_EQ(a->name(), "headers");
  EXPECT_EQ(a->title(), "Header sanity");
}

TEST_F(AnalyzersTest, VerdictFollowsTheWorstFinding) {
  core::Envelope other = clean_envelope();
  other.mail_from = "bounces@mailer.example.net";
  const Report info_only = run_headers(crlf(message({})), other);
  EXPECT_EQ(info_only.verdict, Verdict::kPass);
  EXPECT_EQ(info_only.summary, "all checks passed (1 note)");

  const Report warning = run_headers(crlf(message({{"Subject", ""}})), clean_envelope());
  EXPECT_EQ(warning.verdict, Verdict::kWarn);
  EXPECT_EQ(warning.summary, "1 warning");

  const Report error = run_headers(crlf(message({{"From", ""}, {"Subject", ""}})), other);
  EXPECT_EQ(error.verdict, Verdict::kFail);
  EXPECT_EQ(error.summary, "1 error, 1 warning");
}

TEST_F(AnalyzersTest, EveryDuplicatedSingleFieldIsNamed) {
  const std::vector<std::pair<std::string, std::string>> fields = {
      {"Date", "Tue, 02 Jan 2024 03:00:00 +0000"},
      {"Sender", "alice@example.com"},
      {"Reply-To", "alice@example.com"},
      {"To", "bob@example.org"},
      {"Cc", "carol@example.org"},
      {"Bcc", "dave@example.org"},
      {"Message-ID", "<x@example.com>"},
      {"In-Reply-To", "<y@example.com>"},
      {"References", "<y@example.com>"},
      {"Subject", "Hello"},
  };
  for (const auto& [name, value] : fields) {
    SCOPED_TRACE(name);
    // The second instance is written in lower case: the evidence is that name as written.
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    const std::string raw = crlf(message({{name, name + ": " + value + "\n" + lower + ": " + value}}));
    const Report report = run_headers(raw, clean_envelope());
    ASSERT_EQ(report.findings.size(), 1u);
    EXPECT_EQ(report.findings[0].id, "header.duplicate");
    EXPECT_EQ(report.findings[0].severity, Severity::kError);
    EXPECT_EQ(report.findings[0].evidence, lower);
  }
}

TEST_F(AnalyzersTest, EvidenceQuotesTheOffendingText) {
  const auto find = [](const Report& r, std::string_view id) -> const Finding* {
    for (const Finding& f : r.findings) {
      if (f.id == id) return &f;
    }
    return nullptr;
  };
  const Report date = run_headers(crlf(message({{"Date", "Date: someday soon"}})), clean_envelope());
  ASSERT_NE(find(date, "date.unparseable"), nullptr);
  EXPECT_EQ(find(date, "date.unparseable")->evidence, "someday soon");

  const Report from = run_headers(
      crlf(message({{"From", "From: alice@example.com\nFrom: mallory@example.net"}})), clean_envelope());
  ASSERT_NE(find(from, "from.multiple"), nullptr);
  EXPECT_EQ(find(from, "from.multiple")->evidence, "mallory@example.net");

  const std::string long_line = long_field("X-Long", 1200);
  const Report lines = run_headers(crlf(message({{"X-Long", long_line}})), clean_envelope());
  const Finding* too_long = find(lines, "header.line_too_long");
  ASSERT_NE(too_long, nullptr);
  EXPECT_EQ(too_long->evidence.size(), internal::kMaxEvidenceBytes);
  EXPECT_EQ(too_long->evidence.substr(0, 10), long_line.substr(0, 10));
  EXPECT_NE(too_long->message.find("1200"), std::string::npos);

  const Report latin1 = run_headers(crlf(message({{"Subject",
                                                   "Subject: Gr\xFC\xDF"
                                                   "e"}})),
                                    clean_envelope());
  const Finding* eight = find(latin1, "header.8bit_without_smtputf8");
  ASSERT_NE(eight, nullptr);
  EXPECT_EQ(eight->evidence,
            "Subject: Gr\xEF\xBF\xBD\xEF\xBF\xBD"
            "e");

  core::Envelope other = clean_envelope();
  other.mail_from = "bounces@mailer.example.net";
  const Report mismatch = run_headers(crlf(message({})), other);
  ASSERT_NE(find(mismatch, "envelope.from_mismatch"), nullptr);
  EXPECT_EQ(find(mismatch, "envelope.from_mismatch")->evidence, "bounces@mailer.example.net");
  EXPECT_NE(find(mismatch, "envelope.from_mismatch")->message.find("example.com"), std::string::npos);

  const Report unsubscribe = run_headers(
      crlf(message({{"List-Unsubscribe", "List-Unsubscribe: <https://example.com/u>"}})), clean_envelope());
  ASSERT_NE(find(unsubscribe, "list_unsubscribe.invalid"), nullptr);
  EXPECT_EQ(find(unsubscribe, "list_unsubscribe.invalid")->evidence, "<https://example.com/u>");

  const Report failed = run_headers(crlf("just words\nno header\n"), clean_envelope());
  ASSERT_NE(find(failed, "parse.failed"), nullptr);
  EXPECT_FALSE(find(failed, "parse.failed")->evidence.empty());
}

// The raw scan stops at the end of the view it is given, even when the header block never ends.
TEST_F(AnalyzersTest, RawScanStaysInsideTheView) {
  const std::string buffer =
      "Subject: Hi\r\nX-Tail: " + std::string(990, 'a') + "\xC3\xA9" + std::string(20, 'b');
  // The view ends before the line passes 998 octets and before the 8-bit byte.
  const std::string_view view(buffer.data(), 13 + 990);
  const Report report = run_headers(view, clean_envelope());
  for (const Finding& f : report.findings) {
    EXPECT_NE(f.id, "header.line_too_long");
    EXPECT_NE(f.id, "header.8bit_without_smtputf8");
  }
  const Report whole = run_headers(buffer, clean_envelope());
  EXPECT_NE(std::find_if(whole.findings.begin(), whole.findings.end(),
                         [](const Finding& f) { return f.id == "header.line_too_long"; }),
            whole.findings.end());
}

// ---------------------------------------------------------------------------------------------------
// Hostile input.

// Random bytes, weighted towards the characters the parsers care about.
std::string random_bytes(std::mt19937& rng, std::size_t max_len) {
  static constexpr std::string_view kInteresting = "ab:@<>(),;\"\\ \t\r\n.[]=?+-0123456789JanTueGMTZ";
  std::string s(rng() % (max_len + 1), '\0');
  for (char& c : s) {
    const uint32_t r = rng();
    c = (r & 1) ? kInteresting[(r >> 1) % kInteresting.size()] : static_cast<char>(r >> 8);
  }
  return s;
}

TEST_F(AnalyzersTest, RandomMessagesNeverThrow) {
  std::mt19937 rng(20240102);
  auto analyzers = make_analyzers(known_analyzers());
  ASSERT_TRUE(analyzers.ok());
  for (int i = 0; i < 400; ++i) {
    std::string raw = random_bytes(rng, 1500);
    if (i % 4 == 1) raw = "From: " + raw;  // a header start, then anything (often no separator)
    if (i % 4 == 2) raw = crlf(message({})).substr(0, rng() % 200) + raw;
    if (i % 8 == 3) raw.insert(raw.size() / 2, std::string(1100, 'x'));
    core::Envelope envelope = clean_envelope();
    envelope.mail_from = random_bytes(rng, 40);
    envelope.smtputf8 = rng() & 1;
    envelope.bare_newline = rng() & 1;
    SCOPED_TRACE(i);
    const mime::MessageDetail detail = mime::parse_detail(raw);
    const Input input{detail, raw, envelope, static_cast<int64_t>(rng() % 2) * kNow};
    Report direct;
    EXPECT_NO_THROW(direct = *(*analyzers)[0]->step(input, at(kNow)).report);
    expect_bounded_evidence(direct);
    const std::vector<Report> reports = run_all(*analyzers, input, at(kNow));
    ASSERT_EQ(reports.size(), 1u);
    EXPECT_NE(reports[0].verdict, Verdict::kError) << reports[0].summary;
    EXPECT_FALSE(nlohmann::json::parse(to_json(reports[0]), nullptr, false).is_discarded());
  }
}

// Random header values straight into the analyzer (no GMime in between), for the address, date and
// msg-id parsers.
TEST_F(AnalyzersTest, RandomHeaderValuesNeverThrow) {
  std::mt19937 rng(5322);
  const auto analyzer = make_headers_analyzer();
  const std::vector<std::string> names = {"From",         "Date",        "Message-ID", "Subject",
                                          "To",           "Cc",          "Sender",     "MIME-Version",
                                          "Content-Type", "Return-Path", "X-Other"};
  for (int i = 0; i < 400; ++i) {
    mime::MessageDetail detail;
    const int fields = static_cast<int>(rng() % 12);
    for (int k = 0; k < fields; ++k)
      detail.headers.emplace_back(names[rng() % names.size()], random_bytes(rng, 120));
    if (rng() % 3 == 0) detail.list_unsubscribe.errors.push_back(random_bytes(rng, 50));
    detail.list_unsubscribe.header = random_bytes(rng, 400);
    const std::string raw = random_bytes(rng, 300);
    core::Envelope envelope = clean_envelope();
    envelope.mail_from = random_bytes(rng, 40);
    SCOPED_TRACE(i);
    Report report;
    EXPECT_NO_THROW(report = *analyzer->step(Input{detail, raw, envelope, kNow}, at(kNow)).report);
    expect_bounded_evidence(report);
  }
}

TEST_F(AnalyzersTest, CorpusMessagesGiveBoundedReports) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(MAILJAR_MIME_FIXTURES)) {
    if (entry.path().extension() == ".eml") files.push_back(entry.path());
  }
  ASSERT_GE(files.size(), 50u);
  const auto analyzer = make_headers_analyzer();
  for (const auto& path : files) {
    SCOPED_TRACE(path.filename().string());
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string raw = ss.str();
    const mime::MessageDetail detail = mime::parse_detail(raw);
    const core::Envelope envelope = clean_envelope();
    Report report;
    EXPECT_NO_THROW(report = *analyzer->step(Input{detail, raw, envelope, kNow}, at(kNow)).report);
    expect_bounded_evidence(report);
    EXPECT_FALSE(report.summary.empty());
  }
}

// ---------------------------------------------------------------------------------------------------
// Registry, run_all, grading, JSON.

class ThrowingAnalyzer final : public LocalAnalyzer {
 public:
  explicit ThrowingAnalyzer(bool standard) : standard_(standard) {}
  std::string_view name() const override { return standard_ ? "throws" : "throws-int"; }
  std::string_view title() const override { return "Throws"; }
  Report analyze(const Input&, const Context&) const override {
    if (standard_) throw std::runtime_error("boom");
    throw 42;
  }

 private:
  bool standard_;
};

// Sleeps, then reports under a wrong name: run_all() must set the name and measure the time.
class SlowAnalyzer final : public LocalAnalyzer {
 public:
  std::string_view name() const override { return "slow"; }
  std::string_view title() const override { return "Slow"; }
  Report analyze(const Input&, const Context& context) const override {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    Report r;
    r.analyzer = "wrong";
    r.verdict = Verdict::kNeutral;
    r.score = static_cast<double>(context.now_ms % 1000);
    r.summary = "slept";
    return r;
  }
};

TEST_F(AnalyzersTest, RunAllTurnsExceptionsIntoErrorReports) {
  std::vector<std::unique_ptr<Analyzer>> analyzers;
  analyzers.push_back(std::make_unique<ThrowingAnalyzer>(true));
  analyzers.push_back(make_headers_analyzer());
  analyzers.push_back(std::make_unique<ThrowingAnalyzer>(false));
  analyzers.push_back(std::make_unique<SlowAnalyzer>());
  const std::string raw = crlf(message({{"Subject", ""}}));
  const mime::MessageDetail detail = mime::parse_detail(raw);
  const core::Envelope envelope = clean_envelope();
  const std::vector<Report> reports = run_all(analyzers, Input{detail, raw, envelope, kNow}, at(kNow));
  ASSERT_EQ(reports.size(), 4u);

  EXPECT_EQ(reports[0].analyzer, "throws");
  EXPECT_EQ(reports[0].title, "Throws");
  EXPECT_EQ(reports[0].verdict, Verdict::kError);
  EXPECT_EQ(reports[0].summary, "analyzer failed: boom");
  EXPECT_TRUE(reports[0].findings.empty());

  EXPECT_EQ(reports[1].analyzer, "headers");
  EXPECT_EQ(reports[1].title, "Header sanity");
  EXPECT_EQ(reports[1].verdict, Verdict::kWarn);
  EXPECT_EQ(finding_keys(reports[1]), std::vector<std::string>{"subject.missing:warning"});

  EXPECT_EQ(reports[2].analyzer, "throws-int");
  EXPECT_EQ(reports[2].verdict, Verdict::kError);
  EXPECT_EQ(reports[2].summary, "analyzer failed: unknown exception");

  EXPECT_EQ(reports[3].analyzer, "slow");
  EXPECT_EQ(reports[3].verdict, Verdict::kNeutral);
  EXPECT_EQ(reports[3].summary, "slept");
  ASSERT_TRUE(reports[3].score.has_value());
  EXPECT_EQ(*reports[3].score, static_cast<double>(kNow % 1000));
  EXPECT_GE(reports[3].duration_us, 5000);
  for (const Report& r : reports) EXPECT_GE(r.duration_us, 0);
}

TEST_F(AnalyzersTest, RunAllWithNoAnalyzers) {
  const std::string raw = crlf(message({}));
  const mime::MessageDetail detail = mime::parse_detail(raw);
  const core::Envelope envelope = clean_envelope();
  EXPECT_TRUE(run_all({}, Input{detail, raw, envelope, kNow}, at(kNow)).empty());
}

TEST_F(AnalyzersTest, Registry) {
  EXPECT_EQ(known_analyzers(), std::vector<std::string>{"headers"});

  auto all = make_analyzers({"headers"});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0]->name(), "headers");

  auto twice = make_analyzers({"headers", "headers"});
  ASSERT_TRUE(twice.ok());
  EXPECT_EQ(twice->size(), 1u);

  auto none = make_analyzers({});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());

  auto unknown = make_analyzers({"headers", "spamassassin"});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, "invalid");
  EXPECT_NE(unknown.error().message.find("spamassassin"), std::string::npos);
  EXPECT_NE(unknown.error().message.find("headers"), std::string::npos);

  EXPECT_FALSE(make_analyzers({"Headers"}).ok());  // names are exact
}

TEST(Registry, EveryRowBuildsTheAnalyzerItNamesLocalOnesFirst) {
  bool network_seen = false;
  for (const Registration& row : registry()) {
    const std::unique_ptr<Analyzer> a = row.make();
    ASSERT_NE(a, nullptr) << row.name;
    EXPECT_EQ(a->name(), row.name);
    EXPECT_EQ(a->title(), row.title);
    EXPECT_EQ(a->kind(), row.kind) << row.name;
    if (row.kind == Kind::kNetwork) network_seen = true;
    EXPECT_FALSE(network_seen && row.kind == Kind::kLocal) << row.name << ": local analyzers run first";
  }
}

// Asks one question; reports what it got, or "no answer" in the final round.
class OneQuestion final : public Analyzer {
 public:
  std::string_view name() const override { return "onequestion"; }
  std::string_view title() const override { return "One question"; }
  Kind kind() const override { return Kind::kNetwork; }
  Step step(const Input&, const Context& context) const override {
    const dns::Question q = dns::question("Example.COM.", dns::Type::kMX);
    const dns::Answer* a = context.dns ? context.dns->find(q) : nullptr;
    Report r;
    if (a) {
      r.summary = a->records.empty() ? "empty" : a->records.front();
    } else if (context.final_round) {
      r.summary = "no answer";
    } else {
      return Step::ask({q});
    }
    return Step::done(r);
  }
};

TEST_F(AnalyzersTest, RunAllGivesANetworkAnalyzerItsFinalRound) {
  std::vector<std::unique_ptr<Analyzer>> analyzers;
  analyzers.push_back(std::make_unique<OneQuestion>());
  const std::string raw = crlf(message({}));
  const mime::MessageDetail detail = mime::parse_detail(raw);
  const core::Envelope envelope = clean_envelope();
  DnsAnswers answers;
  Context context = at(kNow);
  context.dns = &answers;
  EXPECT_EQ(run_all(analyzers, Input{detail, raw, envelope, kNow}, context)[0].summary, "no answer");
  answers.add(dns::Answer{dns::question("example.com", dns::Type::kMX), dns::Status::kOk, {"10 mx.example.com"}});
  EXPECT_EQ(run_all(analyzers, Input{detail, raw, envelope, kNow}, context)[0].summary, "10 mx.example.com");
  answers.add(dns::Answer{dns::question("example.com", dns::Type::kMX), dns::Status::kOk, {"20 b.example.com"}});
  EXPECT_EQ(answers.all().size(), 1u);  // an answer to the same question replaces the first
}

TEST(Grading, VerdictOf) {
  EXPECT_EQ(verdict_of({}), Verdict::kPass);
  EXPECT_EQ(verdict_of({{"a.b", Severity::kInfo, "m", ""}}), Verdict::kPass);
  EXPECT_EQ(verdict_of({{"a.b", Severity::kInfo, "m", ""}, {"a.c", Severity::kWarning, "m", ""}}),
            Verdict::kWarn);
  EXPECT_EQ(verdict_of({{"a.b", Severity::kError, "m", ""}, {"a.c", Severity::kWarning, "m", ""}}),
            Verdict::kFail);
  EXPECT_EQ(verdict_of({{"a.c", Severity::kWarning, "m", ""}, {"a.b", Severity::kError, "m", ""}}),
            Verdict::kFail);
}

TEST(Grading, SummaryOf) {
  const Finding e{"x.e", Severity::kError, "m", ""};
  const Finding w{"x.w", Severity::kWarning, "m", ""};
  const Finding n{"x.i", Severity::kInfo, "m", ""};
  EXPECT_EQ(summary_of({}), "all checks passed");
  EXPECT_EQ(summary_of({n}), "all checks passed (1 note)");
  EXPECT_EQ(summary_of({n, n}), "all checks passed (2 notes)");
  EXPECT_EQ(summary_of({w}), "1 warning");
  EXPECT_EQ(summary_of({e, e}), "2 errors");
  EXPECT_EQ(summary_of({w, e, w, n}), "1 error, 2 warnings, 1 note");
  EXPECT_EQ(summary_of({w, n, n}), "1 warning, 2 notes");
}

TEST(Grading, Names) {
  EXPECT_EQ(to_string(Verdict::kPass), "pass");
  EXPECT_EQ(to_string(Verdict::kWarn), "warn");
  EXPECT_EQ(to_string(Verdict::kFail), "fail");
  EXPECT_EQ(to_string(Verdict::kNeutral), "neutral");
  EXPECT_EQ(to_string(Verdict::kError), "error");
  EXPECT_EQ(to_string(Severity::kInfo), "info");
  EXPECT_EQ(to_string(Severity::kWarning), "warning");
  EXPECT_EQ(to_string(Severity::kError), "error");
}

TEST(Json, ReportShape) {
  Report r;
  r.analyzer = "headers";
  r.title = "Header sanity";
  r.verdict = Verdict::kWarn;
  r.score = 2.5;
  r.summary = "1 warning";
  r.findings.push_back({"subject.missing", Severity::kWarning, "there is no Subject field", ""});
  r.findings.push_back({"date.old", Severity::kInfo, "old", "Mon, 1 Jan 2001 00:00:00 +0000"});
  r.duration_us = 1500;
  const nlohmann::json j = nlohmann::json::parse(to_json(r));
  EXPECT_EQ(j["Analyzer"], "headers");
  EXPECT_EQ(j["Title"], "Header sanity");
  EXPECT_EQ(j["Verdict"], "warn");
  EXPECT_EQ(j["Score"], 2.5);
  EXPECT_EQ(j["Summary"], "1 warning");
  EXPECT_EQ(j["DurationMs"], 1.5);
  ASSERT_EQ(j["Findings"].size(), 2u);
  EXPECT_EQ(j["Findings"][0]["ID"], "subject.missing");
  EXPECT_EQ(j["Findings"][0]["Severity"], "warning");
  EXPECT_EQ(j["Findings"][0]["Message"], "there is no Subject field");
  EXPECT_EQ(j["Findings"][0]["Evidence"], "");
  EXPECT_EQ(j["Findings"][1]["ID"], "date.old");
  EXPECT_EQ(j["Findings"][1]["Severity"], "info");
  EXPECT_EQ(j["Findings"][1]["Evidence"], "Mon, 1 Jan 2001 00:00:00 +0000");
  EXPECT_EQ(j.size(), 7u);

  r.score.reset();
  r.findings.clear();
  const nlohmann::json k = nlohmann::json::parse(to_json(r));
  EXPECT_TRUE(k["Score"].is_null());
  EXPECT_TRUE(k["Findings"].is_array());
  EXPECT_TRUE(k["Findings"].empty());
}

TEST(Json, InvalidUtf8IsReplaced) {
  Report r;
  r.analyzer = "x";
  r.summary = "bad \xFF byte";
  r.findings.push_back({"a.b", Severity::kError, "overlong \xC0\xAF", "cut \xE2\x82"});
  const std::string text = to_json(r);
  EXPECT_TRUE(valid_utf8(text));
  const nlohmann::json j = nlohmann::json::parse(text);  // throws on invalid JSON
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(j["Summary"], "bad " + fffd + " byte");
  EXPECT_NE(j["Findings"][0]["Message"].get<std::string>().find(fffd), std::string::npos);
  EXPECT_EQ(j["Findings"][0]["Evidence"].get<std::string>().substr(0, 4), "cut ");
  EXPECT_NE(j["Findings"][0]["Evidence"].get<std::string>().find(fffd), std::string::npos);
}

TEST(Evidence, BoundedValidUtf8) {
  using internal::evidence;
  using internal::kMaxEvidenceBytes;
  EXPECT_EQ(evidence(""), "");
  EXPECT_EQ(evidence("Date: soon"), "Date: soon");
  EXPECT_EQ(evidence(std::string(kMaxEvidenceBytes, 'a')), std::string(kMaxEvidenceBytes, 'a'));

  const std::string cut = evidence(std::string(kMaxEvidenceBytes + 1, 'a'));
  EXPECT_EQ(cut, std::string(kMaxEvidenceBytes - 3, 'a') + "...");

  std::string accents;
  for (int i = 0; i < 400; ++i) accents += "\xC3\xA9";  // é, two bytes each
  const std::string e = evidence(accents);
  EXPECT_LE(e.size(), kMaxEvidenceBytes);
  EXPECT_TRUE(valid_utf8(e));
  EXPECT_EQ(e.substr(e.size() - 3), "...");
  EXPECT_EQ(e.substr(0, 4), "\xC3\xA9\xC3\xA9");

  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(evidence("a\xFF"
                     "b"),
            "a" + fffd + "b");
  EXPECT_EQ(evidence("\xE2\x82"), fffd + fffd);             // an incomplete sequence
  EXPECT_EQ(evidence("\xED\xA0\x80"), fffd + fffd + fffd);  // a surrogate
  EXPECT_EQ(evidence("\xF0\x9F\x98\x80"), "\xF0\x9F\x98\x80");
  EXPECT_EQ(evidence(std::string("a\0b", 3)), std::string("a\0b", 3));

  std::mt19937 rng(7);
  for (int i = 0; i < 200; ++i) {
    const std::string s = random_bytes(rng, 800);
    const std::string out = evidence(s);
    EXPECT_TRUE(valid_utf8(out));
    EXPECT_LE(out.size(), kMaxEvidenceBytes);
  }
}

}  // namespace
}  // namespace mailjar::analyzers
