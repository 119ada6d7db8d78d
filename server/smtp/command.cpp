// SMTP command-line parser. See command.h for the contract.
// STANDARDS: RFC 5321 4.1.2 (Path, Mailbox, Local-part, Domain, address literals, esmtp-param),
// RFC 6531 3.3 (UTF-8 in Mailbox and esmtp-value), RFC 1870, RFC 6152, RFC 3461 4 (xtext, NOTIFY, ORCPT,
// RET, ENVID), RFC 4954 5 (AUTH=), RFC 3030 2 (BDAT).
#include "core/ascii.h"
#include "core/utf8.h"
#include "smtp/command.h"

#include <limits>
#include <optional>

namespace mailjar::smtp {
namespace {

constexpr char to_upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }
constexpr bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }
constexpr bool is_alnum(char c) { return is_alpha(c) || is_digit(c); }
constexpr bool is_high(char c) { return static_cast<unsigned char>(c) >= 0x80; }

// RFC 5322 atext (the characters of a dot-string atom), plus UTF-8 (RFC 6531 extends atext).
bool is_atext(char c) {
  if (is_alnum(c) || is_high(c)) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '/':
    case '=':
    case '?':
    case '^':
    case '_':
    case '`':
    case '{':
    case '|':
    case '}':
    case '~':
      return true;
    default:
      return false;
  }
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && core::ascii_iequals(s.substr(0, prefix.size()), prefix);
}

// Parses 1*20 DIGIT, saturating at UINT64_MAX.
bool parse_digits(std::string_view s, std::uint64_t& out) {
  if (s.empty() || s.size() > 20) return false;
  std::uint64_t v = 0;
  for (char c : s) {
    if (!is_digit(c)) return false;
    auto d = static_cast<std::uint64_t>(c - '0');
    if (v > (std::numeric_limits<std::uint64_t>::max() - d) / 10) {
      v = std::numeric_limits<std::uint64_t>::max();
    } else {
      v = v * 10 + d;
    }
  }
  out = v;
  return true;
}

// Domain = sub-domain *("." sub-domain) / address-literal. Labels may hold UTF-8 (U-labels, RFC 6531).
// Advances `p` past the domain. Lenient about label-internal hyphen placement.
bool parse_domain(std::string_view s, std::size_t& p) {
  if (p < s.size() && s[p] == '[') {
    std::size_t q = p + 1;
    while (q < s.size() && s[q] != ']') {
      char c = s[q];
      if (c == '[' || c == '\\' || c == ' ' || is_high(c)) return false;
      ++q;
    }
    if (q >= s.size() || q == p + 1) return false;
    p = q + 1;
    return true;
  }
  bool label_empty = true;
  std::size_t start = p;
  while (p < s.size()) {
    char c = s[p];
    if (is_alnum(c) || c == '-' || c == '_' || is_high(c)) {
      label_empty = false;
    } else if (c == '.') {
      if (label_empty) return false;
      label_empty = true;
    } else {
      break;
    }
    ++p;
  }
  return p > start && !label_empty;
}

// Local-part = Dot-string / Quoted-string. Lenient about consecutive dots (seen in the wild).
bool parse_local_part(std::string_view s, std::size_t& p) {
  if (p < s.size() && s[p] == '"') {
    ++p;
    while (p < s.size()) {
      char c = s[p];
      if (c == '"') {
        ++p;
        return true;
      }
      if (c == '\\') {
        if (p + 1 >= s.size()) return false;
        char e = s[p + 1];
        if (static_cast<unsigned char>(e) < 32 || e == 127) return false;
        p += 2;
        continue;
      }
      if (static_cast<unsigned char>(c) < 32 || c == 127) return false;
      ++p;
    }
    return false;
  }
  std::size_t start = p;
  while (p < s.size() && (is_atext(s[p]) || s[p] == '.')) ++p;
  return p > start;
}

