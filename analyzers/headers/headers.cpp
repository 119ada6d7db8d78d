// NAME
//   headers.cpp - the header sanity analyzer ("headers", "Header sanity").
// STANDARDS
//   RFC 5322 2.1.1 (998-octet lines), 3.3 and 4.3 (date-time and its obsolete forms), 3.4 (address
//   lists, groups), 3.6 (field counts), 3.6.4 (msg-id); RFC 6854 (groups in From); RFC 2045 4
//   (MIME-Version); RFC 6531 / RFC 6532 (8-bit headers need SMTPUTF8); RFC 2369 / RFC 8058
//   (List-Unsubscribe, checked by mime::parse_detail); RFC 5321 4.4 (Return-Path); RFC 7489 3.1
//   (DMARC identifier alignment).
// SECURITY
//   Input is hostile. Every scan is bounded by the string it reads (the raw bytes, a header value), no
//   recursion, no exceptions thrown here; evidence is quoted through internal::evidence() (valid UTF-8,
//   bounded).
// CONTRACT
//   One pass over detail.headers (allocating nothing per field) plus one pass over the raw header block;
//   no regex. Findings, in the order they are reported:
//
//   id                                    severity  fires when
//   parse.failed                          error     detail.parse_failed (evidence: parse_error). The
//                                                   field checks below (from.* to envelope.*) are then
//                                                   skipped: they would judge a partial parse.
//   from.missing                          error     no From field
//   from.multiple                         error     more than one From field (also the header.duplicate
//                                                   of From, so that one is not reported twice)
//   from.unparseable                      error     the first From has no well-formed addr-spec
//   from.multiple_mailboxes_without_sender error    the first From lists several mailboxes, no Sender
//   date.missing                          error     no Date field
//   date.unparseable                      error     the first Date is not an RFC 5322 date-time (the
//                                                   obsolete forms of 4.3 are accepted: no day-of-week,
//                                                   2- and 3-digit years, named and military zones,
//                                                   comments; a 1-digit hour; years 1900-9999)
//   date.future                           warning   Date is more than 15 minutes after the reception time
//   date.old                              warning   Date is more than 7 days before the reception time
//                                                   (reception time: Input.received_ms, or Context.now_ms
//                                                   when that is 0; neither set: no time checks)
//   message_id.missing                    warning   no Message-ID field
//   message_id.invalid                    warning   the first Message-ID is not one "<left@right>"
//   subject.missing                       warning   no Subject field
//   subject.empty                         info      the first Subject is empty or blank
//   to.missing                            warning   no To and no Cc field (only Bcc, or none)
//   header.duplicate                      error     a second Date, Sender, Reply-To, To, Cc, Bcc,
//                                                   Message-ID, In-Reply-To, References or Subject
//                                                   (RFC 5322 3.6: at most one); one per field name,
//                                                   evidence the name as written
//   mime.version_missing                  warning   Content-Type or Content-Transfer-Encoding, no
//                                                   MIME-Version
//   return_path.present                   warning   the sender wrote a Return-Path
//   list_unsubscribe.invalid              warning   one per entry of detail.list_unsubscribe.errors
//   envelope.from_mismatch                info      MAIL FROM's domain differs from the From domain
//                                                   (skipped for the null sender and an unparseable From)
//   header.line_too_long                  error     a raw header line over 998 octets without its CRLF
//                                                   (one finding, evidence the first such line)
//   header.8bit_without_smtputf8          warning   a byte >= 0x80 in the raw header block and no SMTPUTF8
//                                                   in the envelope (one finding, evidence the first line)
//   header.bare_newline                   warning   envelope.bare_newline
#include "analyzers/headers/headers.h"

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/ascii.h"
#include "analyzers/analyzer_internal.h"
#include "analyzers/rfc5322.h"

