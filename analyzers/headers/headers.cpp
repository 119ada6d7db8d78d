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

// ---------------------------------------------------------------------------------------------------
// Lexical pieces of RFC 5322 (3.2).

// Whitespace here includes CR and LF: values are unfolded, but a bare CR or LF left in one is trimmed too.
using core::ascii_lowercase;
using core::is_ascii_space;
using core::is_ascii_alpha;
using core::is_ascii_digit;

// atext (3.2.3), with the UTF-8 bytes RFC 6532 adds to it.
bool is_atext(char c) {
  if (static_cast<unsigned char>(c) >= 0x80 || is_ascii_alpha(c) || is_ascii_digit(c)) return true;
  constexpr std::string_view kSpecials = "!#$%&'*+-/=?^_`{|}~";
  return kSpecials.find(c) != std::string_view::npos;
}

bool all_atext_or_dot(std::string_view s) {
  for (char c : s) {
    if (c != '.' && !is_atext(c)) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_ascii_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ascii_space(s.back())) s.remove_suffix(1);
  return s;
}

// Skips a comment starting at s[i] == '(' (nested, with quoted-pairs). False when it is not closed.
bool skip_comment(std::string_view s, std::size_t& i) {
  int depth = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (c == '\\') {
      i += 2;
      continue;
    }
    ++i;
    if (c == '(') {
      ++depth;
    } else if (c == ')' && --depth == 0) {
      return true;
    }
  }
  i = s.size();
  return false;
}

// Skips CFWS (3.2.2). False when a comment is not closed.
bool skip_cfws(std::string_view s, std::size_t& i) {
  while (i < s.size()) {
    if (is_ascii_space(s[i])) {
      ++i;
    } else if (s[i] == '(') {
      if (!skip_comment(s, i)) return false;
    } else {
      break;
    }
  }
  return true;
}

// The end of a quoted string (3.2.4) starting at s[i] == '"': the index after the closing quote, or
// npos when it is not closed.
std::size_t quoted_string_end(std::string_view s, std::size_t i) {
  for (std::size_t j = i + 1; j < s.size(); ++j) {
    if (s[j] == '\\') {
      ++j;
    } else if (s[j] == '"') {
      return j + 1;
    }
  }
  return std::string_view::npos;
}

// The domain of an addr-spec (3.4.1: local-part "@" domain, the local part a dot-atom or a quoted
// string, the domain a dot-atom or a domain literal), lower-case; nullopt when `addr` is not one.
// `in_angle`: an obsolete route ("@a,@b:") may precede it (4.4).
std::optional<std::string> addr_spec_domain(std::string_view addr, bool in_angle) {
  addr = trim(addr);
  if (in_angle && !addr.empty() && addr.front() == '@') {
    const std::size_t colon = addr.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    addr = trim(addr.substr(colon + 1));
  }
  std::size_t at;
  if (!addr.empty() && addr.front() == '"') {
    at = quoted_string_end(addr, 0);
    if (at == std::string_view::npos || at < 3 || at >= addr.size() || addr[at] != '@') return std::nullopt;
  } else {
    at = addr.rfind('@');
    if (at == std::string_view::npos || at == 0 || !all_atext_or_dot(addr.substr(0, at))) return std::nullopt;
  }
  const std::string_view domain = addr.substr(at + 1);
  if (domain.empty()) return std::nullopt;
  if (domain.front() == '[') {
    if (domain.size() < 3 || domain.back() != ']') return std::nullopt;
    for (char c : domain.substr(1, domain.size() - 2)) {
      if (c == '[' || c == ']' || c == '\\' || is_ascii_space(c)) return std::nullopt;
    }
  } else if (!all_atext_or_dot(domain) || domain.front() == '.' || domain.back() == '.') {
    return std::nullopt;
  }
  return ascii_lowercase(domain);
}

// What an address list (3.4: mailboxes and groups, display names, comments, quoted strings) holds.
struct AddressList {
  int mailboxes = 0;         // entries, in groups too, well-formed or not (empty list elements skipped)
  int addr_specs = 0;        // entries with a well-formed addr-spec
  std::string first_domain;  // lower-case domain of the first well-formed addr-spec
};

