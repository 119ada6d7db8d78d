// NAME
//   query.cpp - Mailpit's search language: parse_query() and compile_query() (contract in query.h).
// DESIGN
//   parse_query() is one left-to-right scan producing QueryTerms; values are checked (is:, has:, sizes,
//   dates) as they are read, so compile_query() cannot fail. Dates without an offset are read in
//   QueryOptions::tz, resolved at most once per call and only when a before:/after: term needs it: a fixed
//   offset, or an IANA zone read from its TZif file (RFC 8536: the 64-bit data of version 2+ files, and the
//   POSIX TZ footer for instants after the last transition).
//   Full-text values are split into tokens the way SQLite's unicode61 tokenizer splits them (ASCII letters
//   and digits, and non-ASCII characters outside kSeparatorRanges, are token characters), so that a term
//   made only of separators is recognised as having no tokens instead of becoming an FTS5 phrase that can
//   never match.
// SECURITY
//   Every user value reaches SQL as a bound parameter. FTS5 sees user text only inside FTS5 strings ("..."
//   with " doubled) that hold nothing but token characters and spaces, so no FTS5 operator, column filter,
//   prefix or NEAR group can be injected. A zone name is checked against [A-Za-z0-9/_+-] (so it can hold
//   neither ".." nor a leading "/") before a file under kZoneinfoDir is opened; the file's size and every
//   count in it are bounded.
// STANDARDS
//   RFC 3339 (dates), RFC 8536 (TZif), POSIX.1-2017 section 8.3 (the TZ string of a TZif footer).
#include "store/query.h"
#include "core/ascii.h"
#include "core/utf8.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <limits>
#include <optional>
#include <utility>