// Parses a Path "<" [ A-d-l ":" ] Mailbox ">" (or "<>" when allowed) from the start of `s` (leading
// spaces skipped). On success `address` is the mailbox and `rest` what follows the ">".
ParseError parse_path(std::string_view s, bool allow_null, bool allow_postmaster, std::string& address,
                      bool& utf8, std::string_view& rest) {
  std::size_t p = 0;
  while (p < s.size() && s[p] == ' ') ++p;
  if (p >= s.size() || s[p] != '<') return ParseError::kSyntax;
  ++p;
  if (p < s.size() && s[p] == '>') {
    if (!allow_null) return ParseError::kSyntax;
    address.clear();
    utf8 = false;
    rest = s.substr(p + 1);
    return ParseError::kNone;
  }
  // Source route: "@a,@b:" (RFC 5321 4.1.2 A-d-l); accepted and ignored (RFC 5321 C).
  if (p < s.size() && s[p] == '@') {
    for (;;) {
      if (p >= s.size() || s[p] != '@') return ParseError::kSyntax;
      ++p;
      if (!parse_domain(s, p)) return ParseError::kSyntax;
      if (p < s.size() && s[p] == ',') {
        ++p;
        continue;
      }
      if (p < s.size() && s[p] == ':') {
        ++p;
        break;
      }
      return ParseError::kSyntax;
    }
  }
  std::size_t mailbox_start = p;
  if (!parse_local_part(s, p)) return ParseError::kSyntax;
  if (p < s.size() && s[p] == '@') {
    ++p;
    if (!parse_domain(s, p)) return ParseError::kSyntax;
  } else if (!(allow_postmaster && core::ascii_iequals(s.substr(mailbox_start, p - mailbox_start), "postmaster"))) {
    return ParseError::kSyntax;
  }
  if (p >= s.size() || s[p] != '>') return ParseError::kSyntax;
  std::string_view mailbox = s.substr(mailbox_start, p - mailbox_start);
  address.assign(mailbox);
  utf8 = false;
  for (char c : mailbox) {
    if (is_high(c)) {
      utf8 = true;
      break;
    }
  }
  rest = s.substr(p + 1);
  return ParseError::kNone;
}

// What follows the closing ">": nothing, or SP and the parameters.
bool split_params(std::string_view rest, std::string_view& params) {
  if (rest.empty()) {
    params = {};
    return true;
  }
  if (rest.front() != ' ') return false;
  params = trim(rest);
  return true;
}

// Calls f(keyword, value, has_value) for each esmtp-param; stops at the first error f returns.
// esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-"); esmtp-value = 1*(%d33-60 / %d62-126 / UTF-8).
template <typename F>
ParseError for_each_param(std::string_view params, F&& f) {
  std::size_t p = 0;
  while (p < params.size()) {
    while (p < params.size() && params[p] == ' ') ++p;
    if (p >= params.size()) break;
    std::size_t end = params.find(' ', p);
    if (end == std::string_view::npos) end = params.size();
    std::string_view token = params.substr(p, end - p);
    p = end;
    std::size_t eq = token.find('=');
    std::string_view keyword = token.substr(0, eq);
    if (keyword.empty() || !is_alnum(keyword.front())) return ParseError::kSyntax;
    for (char c : keyword) {
      if (!is_alnum(c) && c != '-') return ParseError::kSyntax;
    }
    std::string_view value;
    bool has_value = eq != std::string_view::npos;
    if (has_value) {
      value = token.substr(eq + 1);
      if (value.empty()) return ParseError::kSyntax;
      for (char c : value) {
        auto u = static_cast<unsigned char>(c);
        if (u < 33 || c == '=' || u == 127) return ParseError::kSyntax;
      }
    }
    ParseError e = f(keyword, value, has_value);
    if (e != ParseError::kNone) return e;
  }
  return ParseError::kNone;
}

// RFC 3461 NOTIFY: "NEVER" / 1#( "SUCCESS" / "FAILURE" / "DELAY" ).
bool valid_notify(std::string_view v) {
  if (core::ascii_iequals(v, "NEVER")) return true;
  bool seen[3] = {false, false, false};
  std::size_t p = 0;
  for (;;) {
    std::size_t comma = v.find(',', p);
    std::string_view item = v.substr(p, comma == std::string_view::npos ? std::string_view::npos : comma - p);
    int i = core::ascii_iequals(item, "SUCCESS") ? 0 : core::ascii_iequals(item, "FAILURE") ? 1 : core::ascii_iequals(item, "DELAY") ? 2 : -1;
    if (i < 0 || seen[i]) return false;
    seen[i] = true;
    if (comma == std::string_view::npos) return true;
    p = comma + 1;
  }
}

