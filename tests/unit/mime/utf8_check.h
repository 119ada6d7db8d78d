// Test helper shared by the mime test binaries: a strict RFC 3629 UTF-8 check, written independently of
// the implementation under test.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace mailjar::mime::testing {

// True when `s` is valid UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF); with
// `reject_nul`, a NUL byte also makes it false.
inline bool valid_utf8(std::string_view s, bool reject_nul) {
  std::size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    std::size_t n;
    uint32_t cp;
    if (c == 0 && reject_nul) return false;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k) {
      const unsigned char d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    const uint32_t min_cp[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n;
  }
  return true;
}

}  // namespace mailjar::mime::testing