namespace mailjar::store {
namespace {

// Named limits on user input.
constexpr std::size_t kMaxQueryBytes = 4096;
constexpr std::size_t kMaxTerms = 64;
constexpr std::size_t kMaxZoneNameBytes = 128;
constexpr std::size_t kMaxTzifBytes = 256 * 1024;  // real TZif files are a few KiB
constexpr std::size_t kMaxFractionDigits = 9;      // in sizes ("1.5M") and in RFC 3339 seconds
constexpr std::size_t kMaxSizeDigits = 18;         // fits int64 before the unit is applied

constexpr const char* kZoneinfoDir = "/usr/share/zoneinfo/";
constexpr int64_t kSecondsPerDay = 86400;

// Non-ASCII code points that SQLite's unicode61 tokenizer (as of SQLite 3.40) treats as separators, in the
// blocks where people type punctuation and symbols: Latin-1, spacing modifiers and combining marks, Greek
// punctuation, general punctuation, currency, letter-like symbols, arrows and mathematical and technical
// symbols, enclosed alphanumerics, box drawing and shapes, dingbats, CJK punctuation, variation selectors,
// half- and full-width forms, and emoji. Measured against unicode61 (query_test.cpp checks every code point
// of these blocks); other non-ASCII characters count as token characters.
constexpr std::pair<char32_t, char32_t> kSeparatorRanges[] = {
    {0x0080, 0x00A9},   {0x00AB, 0x00B1},   {0x00B4, 0x00B4},   {0x00B6, 0x00B8},   {0x00BB, 0x00BB},
    {0x00BF, 0x00BF},   {0x00D7, 0x00D7},   {0x00F7, 0x00F7},   {0x02C2, 0x02C5},   {0x02D2, 0x02DF},
    {0x02E5, 0x02EB},   {0x02ED, 0x02ED},   {0x02EF, 0x02FF},   {0x0305, 0x0305},   {0x030D, 0x030E},
    {0x0310, 0x0310},   {0x0312, 0x031A},   {0x031C, 0x0322},   {0x0329, 0x032C},   {0x032F, 0x032F},
    {0x0332, 0x036F},   {0x0375, 0x0375},   {0x037E, 0x037E},   {0x0384, 0x0385},   {0x0387, 0x0387},
    {0x03F6, 0x03F6},   {0x2000, 0x2064},   {0x206A, 0x206F},   {0x207A, 0x207E},   {0x208A, 0x208E},
    {0x20A0, 0x20B9},   {0x20D0, 0x20F0},   {0x2100, 0x2101},   {0x2103, 0x2106},   {0x2108, 0x2109},
    {0x2114, 0x2114},   {0x2116, 0x2118},   {0x211E, 0x2123},   {0x2125, 0x2125},   {0x2127, 0x2127},
    {0x2129, 0x2129},   {0x212E, 0x212E},   {0x213A, 0x213B},   {0x2140, 0x2144},   {0x214A, 0x214D},
    {0x214F, 0x214F},   {0x2190, 0x23F3},   {0x2400, 0x2426},   {0x2440, 0x244A},   {0x249C, 0x24E9},
    {0x2500, 0x26FF},   {0x2701, 0x2775},   {0x2794, 0x2B4C},   {0x2B50, 0x2B59},   {0x3000, 0x3004},
    {0x3008, 0x3020},   {0x302A, 0x3030},   {0x3036, 0x3037},   {0x303D, 0x303F},   {0xFE00, 0xFE19},
    {0xFE20, 0xFE26},   {0xFE30, 0xFE52},   {0xFE54, 0xFE66},   {0xFE68, 0xFE6B},   {0xFEFF, 0xFEFF},
    {0xFF01, 0xFF0F},   {0xFF1A, 0xFF20},   {0xFF3B, 0xFF40},   {0xFF5B, 0xFF65},   {0xFFE0, 0xFFE6},
    {0xFFE8, 0xFFEE},   {0xFFF9, 0xFFFF},   {0x1F000, 0x1F02B}, {0x1F030, 0x1F093}, {0x1F0A0, 0x1F0AE},
    {0x1F0B1, 0x1F0BE}, {0x1F0C1, 0x1F0CF}, {0x1F0D1, 0x1F0DF}, {0x1F110, 0x1F12E}, {0x1F130, 0x1F16B},
    {0x1F170, 0x1F19A}, {0x1F1E6, 0x1F202}, {0x1F210, 0x1F23A}, {0x1F240, 0x1F248}, {0x1F250, 0x1F251},
    {0x1F300, 0x1F320}, {0x1F330, 0x1F335}, {0x1F337, 0x1F37C}, {0x1F380, 0x1F393}, {0x1F3A0, 0x1F3C4},
    {0x1F3C6, 0x1F3CA}, {0x1F3E0, 0x1F3F0}, {0x1F400, 0x1F43E}, {0x1F440, 0x1F440}, {0x1F442, 0x1F4F7},
    {0x1F4F9, 0x1F4FC}, {0x1F500, 0x1F53D}, {0x1F540, 0x1F543}, {0x1F550, 0x1F567}, {0x1F5FB, 0x1F640},
    {0x1F645, 0x1F64F}, {0x1F680, 0x1F6C5}, {0x1F700, 0x1F773},
};

core::Error invalid(std::string message) { return core::make_error("invalid", std::move(message)); }

using core::ascii_lowercase;
using core::is_ascii_alpha;
using core::is_ascii_digit;
using core::is_ascii_space;

// ---------------------------------------------------------------------------------------------------------
// Tokens, as unicode61 sees them.

using core::utf8_decode;

bool is_separator_code_point(char32_t cp) {
  const auto* it = std::upper_bound(std::begin(kSeparatorRanges), std::end(kSeparatorRanges), cp,
                                    [](char32_t c, const auto& range) { return c < range.first; });
  return it != std::begin(kSeparatorRanges) && cp <= std::prev(it)->second;
}

// The tokens of `text`, joined by single spaces ("" if there are none). Invalid UTF-8 separates tokens.
std::string token_text(std::string_view text) {
  std::string out;
  bool in_token = false;
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    std::size_t n = 1;
    bool token_char = false;
    if (static_cast<unsigned char>(c) < 0x80) {
      token_char = is_ascii_alpha(c) || is_ascii_digit(c);
    } else {
      char32_t cp = 0;
      n = utf8_decode(text, i, cp);
      if (n == 0) {
        n = 1;  // an invalid byte: a separator
      } else {
        token_char = !is_separator_code_point(cp);
      }
    }
    if (token_char) {
      if (!in_token && !out.empty()) out.push_back(' ');
      out.append(text.substr(i, n));
    }
    in_token = token_char;
    i += n;
  }
  return out;
}

// `text` as an FTS5 string: in double quotes, with any double quote inside doubled.
std::string fts_string(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Sizes.

// "10", "10k", "1.5M", "2GB", "512b": bytes, with an optional K/M/G (1024-based) or B suffix, optionally
// followed by "b", case-insensitive; a fraction is allowed and the result truncated to whole bytes.
std::optional<int64_t> parse_size(std::string_view v) {
  std::size_t i = 0;
  int64_t whole = 0;
  while (i < v.size() && is_ascii_digit(v[i])) {
    if (i >= kMaxSizeDigits) return std::nullopt;
    whole = whole * 10 + (v[i] - '0');
    ++i;
  }
  if (i == 0) return std::nullopt;
  int64_t fraction = 0;
  int64_t fraction_scale = 1;
  if (i < v.size() && v[i] == '.') {
    const std::size_t start = ++i;
    while (i < v.size() && is_ascii_digit(v[i])) {
      if (i - start >= kMaxFractionDigits) return std::nullopt;
      fraction = fraction * 10 + (v[i] - '0');
      fraction_scale *= 10;
      ++i;
    }
    if (i == start) return std::nullopt;
  }
  const std::string unit = ascii_lowercase(v.substr(i));
  int64_t multiplier = 0;
  if (unit.empty() || unit == "b") {
    multiplier = 1;
  } else if (unit == "k" || unit == "kb") {
    multiplier = int64_t{1} << 10;
  } else if (unit == "m" || unit == "mb") {
    multiplier = int64_t{1} << 20;
  } else if (unit == "g" || unit == "gb") {
    multiplier = int64_t{1} << 30;
  } else {
    return std::nullopt;
  }
  if (whole > std::numeric_limits<int64_t>::max() / multiplier - 1) return std::nullopt;
  return whole * multiplier + fraction * multiplier / fraction_scale;
}

// ---------------------------------------------------------------------------------------------------------
// Time zones.

int64_t days_from_civil(int y, unsigned m, unsigned d) {
  using namespace std::chrono;
  return sys_days{year{y} / month{m} / day{d}}.time_since_epoch().count();
}

int year_of(int64_t unix_seconds) {
  using namespace std::chrono;
  const sys_days day = floor<days>(sys_seconds{seconds{unix_seconds}});
  return static_cast<int>(year_month_day{day}.year());
}

// A POSIX TZ string as found in a TZif footer, e.g. "CET-1CEST,M3.5.0,M10.5.0/3" or "<-03>3".
class PosixZone {
 public:
  static std::optional<PosixZone> parse(std::string_view s) {
    PosixZone z;
    std::size_t i = 0;
    int64_t offset = 0;
    if (!parse_name(s, i) || !parse_hms(s, i, 24, offset)) return std::nullopt;
    z.std_utoff_ = -offset;  // POSIX offsets are west of Greenwich, UT offsets east
    if (i == s.size()) return z;
    if (!parse_name(s, i)) return std::nullopt;
    z.has_dst_ = true;
    z.dst_utoff_ = z.std_utoff_ + 3600;
    if (i < s.size() && s[i] != ',') {
      if (!parse_hms(s, i, 24, offset)) return std::nullopt;
      z.dst_utoff_ = -offset;
    }
    if (i == s.size()) {  // no rule: the US rule, as glibc assumes
      z.start_ = Rule{'M', 3, 2, 0, 7200};
      z.end_ = Rule{'M', 11, 1, 0, 7200};
      return z;
    }
    if (s[i++] != ',' || !parse_rule(s, i, z.start_) || i >= s.size() || s[i++] != ',' ||
        !parse_rule(s, i, z.end_) || i != s.size()) {
      return std::nullopt;
    }
    return z;
  }

  int64_t utoff_at(int64_t t) const {
    if (!has_dst_) return std_utoff_;
    const int y = year_of(t + std_utoff_);
    const int64_t start = day_of(y, start_) * kSecondsPerDay + start_.time - std_utoff_;
    const int64_t end = day_of(y, end_) * kSecondsPerDay + end_.time - dst_utoff_;
    const bool dst = start < end ? (t >= start && t < end) : !(t >= end && t < start);
    return dst ? dst_utoff_ : std_utoff_;
  }

 private:
  struct Rule {
    char kind = 'M';  // 'J': Julian day 1-365 without Feb 29; 'N': day 0-365; 'M': month.week.weekday
    int a = 0, b = 0, c = 0;
    int64_t time = 7200;  // seconds after local midnight
  };

  static bool parse_number(std::string_view s, std::size_t& i, int max, int& out) {
    const std::size_t start = i;
    out = 0;
    while (i < s.size() && is_ascii_digit(s[i]) && i - start < 3) out = out * 10 + (s[i++] - '0');
    return i > start && out <= max;
  }

  static bool parse_name(std::string_view s, std::size_t& i) {
    const std::size_t start = i;
    if (i < s.size() && s[i] == '<') {
      while (++i < s.size() && s[i] != '>') {
      }
      if (i >= s.size()) return false;
      ++i;
      return i - start > 2;
    }
    while (i < s.size() && is_ascii_alpha(s[i])) ++i;
    return i > start;
  }

  // [+-]hh[:mm[:ss]] in seconds.
  static bool parse_hms(std::string_view s, std::size_t& i, int max_hours, int64_t& out) {
    int64_t sign = 1;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) sign = s[i++] == '-' ? -1 : 1;
    int h = 0, m = 0, sec = 0;
    if (!parse_number(s, i, max_hours, h)) return false;
    if (i < s.size() && s[i] == ':') {
      ++i;
      if (!parse_number(s, i, 59, m)) return false;
      if (i < s.size() && s[i] == ':') {
        ++i;
        if (!parse_number(s, i, 59, sec)) return false;
      }
    }
    out = sign * (int64_t{h} * 3600 + m * 60 + sec);
    return true;
  }

  static bool parse_rule(std::string_view s, std::size_t& i, Rule& r) {
    if (i < s.size() && s[i] == 'J') {
      ++i;
      r.kind = 'J';
      if (!parse_number(s, i, 365, r.a) || r.a < 1) return false;
    } else if (i < s.size() && s[i] == 'M') {
      ++i;
      r.kind = 'M';
      if (!parse_number(s, i, 12, r.a) || r.a < 1 || i >= s.size() || s[i++] != '.' ||
          !parse_number(s, i, 5, r.b) || r.b < 1 || i >= s.size() || s[i++] != '.' ||
          !parse_number(s, i, 6, r.c)) {
        return false;
      }
    } else {
      r.kind = 'N';
      if (!parse_number(s, i, 365, r.a)) return false;
    }
    r.time = 7200;
    if (i < s.size() && s[i] == '/') {
      ++i;
      if (!parse_hms(s, i, 167, r.time)) return false;  // RFC 8536 allows -167..167 hours
    }
    return true;
  }

  // Days since the epoch of the day rule `r` names in year `y`.
  static int64_t day_of(int y, const Rule& r) {
    using namespace std::chrono;
    const year yy{y};
    const sys_days jan1{yy / January / 1};
    switch (r.kind) {
      case 'J': {
        const int n = r.a - 1 + ((yy.is_leap() && r.a >= 60) ? 1 : 0);
        return (jan1 + days{n}).time_since_epoch().count();
      }
      case 'N':
        return (jan1 + days{r.a}).time_since_epoch().count();
      default: {
        const month mm{static_cast<unsigned>(r.a)};
        const weekday wd{static_cast<unsigned>(r.c)};
        const sys_days d = r.b == 5 ? sys_days{yy / mm / weekday_last{wd}}
                                    : sys_days{yy / mm / weekday_indexed{wd, static_cast<unsigned>(r.b)}};
        return d.time_since_epoch().count();
      }
    }
  }

  int64_t std_utoff_ = 0;
  bool has_dst_ = false;
  int64_t dst_utoff_ = 0;
  Rule start_, end_;
};

// The UT offsets in force over time in one zone: a fixed offset, or TZif transitions plus footer.
class Zone {
 public:
  static Zone fixed(int64_t utoff) {
    Zone z;
    z.utoffs_.push_back(utoff);
    return z;
  }

