// RFC 5322 pieces for analyzers. See rfc5322.h for the contract.
#include "analyzers/rfc5322.h"

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>

#include "core/ascii.h"

namespace mailjar::analyzers::rfc5322 {

using core::ascii_iequals;
using core::ascii_lowercase;
using core::is_ascii_alpha;
using core::is_ascii_digit;
using core::is_ascii_space;

// ---------------------------------------------------------------------------------------------------
// Lexical pieces of RFC 5322 (3.2).

// atext (3.2.3), with the UTF-8 bytes RFC 6532 adds to it.
static bool is_atext(char c) {
  if (static_cast<unsigned char>(c) >= 0x80 || is_ascii_alpha(c) || is_ascii_digit(c)) return true;
  constexpr std::string_view kSpecials = "!#$%&'*+-/=?^_`{|}~";
  return kSpecials.find(c) != std::string_view::npos;
}

static bool all_atext_or_dot(std::string_view s) {
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
static bool skip_comment(std::string_view s, std::size_t& i) {
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
static std::size_t quoted_string_end(std::string_view s, std::size_t i) {
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

namespace {

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

}  // namespace

std::optional<int64_t> parse_date(std::string_view value) { return DateParser(value).parse(); }

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

}  // namespace mailjar::analyzers::rfc5322