namespace mailjar::analyzers {
namespace {

using internal::evidence;
using core::ascii_iequals;

constexpr std::size_t kMaxLineOctets = 998;                   // RFC 5322 2.1.1, without the CRLF
constexpr int64_t kMaxFutureMs = 15 * 60 * 1000;              // Date after reception: clock skew allowed
constexpr int64_t kMaxAgeMs = int64_t{7} * 24 * 3600 * 1000;  // Date before reception

// The fields this analyzer looks at, by index; `single`: RFC 5322 3.6 allows at most one.
enum Field : int {
  kDate,
  kFrom,
  kSender,
  kReplyTo,
  kTo,
  kCc,
  kBcc,
  kMessageId,
  kInReplyTo,
  kReferences,
  kSubject,
  kMimeVersion,
  kContentType,
  kContentTransferEncoding,
  kReturnPath,
  kFieldCount
};

struct KnownField {
  std::string_view name;
  bool single;
};

constexpr std::array<KnownField, kFieldCount> kKnownFields = {{
    {"Date", true},
    {"From", true},
    {"Sender", true},
    {"Reply-To", true},
    {"To", true},
    {"Cc", true},
    {"Bcc", true},
    {"Message-ID", true},
    {"In-Reply-To", true},
    {"References", true},
    {"Subject", true},
    {"MIME-Version", false},
    {"Content-Type", false},
    {"Content-Transfer-Encoding", false},
    {"Return-Path", false},
}};

int field_of(std::string_view name) {
  for (int f = 0; f < kFieldCount; ++f) {
    if (ascii_iequals(name, kKnownFields[f].name)) return f;
  }
  return -1;
}

using core::ascii_lowercase;
using core::is_ascii_alpha;
using core::is_ascii_digit;
using core::is_ascii_space;
using rfc5322::AddressList;
using rfc5322::parse_date;
using rfc5322::path_domain;
using rfc5322::scan_address_list;
using rfc5322::trim;
using rfc5322::valid_msg_id;

// "40 minutes", "5 hours", "12 days" for a non-negative span.
std::string describe_span(int64_t ms) {
  const int64_t minutes = ms / 60000;
  const auto unit = [](int64_t n, std::string_view one, std::string_view many) {
    return std::to_string(n) + " " + std::string(n == 1 ? one : many);
  };
  if (minutes < 120) return unit(minutes, "minute", "minutes");
  if (minutes < 48 * 60) return unit(minutes / 60, "hour", "hours");
  return unit(minutes / (24 * 60), "day", "days");
}

// ---------------------------------------------------------------------------------------------------
// The raw header block: every line up to the first empty one (CRLF or bare LF ends a line).

struct RawHeaderFacts {
  std::size_t long_lines = 0;
  std::size_t longest = 0;
  std::string_view first_long;
  bool eight_bit = false;
  std::string_view first_eight_bit;
};

RawHeaderFacts scan_raw_headers(std::string_view raw) {
  RawHeaderFacts facts;
  std::size_t pos = 0;
  while (pos < raw.size()) {
    std::size_t nl = raw.find('\n', pos);
    const std::size_t next = nl == std::string_view::npos ? raw.size() : nl + 1;
    if (nl == std::string_view::npos) nl = raw.size();
    std::string_view line = raw.substr(pos, nl - pos);
    if (nl < raw.size() && !line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;
    if (line.size() > kMaxLineOctets) {
      if (facts.long_lines++ == 0) facts.first_long = line;
      if (line.size() > facts.longest) facts.longest = line.size();
    }
    if (!facts.eight_bit) {
      for (char c : line) {
        if (static_cast<unsigned char>(c) >= 0x80) {
          facts.eight_bit = true;
          facts.first_eight_bit = line;
          break;
        }
      }
    }
    pos = next;
  }
  return facts;
}

// ---------------------------------------------------------------------------------------------------

class HeadersAnalyzer final : public LocalAnalyzer {
 public:
  std::string_view name() const override { return "headers"; }
  std::string_view title() const override { return "Header sanity"; }

  Report analyze(const Input& input, const Context& context) const override {
    std::vector<Finding> findings;
    const auto add = [&findings](std::string_view id, Severity severity, std::string message,
                                 std::string_view shown) {
      findings.push_back(Finding{std::string(id), severity, std::move(message), evidence(shown)});
    };
    const mime::MessageDetail& detail = input.message;

    if (detail.parse_failed) {
      add("parse.failed", Severity::kError,
          "the message could not be parsed, so its header fields were not checked", detail.parse_error);
    } else {
      check_fields(input, context, add);
    }

    const RawHeaderFacts raw = scan_raw_headers(input.raw);
    if (raw.long_lines > 0) {
      add("header.line_too_long", Severity::kError,
          std::to_string(raw.long_lines) + (raw.long_lines == 1 ? " header line is" : " header lines are") +
              " longer than 998 octets (the longest has " + std::to_string(raw.longest) +
              "); RFC 5322 2.1.1 forbids it and receivers may reject or cut the message",
          raw.first_long);
    }
    if (raw.eight_bit && !input.envelope.smtputf8) {
      add("header.8bit_without_smtputf8", Severity::kWarning,
          "the header has 8-bit bytes but MAIL FROM did not use SMTPUTF8 (RFC 6531, RFC 6532); use RFC 2047 "
          "encoded words or send with SMTPUTF8",
          raw.first_eight_bit);
    }
    if (input.envelope.bare_newline) {
      add("header.bare_newline", Severity::kWarning,
          "the message contained a bare CR or LF (RFC 5322 2.3 allows them only together as CRLF); many "
          "receivers reject such mail",
          "");
    }

    Report report;
    report.verdict = verdict_of(findings);
    report.summary = summary_of(findings);
    report.findings = std::move(findings);
    return report;
  }

 private:
  template <typename Add>
  static void check_fields(const Input& input, const Context& context, const Add& add) {
    struct Seen {
      int count = 0;
      const std::string* first = nullptr;
      const std::string* second = nullptr;
    };
    std::array<Seen, kFieldCount> seen{};
    std::array<const std::string*, kFieldCount> duplicate_names{};  // the second instance's name
    for (const auto& [name, value] : input.message.headers) {
      const int f = field_of(name);
      if (f < 0) continue;
      Seen& s = seen[f];
      ++s.count;
      if (s.count == 1) {
        s.first = &value;
      } else if (s.count == 2) {
        s.second = &value;
        duplicate_names[f] = &name;
      }
    }

    // From (3.6.2; RFC 6854).
    std::string from_domain;
    if (seen[kFrom].count == 0) {
      add("from.missing", Severity::kError, "there is no From field (RFC 5322 3.6 requires one)", "");
    } else {
      if (seen[kFrom].count > 1) {
        add("from.multiple", Severity::kError,
            std::to_string(seen[kFrom].count) + " From fields; RFC 5322 3.6 allows exactly one",
            *seen[kFrom].second);
      }
      const AddressList from = scan_address_list(*seen[kFrom].first);
      if (from.addr_specs == 0) {
        add("from.unparseable", Severity::kError, "the From field has no valid address (addr-spec)",
            *seen[kFrom].first);
      } else {
        from_domain = from.first_domain;
      }
      if (from.mailboxes > 1 && seen[kSender].count == 0) {
        add("from.multiple_mailboxes_without_sender", Severity::kError,
            "From lists " + std::to_string(from.mailboxes) +
                " mailboxes but there is no Sender field (RFC 5322 3.6.2 requires one then)",
            *seen[kFrom].first);
      }
    }

    // Date (3.3, 3.6.1).
    if (seen[kDate].count == 0) {
      add("date.missing", Severity::kError, "there is no Date field (RFC 5322 3.6 requires one)", "");
    } else {
      const std::string& value = *seen[kDate].first;
      const std::optional<int64_t> date_ms = parse_date(value);
      const int64_t reference = input.received_ms > 0 ? input.received_ms : context.now_ms;
      if (!date_ms) {
        add("date.unparseable", Severity::kError, "the Date field is not an RFC 5322 date-time (section 3.3)",
            value);
      } else if (reference > 0 && *date_ms > reference + kMaxFutureMs) {
        add("date.future", Severity::kWarning,
            "the Date is " + describe_span(*date_ms - reference) +
                " after the message was received; the sender's clock or time zone is probably wrong",
            value);
      } else if (reference > 0 && *date_ms < reference - kMaxAgeMs) {
        add("date.old", Severity::kWarning,
            "the Date is " + describe_span(reference - *date_ms) +
                " before the message was received; receivers may sort it out of sight",
            value);
      }
    }

    // Message-ID (3.6.4).
    if (seen[kMessageId].count == 0) {
      add("message_id.missing", Severity::kWarning,
          "there is no Message-ID field (RFC 5322 3.6.4: every message SHOULD have one)", "");
    } else if (!valid_msg_id(*seen[kMessageId].first)) {
      add("message_id.invalid", Severity::kWarning, "the Message-ID is not one <left@right> (RFC 5322 3.6.4)",
          *seen[kMessageId].first);
    }

    // Subject (3.6.5).
    if (seen[kSubject].count == 0) {
      add("subject.missing", Severity::kWarning, "there is no Subject field", "");
    } else if (trim(*seen[kSubject].first).empty()) {
      add("subject.empty", Severity::kInfo, "the Subject is empty", "");
    }

    // Destination (3.6.3).
    if (seen[kTo].count == 0 && seen[kCc].count == 0) {
      add("to.missing", Severity::kWarning,
          "there is no To or Cc field, so recipients see no addressee (only Bcc or undisclosed recipients)",
          "");
    }

    // Single-instance fields (3.6). From is reported above as from.multiple.
    for (int f = 0; f < kFieldCount; ++f) {
      if (f == kFrom || !kKnownFields[f].single || !duplicate_names[f]) continue;
      add("header.duplicate", Severity::kError,
          std::string(kKnownFields[f].name) + " appears " + std::to_string(seen[f].count) +
              " times; RFC 5322 3.6 allows at most one",
          *duplicate_names[f]);
    }

    // MIME (RFC 2045 4).
    if ((seen[kContentType].count > 0 || seen[kContentTransferEncoding].count > 0) &&
        seen[kMimeVersion].count == 0) {
      add("mime.version_missing", Severity::kWarning,
          "the message has MIME fields (Content-Type or Content-Transfer-Encoding) but no MIME-Version (RFC "
          "2045 4)",
          "");
    }

    // Return-Path (RFC 5321 4.4).
    if (seen[kReturnPath].count > 0) {
      add("return_path.present", Severity::kWarning,
          "the sender wrote a Return-Path field; the final delivering MTA adds it (RFC 5321 4.4), so a "
          "receiver may drop or duplicate it",
          *seen[kReturnPath].first);
    }

    // List-Unsubscribe (RFC 2369, RFC 8058), checked by mime::parse_detail.
    const mime::ListUnsubscribe& unsubscribe = input.message.list_unsubscribe;
    for (const std::string& error : unsubscribe.errors) {
      add("list_unsubscribe.invalid", Severity::kWarning, "List-Unsubscribe: " + evidence(error),
          unsubscribe.header.empty() ? unsubscribe.header_post : unsubscribe.header);
    }

    // Alignment (RFC 7489 3.1): the envelope sender's domain against the From domain.
    const std::string& mail_from = input.envelope.mail_from;
    if (!mail_from.empty() && !from_domain.empty()) {
      const std::string envelope_domain = path_domain(mail_from);
      std::string header_domain = from_domain;
      while (!header_domain.empty() && header_domain.back() == '.') header_domain.pop_back();
      if (!envelope_domain.empty() && envelope_domain != header_domain) {
        add("envelope.from_mismatch", Severity::kInfo,
            "the MAIL FROM domain " + evidence(envelope_domain) + " differs from the From domain " +
                evidence(header_domain) +
                ": SPF can only align for DMARC if both share an organizational domain",
            mail_from);
      }
    }
  }
};

}  // namespace

std::unique_ptr<Analyzer> make_headers_analyzer() { return std::make_unique<HeadersAnalyzer>(); }

}  // namespace mailjar::analyzers