  // Parses a TZif file (RFC 8536); nullopt if it is malformed.
  static std::optional<Zone> from_tzif(std::string_view data) {
    constexpr std::size_t kHeaderBytes = 44;
    Counts c;
    if (!read_header(data, 0, c)) return std::nullopt;
    const char version = data[4];
    std::size_t time_bytes = 4;
    std::size_t pos = kHeaderBytes;
    if (version != '\0') {  // skip the 32-bit block to the 64-bit one
      pos += c.size(4);
      if (pos > data.size() || !read_header(data, pos, c)) return std::nullopt;
      pos += kHeaderBytes;
      time_bytes = 8;
    }
    if (c.typecnt == 0 || pos + c.size(time_bytes) > data.size()) return std::nullopt;
    Zone z;
    const std::size_t idx_at = pos + c.timecnt * time_bytes;
    const std::size_t types_at = idx_at + c.timecnt;
    for (std::size_t k = 0; k < c.timecnt; ++k) {
      const int64_t t = time_bytes == 8
                            ? static_cast<int64_t>(be(data, pos + k * 8, 8))
                            : static_cast<int32_t>(static_cast<uint32_t>(be(data, pos + k * 4, 4)));
      const auto type = static_cast<uint8_t>(data[idx_at + k]);
      if (type >= c.typecnt || (!z.times_.empty() && t <= z.times_.back())) return std::nullopt;
      z.times_.push_back(t);
      z.types_.push_back(type);
    }
    for (std::size_t k = 0; k < c.typecnt; ++k) {
      const auto utoff = static_cast<int32_t>(static_cast<uint32_t>(be(data, types_at + k * 6, 4)));
      if (utoff < -kSecondsPerDay || utoff > kSecondsPerDay) return std::nullopt;
      z.utoffs_.push_back(utoff);
    }
    if (version != '\0') {  // footer: "\n" TZ string "\n"; an unusable one is ignored
      const std::size_t footer_at = pos + c.size(time_bytes);
      if (footer_at < data.size() && data[footer_at] == '\n') {
        const std::size_t end = data.find('\n', footer_at + 1);
        if (end != std::string_view::npos && end > footer_at + 1) {
          z.footer_ = PosixZone::parse(data.substr(footer_at + 1, end - footer_at - 1));
        }
      }
    }
    return z;
  }