AddressList scan_address_list(std::string_view v) {
  AddressList out;
  bool text_has_content = false;  // the current entry has text outside <>
  std::string_view angle;         // the current entry's <...> content
  bool has_angle = false;
  bool angle_closed = false;
  bool in_group = false;
  std::string bare;  // the entry without comments, when it has no <>

  const auto finish = [&] {
    if (has_angle || text_has_content) {
      ++out.mailboxes;
      std::optional<std::string> domain;
      if (has_angle) {
        if (angle_closed) domain = addr_spec_domain(angle, true);
      } else {
        // A bare addr-spec: one word with no whitespace inside it (comments removed).
        const std::string_view t = trim(bare);
        bool spaced = false;
        for (std::size_t k = 0; k < t.size(); ++k) {
          if (t[k] == '"') {
            const std::size_t q = quoted_string_end(t, k);
            if (q == std::string_view::npos) break;
            k = q - 1;
          } else if (is_ascii_space(t[k])) {
            spaced = true;
          }
        }
        if (!spaced) domain = addr_spec_domain(t, false);
      }
      if (domain) {
        if (out.addr_specs == 0) out.first_domain = std::move(*domain);
        ++out.addr_specs;
      }
    }
    text_has_content = false;
    has_angle = false;
    angle_closed = false;
    angle = {};
    bare.clear();
  };

  std::size_t i = 0;
  while (i < v.size()) {
    const char c = v[i];
    if (c == '"') {
      const std::size_t end = quoted_string_end(v, i);
      const std::size_t stop = end == std::string_view::npos ? v.size() : end;
      bare.append(v.substr(i, stop - i));
      text_has_content = true;
      i = stop;
    } else if (c == '(') {
      skip_comment(v, i);
      bare.push_back(' ');
    } else if (c == '[') {
      const std::size_t close = v.find(']', i);
      const std::size_t stop = close == std::string_view::npos ? v.size() : close + 1;
      bare.append(v.substr(i, stop - i));
      text_has_content = true;
      i = stop;
    } else if (c == '<') {
      std::size_t j = i + 1;
      while (j < v.size() && v[j] != '>') {
        if (v[j] == '"') {
          const std::size_t q = quoted_string_end(v, j);
          j = q == std::string_view::npos ? v.size() : q;
        } else {
          ++j;
        }
      }
      has_angle = true;
      angle_closed = j < v.size();
      angle = v.substr(i + 1, j - i - 1);
      i = angle_closed ? j + 1 : v.size();
    } else if (c == ':' && !in_group && !has_angle) {
      // The display name of a group (3.4, RFC 6854 for From): its mailboxes follow.
      in_group = true;
      ++i;
      text_has_content = false;
      bare.clear();
    } else if (c == ';' && in_group) {
      finish();
      in_group = false;
      ++i;
    } else if (c == ',') {
      finish();
      ++i;
    } else {
      if (!is_ascii_space(c)) text_has_content = true;
      bare.push_back(c);
      ++i;
    }
  }
  finish();
  return out;
}

