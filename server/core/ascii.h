// ASCII character classes and case, for the protocol tokens the standards define as ASCII: SMTP verbs and
// parameters (RFC 5321), header field names (RFC 5322), URL schemes (RFC 3986), JSON keys. Bytes outside
// A-Z/a-z compare as themselves, so non-ASCII text is equal only when identical. Locale-independent (unlike
// <cctype>). The one home of these helpers: no module keeps its own lower() or is_space().
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mailjar::core {

// RFC 5234 WSP: space or horizontal tab (what folds and pads header fields, RFC 5322).
inline bool is_wsp(char c) { return c == ' ' || c == '\t'; }

// Space, tab, LF, VT, FF or CR (C's isspace in the "C" locale).
inline bool is_ascii_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

inline bool is_ascii_digit(char c) { return c >= '0' && c <= '9'; }
inline bool is_ascii_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
inline bool is_ascii_alnum(char c) { return is_ascii_digit(c) || is_ascii_alpha(c); }

inline char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// `s` with A-Z lowered; every other byte as it is.
inline std::string ascii_lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

// `s` with a-z raised; every other byte as it is.
inline std::string ascii_uppercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

inline bool ascii_iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

}  // namespace mailjar::core