  int64_t utoff_at(int64_t t) const {
    if (times_.empty()) return footer_ ? footer_->utoff_at(t) : utoffs_[0];
    if (t < times_.front()) return utoffs_[0];
    if (footer_ && t >= times_.back()) return footer_->utoff_at(t);
    const auto it = std::upper_bound(times_.begin(), times_.end(), t);
    return utoffs_[types_[static_cast<std::size_t>(it - times_.begin()) - 1]];
  }

  // The instant at which local wall time `local` (seconds since the epoch, as if it were UT) occurs: the
  // earlier one if it occurs twice (clocks turned back), the end of the gap if it never occurs (clocks
  // turned forward over it). Assumes at most one change of offset within a day either side.
  int64_t local_to_utc(int64_t local) const {
    const int64_t before = utoff_at(local - kSecondsPerDay);
    const int64_t after = utoff_at(local + kSecondsPerDay);
    std::optional<int64_t> best;
    for (const int64_t off : {before, after}) {
      if (utoff_at(local - off) == off && (!best || local - off < *best)) best = local - off;
    }
    return best ? *best : local - before;
  }

 private:
  struct Counts {
    uint64_t isutcnt = 0, isstdcnt = 0, leapcnt = 0, timecnt = 0, typecnt = 0, charcnt = 0;
    // Bytes of the data block that follows the header, for times of `time_bytes` bytes.
    uint64_t size(std::size_t time_bytes) const {
      return timecnt * time_bytes + timecnt + typecnt * 6 + charcnt + leapcnt * (time_bytes + 4) + isstdcnt +
             isutcnt;
    }
  };