// The lower-case domain of an SMTP reverse-path ("user@example.com"), "" when it has none.
std::string path_domain(std::string_view path) {
  const std::size_t at = path.rfind('@');
  if (at == std::string_view::npos || at + 1 >= path.size()) return {};
  std::string_view domain = path.substr(at + 1);
  while (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
  return ascii_lowercase(domain);
}

// ---------------------------------------------------------------------------------------------------
// Date (RFC 5322 3.3, 4.3).

constexpr std::array<std::string_view, 7> kDayNames = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
constexpr std::array<std::string_view, 12> kMonthNames = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

struct NamedZone {
  std::string_view name;
  int offset_minutes;
};
constexpr std::array<NamedZone, 10> kNamedZones = {{{"UT", 0},
                                                    {"GMT", 0},
                                                    {"EST", -5 * 60},
                                                    {"EDT", -4 * 60},
                                                    {"CST", -6 * 60},
                                                    {"CDT", -5 * 60},
                                                    {"MST", -7 * 60},
                                                    {"MDT", -6 * 60},
                                                    {"PST", -8 * 60},
                                                    {"PDT", -7 * 60}}};

class DateParser {
 public:
  explicit DateParser(std::string_view s) : s_(s) {}

  // The date-time as Unix milliseconds, nullopt when it is not one.
  std::optional<int64_t> parse() {
    if (!cfws()) return std::nullopt;
    if (i_ < s_.size() && is_ascii_alpha(s_[i_])) {
      if (!one_of(letters(), kDayNames) || !cfws() || !take(',')) return std::nullopt;
    }
    int day = 0;
    int hour = 0;
    int minute = 0;
    int second = 0;
    if (!cfws() || !number(1, 2, day) || !cfws()) return std::nullopt;
    const int month = one_of(letters(), kMonthNames);
    if (!month || !cfws()) return std::nullopt;
    const std::string_view year_digits = digits();
    if (year_digits.size() < 2 || year_digits.size() > 4) return std::nullopt;
    int year = to_int(year_digits);
    if (year_digits.size() == 2) {
      year += year < 50 ? 2000 : 1900;  // 4.3: obs-year
    } else if (year_digits.size() == 3) {
      year += 1900;
    } else if (year < 1900) {
      return std::nullopt;
    }
    if (!cfws() || !number(1, 2, hour) || !cfws() || !take(':') || !cfws() || !number(2, 2, minute) ||
        !cfws()) {
      return std::nullopt;
    }
    if (i_ < s_.size() && s_[i_] == ':') {
      ++i_;
      if (!cfws() || !number(2, 2, second) || !cfws()) return std::nullopt;
    }
    int zone_minutes = 0;
    if (!zone(zone_minutes) || !cfws() || i_ != s_.size()) return std::nullopt;
    if (hour > 23 || minute > 59 || second > 60) return std::nullopt;

    const std::chrono::year_month_day ymd{std::chrono::year{year},
                                          std::chrono::month{static_cast<unsigned>(month)},
                                          std::chrono::day{static_cast<unsigned>(day)}};
    if (!ymd.ok()) return std::nullopt;
    const int64_t days = std::chrono::sys_days{ymd}.time_since_epoch().count();
    const int64_t seconds = days * 86400 + hour * 3600 + minute * 60 + second - int64_t{zone_minutes} * 60;
    return seconds * 1000;
  }

 private:
  bool cfws() { return skip_cfws(s_, i_); }

  bool take(char c) {
    if (i_ >= s_.size() || s_[i_] != c) return false;
    ++i_;
    return true;
  }

  std::string_view letters() {
    const std::size_t begin = i_;
    while (i_ < s_.size() && is_ascii_alpha(s_[i_])) ++i_;
    return s_.substr(begin, i_ - begin);
  }

  std::string_view digits() {
    const std::size_t begin = i_;
    while (i_ < s_.size() && is_ascii_digit(s_[i_])) ++i_;
    return s_.substr(begin, i_ - begin);
  }

  static int to_int(std::string_view d) {
    int v = 0;
    for (char c : d) v = v * 10 + (c - '0');
    return v;
  }

  bool number(std::size_t min_digits, std::size_t max_digits, int& out) {
    const std::string_view d = digits();
    if (d.size() < min_digits || d.size() > max_digits) return false;
    out = to_int(d);
    return true;
  }

  // 1-based position of `word` in `names` (case-insensitive), 0 when absent.
  template <std::size_t N>
  static int one_of(std::string_view word, const std::array<std::string_view, N>& names) {
    for (std::size_t k = 0; k < N; ++k) {
      if (ascii_iequals(word, names[k])) return static_cast<int>(k) + 1;
    }
    return 0;
  }

  // zone = ("+" / "-") 4DIGIT / obs-zone (UT, GMT, US zones, military letters: the latter are -0000).
  bool zone(int& offset_minutes) {
    if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) {
      const int sign = s_[i_] == '-' ? -1 : 1;
      ++i_;
      const std::string_view d = digits();
      if (d.size() != 4) return false;
      const int hh = to_int(d.substr(0, 2));
      const int mm = to_int(d.substr(2, 2));
      if (mm > 59) return false;
      offset_minutes = sign * (hh * 60 + mm);
      return true;
    }
    const std::string_view name = letters();
    for (const NamedZone& z : kNamedZones) {
      if (ascii_iequals(name, z.name)) {
        offset_minutes = z.offset_minutes;
        return true;
      }
    }
    if (name.size() == 1 && name[0] != 'J' && name[0] != 'j') {
      offset_minutes = 0;
      return true;
    }
    return false;
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

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
// Message-ID (3.6.4): [CFWS] "<" id-left "@" id-right ">" [CFWS], exactly one.

bool valid_msg_id(std::string_view v) {
  std::size_t i = 0;
  if (!skip_cfws(v, i) || i >= v.size() || v[i] != '<') return false;
  const std::size_t close = v.find('>', i + 1);
  if (close == std::string_view::npos) return false;
  const std::string_view inner = v.substr(i + 1, close - i - 1);
  i = close + 1;
  if (!skip_cfws(v, i) || i != v.size()) return false;

  const std::size_t at = inner.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == inner.size()) return false;
  const std::string_view left = inner.substr(0, at);
  const std::string_view right = inner.substr(at + 1);
  if (left.front() == '"') {
    if (quoted_string_end(left, 0) != left.size() || left.size() < 3) return false;
  } else if (!all_atext_or_dot(left)) {
    return false;
  }
  if (right.front() == '[') {
    if (right.size() < 3 || right.back() != ']') return false;
    for (char c : right.substr(1, right.size() - 2)) {
      if (c == '[' || c == ']' || c == '\\' || is_ascii_space(c)) return false;
    }
    return true;
  }
  return all_atext_or_dot(right);
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

class HeadersAnalyzer final : public Analyzer {
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
      const std::optional<int64_t> date_ms = DateParser(value).parse();
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