// RFC 3461 ORCPT: addr-type ";" xtext (RFC 6533: utf-8-addr-xtext when addr-type is utf-8, which we
// accept as any esmtp-value).
bool valid_orcpt(std::string_view v) {
  std::size_t semi = v.find(';');
  if (semi == std::string_view::npos || semi == 0 || semi + 1 >= v.size()) return false;
  std::string_view type = v.substr(0, semi);
  for (char c : type) {
    if (!is_alnum(c) && c != '-') return false;
  }
  std::string_view addr = v.substr(semi + 1);
  if (core::ascii_iequals(type, "rfc822")) return is_xtext(addr);
  return true;
}

}  // namespace

CommandLine parse_command_line(std::string_view line) {
  CommandLine cmd;
  std::size_t sp = line.find(' ');
  std::string_view word = line.substr(0, sp);
  cmd.arg = sp == std::string_view::npos ? std::string_view{} : trim(line.substr(sp + 1));
  struct Entry {
    std::string_view name;
    Verb verb;
  };
  static constexpr Entry kVerbs[] = {
      {"EHLO", Verb::kEhlo},    {"HELO", Verb::kHelo},  {"MAIL", Verb::kMail},
      {"RCPT", Verb::kRcpt},    {"DATA", Verb::kData},  {"BDAT", Verb::kBdat},
      {"RSET", Verb::kRset},    {"NOOP", Verb::kNoop},  {"QUIT", Verb::kQuit},
      {"VRFY", Verb::kVrfy},    {"HELP", Verb::kHelp},  {"STARTTLS", Verb::kStartTls},
      {"AUTH", Verb::kAuth},    {"GET", Verb::kHttp},   {"POST", Verb::kHttp},
      {"HEAD", Verb::kHttp},    {"PUT", Verb::kHttp},   {"DELETE", Verb::kHttp},
      {"OPTIONS", Verb::kHttp}, {"PATCH", Verb::kHttp}, {"CONNECT", Verb::kHttp},
      {"TRACE", Verb::kHttp},
  };
  for (const auto& e : kVerbs) {
    if (core::ascii_iequals(word, e.name)) {
      cmd.verb = e.verb;
      break;
    }
  }
  return cmd;
}

LineBytes classify_line(std::string_view line) {
  LineBytes result = LineBytes::kAscii;
  for (std::size_t i = 0; i < line.size();) {
    const auto c = static_cast<unsigned char>(line[i]);
    if (c < 0x80) {
      if ((c < 0x20 && c != '\t') || c == 0x7f) return LineBytes::kInvalid;
      ++i;
      continue;
    }
    const std::size_t n = core::utf8_sequence_length(line, i);
    if (n == 0) return LineBytes::kInvalid;
    result = LineBytes::kUtf8;
    i += n;
  }
  return result;
}

bool is_xtext(std::string_view s) {
  auto is_hex_upper = [](char c) { return is_digit(c) || (c >= 'A' && c <= 'F'); };
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '+') {
      if (i + 2 >= s.size()) return false;
      if (!is_hex_upper(s[i + 1]) || !is_hex_upper(s[i + 2])) return false;
      i += 2;
      continue;
    }
    if (c < 33 || c > 126 || c == '=') return false;
  }
  return true;
}