  static uint64_t be(std::string_view data, std::size_t at, std::size_t n) {
    uint64_t v = 0;
    for (std::size_t k = 0; k < n; ++k) v = (v << 8) | static_cast<unsigned char>(data[at + k]);
    return v;
  }

  static bool read_header(std::string_view data, std::size_t at, Counts& c) {
    if (data.size() < at + 44 || data.substr(at, 4) != "TZif") return false;
    uint64_t* fields[] = {&c.isutcnt, &c.isstdcnt, &c.leapcnt, &c.timecnt, &c.typecnt, &c.charcnt};
    for (std::size_t k = 0; k < 6; ++k) {
      *fields[k] = be(data, at + 20 + k * 4, 4);
      if (*fields[k] > kMaxTzifBytes) return false;  // keeps size() far from overflow
    }
    return true;
  }

  std::vector<int64_t> times_;   // transition instants, strictly ascending
  std::vector<uint8_t> types_;   // index into utoffs_ for each transition
  std::vector<int64_t> utoffs_;  // UT offset of each local time type; [0] also applies before times_[0]
  std::optional<PosixZone> footer_;
};

// "+02:00", "-0530", "+02": seconds east of UT.
std::optional<int64_t> parse_fixed_offset(std::string_view s) {
  if (s.size() < 3 || (s[0] != '+' && s[0] != '-')) return std::nullopt;
  const int64_t sign = s[0] == '-' ? -1 : 1;
  std::string_view rest = s.substr(1);
  std::string digits;
  if (rest.size() == 5 && rest[2] == ':') {
    digits = std::string(rest.substr(0, 2)) + std::string(rest.substr(3));
  } else if (rest.size() == 4 || rest.size() == 2) {
    digits = std::string(rest);
  } else {
    return std::nullopt;
  }
  if (!std::all_of(digits.begin(), digits.end(), is_ascii_digit)) return std::nullopt;
  const int h = (digits[0] - '0') * 10 + (digits[1] - '0');
  const int m = digits.size() == 4 ? (digits[2] - '0') * 10 + (digits[3] - '0') : 0;
  if (h > 23 || m > 59) return std::nullopt;
  return sign * (int64_t{h} * 3600 + m * 60);
}

bool valid_zone_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxZoneNameBytes || name.front() == '/') return false;
  // No '.': so neither ".." nor a hidden file can be named.
  return std::all_of(name.begin(), name.end(), [](char c) {
    return is_ascii_alpha(c) || is_ascii_digit(c) || c == '/' || c == '_' || c == '-' || c == '+';
  });
}

core::Result<Zone> resolve_zone(std::string_view tz) {
  if (tz.empty() || ascii_lowercase(tz) == "utc") return Zone::fixed(0);
  if (auto offset = parse_fixed_offset(tz)) return Zone::fixed(*offset);
  const std::string unknown = "unknown time zone '" + std::string(tz) + "'";
  if (!valid_zone_name(tz)) return invalid(unknown);
  const std::string path = std::string(kZoneinfoDir) + std::string(tz);
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return invalid(unknown);
  std::string data(kMaxTzifBytes + 1, '\0');
  const std::size_t n = std::fread(data.data(), 1, data.size(), f);
  std::fclose(f);
  if (n > kMaxTzifBytes) return invalid(unknown);
  data.resize(n);
  auto zone = Zone::from_tzif(data);
  if (!zone) return invalid(unknown);
  return std::move(*zone);
}

