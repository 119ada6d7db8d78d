// ASCII case-insensitive comparison, for the protocol tokens the standards define as ASCII: SMTP verbs and
// parameters (RFC 5321), header field names (RFC 5322), URL schemes (RFC 3986). Bytes outside A-Z/a-z
// compare as themselves, so non-ASCII text is equal only when identical.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mailjar::core {

inline char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// `s` with A-Z lowered; every other byte as it is.
inline std::string ascii_lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_lower(c);
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