ParseError parse_mail_from(std::string_view arg, MailFrom& out) {
  if (!istarts_with(arg, "FROM:")) return ParseError::kSyntax;
  std::string_view rest;
  ParseError e = parse_path(arg.substr(5), /*allow_null=*/true, /*allow_postmaster=*/false, out.address,
                            out.address_utf8, rest);
  if (e != ParseError::kNone) return e;
  if (!split_params(rest, out.params)) return ParseError::kSyntax;
  out.has_size = false;
  out.size = 0;
  out.body = Body::kUnspecified;
  out.smtputf8 = false;
  out.conflict = {};
  // The value each parameter was first given (a repeat must match it, see MailFrom).
  std::optional<std::string_view> size, body, ret, envid, auth;
  const auto once = [&](std::optional<std::string_view>& seen, std::string_view key, std::string_view value) {
    if (!seen) {
      seen = value;
      return ParseError::kNone;
    }
    if (core::ascii_iequals(*seen, value)) return ParseError::kNone;
    out.conflict = key;
    return ParseError::kConflict;
  };
  return for_each_param(out.params, [&](std::string_view key, std::string_view value, bool has_value) {
    if (core::ascii_iequals(key, "SIZE")) {
      if (!has_value || !parse_digits(value, out.size)) return ParseError::kSyntax;
      out.has_size = true;
      return once(size, key, value);
    }
    if (core::ascii_iequals(key, "BODY")) {
      if (!has_value) return ParseError::kSyntax;
      if (core::ascii_iequals(value, "7BIT")) {
        out.body = Body::k7Bit;
      } else if (core::ascii_iequals(value, "8BITMIME")) {
        out.body = Body::k8BitMime;
      } else if (core::ascii_iequals(value, "BINARYMIME")) {
        out.body = Body::kBinaryMime;
      } else {
        return ParseError::kSyntax;
      }
      return once(body, key, value);
    }
    if (core::ascii_iequals(key, "SMTPUTF8")) {
      if (has_value) return ParseError::kSyntax;
      out.smtputf8 = true;
      return ParseError::kNone;
    }
    if (core::ascii_iequals(key, "RET")) {
      if (!has_value || !(core::ascii_iequals(value, "FULL") || core::ascii_iequals(value, "HDRS"))) {
        return ParseError::kSyntax;
      }
      return once(ret, key, value);
    }
    if (core::ascii_iequals(key, "ENVID")) {
      if (!has_value || value.size() > 100 || !is_xtext(value)) return ParseError::kSyntax;
      return once(envid, key, value);
    }
    if (core::ascii_iequals(key, "AUTH")) {
      if (!has_value || !(value == "<>" || is_xtext(value))) return ParseError::kSyntax;
      return once(auth, key, value);
    }
    return ParseError::kUnknownParameter;
  });
}

ParseError parse_rcpt_to(std::string_view arg, RcptTo& out) {
  if (!istarts_with(arg, "TO:")) return ParseError::kSyntax;
  std::string_view rest;
  ParseError e = parse_path(arg.substr(3), /*allow_null=*/false, /*allow_postmaster=*/true, out.address,
                            out.address_utf8, rest);
  if (e != ParseError::kNone) return e;
  if (!split_params(rest, out.params)) return ParseError::kSyntax;
  out.conflict = {};
  std::optional<std::string_view> notify, orcpt;
  return for_each_param(out.params, [&](std::string_view key, std::string_view value, bool has_value) {
    std::optional<std::string_view>* seen = nullptr;
    if (core::ascii_iequals(key, "NOTIFY")) {
      if (!has_value || !valid_notify(value)) return ParseError::kSyntax;
      seen = &notify;
    } else if (core::ascii_iequals(key, "ORCPT")) {
      if (!has_value || !valid_orcpt(value)) return ParseError::kSyntax;
      seen = &orcpt;
    } else {
      return ParseError::kUnknownParameter;
    }
    if (!*seen) {
      *seen = value;
    } else if (!core::ascii_iequals(**seen, value)) {
      out.conflict = key;
      return ParseError::kConflict;
    }
    return ParseError::kNone;
  });
}

bool parse_bdat(std::string_view arg, std::uint64_t& size, bool& last) {
  std::size_t sp = arg.find(' ');
  std::string_view digits = arg.substr(0, sp);
  if (!parse_digits(digits, size)) return false;
  last = false;
  if (sp == std::string_view::npos) return true;
  std::string_view rest = trim(arg.substr(sp + 1));
  if (!core::ascii_iequals(rest, "LAST")) return false;
  last = true;
  return true;
}

bool parse_auth(std::string_view arg, std::string_view& mechanism, std::string_view& initial_response) {
  std::size_t sp = arg.find(' ');
  mechanism = arg.substr(0, sp);
  initial_response = sp == std::string_view::npos ? std::string_view{} : trim(arg.substr(sp + 1));
  if (mechanism.empty()) return false;
  for (char c : mechanism) {
    if (!is_alnum(c) && c != '-' && c != '_') return false;
  }
  return initial_response.find(' ') == std::string_view::npos &&
         initial_response.find('\t') == std::string_view::npos;
}

}  // namespace mailjar::smtp