// ---------------------------------------------------------------------------------------------------------
// Dates.

bool read_digits(std::string_view s, std::size_t& i, std::size_t count, int& out) {
  if (i + count > s.size()) return false;
  out = 0;
  for (std::size_t k = 0; k < count; ++k) {
    if (!is_ascii_digit(s[i + k])) return false;
    out = out * 10 + (s[i + k] - '0');
  }
  i += count;
  return true;
}

// A parsed date value: the local wall time it names (as seconds since the epoch, as if UT), and the UT
// offset if it carried one.
struct DateValue {
  int64_t local_seconds = 0;
  int64_t millis = 0;
  std::optional<int64_t> utoff;
};

// YYYY-MM-DD, or YYYY-MM-DD[T ]HH:MM[:SS[.frac]] with an optional Z or +hh:mm/-hh:mm (RFC 3339, seconds
// optional, 't' and 'z' accepted in lower case).
std::optional<DateValue> parse_date(std::string_view s) {
  std::size_t i = 0;
  int y = 0, mo = 0, d = 0;
  if (!read_digits(s, i, 4, y) || i >= s.size() || s[i++] != '-' || !read_digits(s, i, 2, mo) ||
      i >= s.size() || s[i++] != '-' || !read_digits(s, i, 2, d)) {
    return std::nullopt;
  }
  const std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{static_cast<unsigned>(mo)},
                                        std::chrono::day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return std::nullopt;
  DateValue v;
  v.local_seconds = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * kSecondsPerDay;
  if (i == s.size()) return v;
  if (s[i] != 'T' && s[i] != 't' && s[i] != ' ') return std::nullopt;
  ++i;
  int h = 0, mi = 0, sec = 0;
  if (!read_digits(s, i, 2, h) || i >= s.size() || s[i++] != ':' || !read_digits(s, i, 2, mi)) {
    return std::nullopt;
  }
  if (i < s.size() && s[i] == ':') {
    ++i;
    if (!read_digits(s, i, 2, sec)) return std::nullopt;
    if (i < s.size() && s[i] == '.') {
      const std::size_t start = ++i;
      int64_t scale = 100;
      while (i < s.size() && is_ascii_digit(s[i])) {
        if (i - start >= kMaxFractionDigits) return std::nullopt;
        v.millis += (s[i] - '0') * scale;
        scale /= 10;
        ++i;
      }
      if (i == start) return std::nullopt;
    }
  }
  if (h > 23 || mi > 59 || sec > 60) return std::nullopt;  // 60: a leap second
  v.local_seconds += int64_t{h} * 3600 + mi * 60 + sec;
  if (i == s.size()) return v;
  const std::string_view zone = s.substr(i);
  if (zone == "Z" || zone == "z") {
    v.utoff = 0;
  } else if (zone.size() == 6 && zone[3] == ':') {
    v.utoff = parse_fixed_offset(zone);
    if (!v.utoff) return std::nullopt;
  } else {
    return std::nullopt;
  }
  return v;
}

// ---------------------------------------------------------------------------------------------------------
// The query text.

struct Operator {
  std::string_view name;
  QueryTerm::Kind kind;
};

constexpr Operator kOperators[] = {
    {"from", QueryTerm::Kind::kField},      {"to", QueryTerm::Kind::kField},
    {"cc", QueryTerm::Kind::kField},        {"bcc", QueryTerm::Kind::kField},
    {"addressed", QueryTerm::Kind::kField}, {"reply-to", QueryTerm::Kind::kField},
    {"subject", QueryTerm::Kind::kField},   {"message-id", QueryTerm::Kind::kField},
    {"tag", QueryTerm::Kind::kField},       {"is", QueryTerm::Kind::kIs},
    {"has", QueryTerm::Kind::kHas},         {"larger", QueryTerm::Kind::kLarger},
    {"smaller", QueryTerm::Kind::kSmaller}, {"before", QueryTerm::Kind::kBefore},
    {"after", QueryTerm::Kind::kAfter},
};

const Operator* find_operator(std::string_view lower_name) {
  for (const Operator& op : kOperators) {
    if (op.name == lower_name) return &op;
  }
  return nullptr;
}

// An operator name as typed: ASCII letters and '-'.
bool looks_like_operator(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return is_ascii_alpha(c) || c == '-'; });
}

// Reads a quoted value; `i` is at the opening quote and ends after the closing one.
core::Result<std::string> read_quoted(std::string_view text, std::size_t& i) {
  const std::size_t close = text.find('"', i + 1);
  if (close == std::string_view::npos) {
    return invalid("unterminated quote at byte " + std::to_string(i + 1) + " of the search query");
  }
  std::string value(text.substr(i + 1, close - i - 1));
  i = close + 1;
  return value;
}

// Fills in the checked value of an is:/has:/larger:/smaller:/before:/after: term.
core::Result<void> check_value(QueryTerm& term, std::string_view op, const QueryOptions& options,
                               std::optional<Zone>& zone) {
  using Kind = QueryTerm::Kind;
  switch (term.kind) {
    case Kind::kIs: {
      const std::string v = ascii_lowercase(term.value);
      if (v != "read" && v != "unread" && v != "tagged") {
        return invalid("unknown value '" + term.value + "' for is: (expected read, unread or tagged)");
      }
      term.value = v;
      return {};
    }
    case Kind::kHas: {
      const std::string v = ascii_lowercase(term.value);
      if (v == "attachment" || v == "attachments") {
        term.value = "attachment";
      } else if (v == "inline" || v == "inlines") {
        term.value = "inline";
      } else {
        return invalid("unknown value '" + term.value + "' for has: (expected attachment or inline)");
      }
      return {};
    }
    case Kind::kLarger:
    case Kind::kSmaller: {
      const auto size = parse_size(term.value);
      if (!size) {
        return invalid("invalid size '" + term.value + "' for " + std::string(op) +
                       ": (expected bytes, optionally with a K, M or G suffix, e.g. 10k)");
      }
      term.number = *size;
      return {};
    }
    case Kind::kBefore:
    case Kind::kAfter: {
      const auto date = parse_date(term.value);
      if (!date) {
        return invalid("invalid date '" + term.value + "' for " + std::string(op) +
                       ": (expected YYYY-MM-DD or an RFC 3339 date-time)");
      }
      int64_t seconds = 0;
      if (date->utoff) {
        seconds = date->local_seconds - *date->utoff;
      } else {
        if (!zone) {
          auto resolved = resolve_zone(options.tz);
          if (!resolved) return resolved.error();
          zone = std::move(*resolved);
        }
        seconds = zone->local_to_utc(date->local_seconds);
      }
      term.number = seconds * 1000 + date->millis;
      return {};
    }
    default:
      return {};
  }
}

// ---------------------------------------------------------------------------------------------------------
// Compilation.

// The FTS5 column filter of a full-text field, or nullptr if the field is not served by the index.
const char* fts_columns(std::string_view field) {
  if (field == "from") return "{\"from\"}";
  if (field == "to") return "{\"to\"}";
  if (field == "cc") return "{\"cc\"}";
  if (field == "bcc") return "{\"bcc\"}";
  if (field == "subject") return "{\"subject\"}";
  if (field == "addressed") return "{\"to\" \"cc\" \"bcc\"}";
  return nullptr;
}

// `value` escaped for LIKE ... ESCAPE '\' and wrapped in % for a substring match.
std::string like_substring(std::string_view value) {
  std::string out = "%";
  for (const char c : value) {
    if (c == '%' || c == '_' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('%');
  return out;
}

std::string_view strip_angle_brackets(std::string_view v) {
  while (!v.empty() && is_ascii_space(v.front())) v.remove_prefix(1);
  while (!v.empty() && is_ascii_space(v.back())) v.remove_suffix(1);
  if (!v.empty() && v.front() == '<') v.remove_prefix(1);
  if (!v.empty() && v.back() == '>') v.remove_suffix(1);
  return v;
}

}  // namespace

core::Result<std::vector<QueryTerm>> parse_query(std::string_view text, const QueryOptions& options) {
  if (text.size() > kMaxQueryBytes) {
    return invalid("search query is longer than " + std::to_string(kMaxQueryBytes) + " bytes");
  }
  std::vector<QueryTerm> terms;
  std::optional<Zone> zone;  // resolved on first use
  std::size_t count = 0;
  std::size_t i = 0;
  while (true) {
    while (i < text.size() && is_ascii_space(text[i])) ++i;
    if (i == text.size()) break;
    if (++count > kMaxTerms) {
      return invalid("search query has more than " + std::to_string(kMaxTerms) + " terms");
    }

    QueryTerm term;
    if ((text[i] == '-' || text[i] == '!') && i + 1 < text.size() && !is_ascii_space(text[i + 1])) {
      term.negated = true;
      ++i;
    }
    if (text[i] == '"') {
      auto value = read_quoted(text, i);
      if (!value) return value.error();
      term.phrase = true;
      term.value = std::move(*value);
    } else {
      std::size_t end = i;
      while (end < text.size() && !is_ascii_space(text[end])) ++end;
      const std::string_view word = text.substr(i, end - i);
      const std::size_t colon = word.find(':');
      const std::string_view name =
          colon == std::string_view::npos ? std::string_view() : word.substr(0, colon);
      const std::string_view rest =
          colon == std::string_view::npos ? std::string_view() : word.substr(colon + 1);
      // "name:value" is an operator term; an unknown name is an error, except in a URL ("https://...").
      // "name:" with nothing after it is a plain word unless the name is an operator's.
      const Operator* op = looks_like_operator(name) ? find_operator(ascii_lowercase(name)) : nullptr;
      if (op == nullptr && looks_like_operator(name) && !rest.empty() && rest.substr(0, 2) != "//") {
        return invalid("unknown search operator '" + std::string(name) + ":'");
      }
      if (op != nullptr && rest.empty()) {
        return invalid("search operator '" + std::string(name) + ":' needs a value");
      }
      if (op != nullptr) {
        const std::string op_name(op->name);
        term.kind = op->kind;
        if (op->kind == QueryTerm::Kind::kField) term.field = op_name;
        if (rest.front() == '"') {
          i += colon + 1;
          auto value = read_quoted(text, i);
          if (!value) return value.error();
          term.phrase = true;
          term.value = std::move(*value);
        } else {
          term.value = std::string(rest);
          i = end;
        }
        if (auto checked = check_value(term, op_name, options, zone); !checked) return checked.error();
        terms.push_back(std::move(term));
        continue;
      }
      term.value = std::string(word);
      i = end;
    }
    // A plain word or phrase without token characters could only ever match nothing: it is left out.
    if (!token_text(term.value).empty()) terms.push_back(std::move(term));
  }
  return terms;
}

CompiledQuery compile_query(const std::vector<QueryTerm>& terms) {
  using Kind = QueryTerm::Kind;
  CompiledQuery out;
  std::vector<std::string> fts_parts;
  std::vector<std::string> conditions;

  // Adds `sql` (a condition, with `params` for its placeholders), wrapped in NOT (...) for a negated term.
  const auto add = [&](const QueryTerm& term, std::string sql, std::vector<SqlValue> params = {}) {
    conditions.push_back(term.negated ? "NOT (" + sql + ")" : std::move(sql));
    for (SqlValue& p : params) out.params.push_back(std::move(p));
  };

  for (const QueryTerm& term : terms) {
    switch (term.kind) {
      case Kind::kText:
      case Kind::kField: {
        if (term.kind == Kind::kField) {
          if (term.field == "reply-to") {
            add(term, "m.reply_to_json LIKE ? ESCAPE '\\'", {like_substring(term.value)});
            continue;
          }
          if (term.field == "message-id") {
            add(term, "m.message_id = ?", {std::string(strip_angle_brackets(term.value))});
            continue;
          }
          if (term.field == "tag") {
            add(term, "m.seq IN (SELECT seq FROM message_tags WHERE tag = ? COLLATE NOCASE)", {term.value});
            continue;
          }
        }
        const char* columns = term.kind == Kind::kField ? fts_columns(term.field) : "";
        const std::string tokens = token_text(term.value);
        if (columns == nullptr || tokens.empty()) {  // can match nothing
          if (!term.negated) conditions.emplace_back("0");
          continue;
        }
        // A quoted value is an exact phrase; otherwise the last token is a prefix.
        std::string expr = fts_string(tokens) + (term.phrase ? "" : "*");
        if (*columns != '\0') expr = std::string(columns) + " : (" + expr + ")";
        if (term.negated) {
          conditions.emplace_back("m.seq NOT IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?)");
          out.params.emplace_back(std::move(expr));
          out.full_text = true;
        } else {
          fts_parts.push_back(std::move(expr));
        }
        continue;
      }
      case Kind::kIs:
        if (term.value == "read") {
          add(term, "m.read != 0");
        } else if (term.value == "unread") {
          add(term, "m.read = 0");
        } else if (term.value == "tagged") {
          add(term, "EXISTS (SELECT 1 FROM message_tags t WHERE t.seq = m.seq)");
        } else {
          add(term, "0");
        }
        continue;
      case Kind::kHas:
        if (term.value == "attachment") {
          add(term, "m.attachments > 0");
        } else if (term.value == "inline") {
          add(term, "m.inlines > 0");
        } else {
          add(term, "0");
        }
        continue;
      case Kind::kLarger:
        add(term, "m.size > ?", {term.number});
        continue;
      case Kind::kSmaller:
        add(term, "m.size < ?", {term.number});
        continue;
      case Kind::kBefore:
        add(term, "m.received_ms < ?", {term.number});
        continue;
      case Kind::kAfter:
        add(term, "m.received_ms >= ?", {term.number});
        continue;
    }
  }

  if (!fts_parts.empty()) out.full_text = true;
  for (std::size_t k = 0; k < fts_parts.size(); ++k) {
    if (k) out.fts_match += " AND ";
    out.fts_match += fts_parts[k];
  }
  if (conditions.empty()) {
    out.where = "1";
  } else {
    for (std::size_t k = 0; k < conditions.size(); ++k) {
      if (k) out.where += " AND ";
      out.where += conditions[k];
    }
  }
  return out;
}

}  // namespace mailjar::store
