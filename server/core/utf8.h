// UTF-8 (RFC 3629): the one validator of the code base. No overlong forms, no surrogates, nothing above
// U+10FFFF. Pure, no allocation.
#pragma once

#include <cstddef>
#include <string_view>

namespace mailjar::core {

// Length of the valid UTF-8 sequence at s[i] (1 to 4), or 0 if the bytes there are not one. i < s.size().
inline std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  const std::size_t left = s.size() - i;
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) {
    return (left >= 2 && (b(i + 1) & 0xC0) == 0x80) ? 2 : 0;
  }
  if (c >= 0xE0 && c <= 0xEF) {
    if (left < 3) return 0;
    const unsigned char c1 = b(i + 1);
    if ((c1 & 0xC0) != 0x80 || (b(i + 2) & 0xC0) != 0x80) return 0;
    if (c == 0xE0 && c1 < 0xA0) return 0;   // overlong
    if (c == 0xED && c1 >= 0xA0) return 0;  // surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (left < 4) return 0;
    const unsigned char c1 = b(i + 1);
    if ((c1 & 0xC0) != 0x80 || (b(i + 2) & 0xC0) != 0x80 || (b(i + 3) & 0xC0) != 0x80) return 0;
    if (c == 0xF0 && c1 < 0x90) return 0;   // overlong
    if (c == 0xF4 && c1 >= 0x90) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

// Decodes the valid UTF-8 sequence at s[i] into `cp`; its length, or 0 (cp unspecified) when the bytes
// there are not one. i < s.size().
inline std::size_t utf8_decode(std::string_view s, std::size_t i, char32_t& cp) {
  const std::size_t n = utf8_sequence_length(s, i);
  if (n == 0) return 0;
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  static constexpr unsigned char kLeadMask[5] = {0, 0x7F, 0x1F, 0x0F, 0x07};
  cp = b(i) & kLeadMask[n];
  for (std::size_t k = 1; k < n; ++k) cp = (cp << 6) | (b(i + k) & 0x3F);
  return n;
}

// True when all of `s` is valid UTF-8.
inline bool is_valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = utf8_sequence_length(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

}  // namespace mailjar::core
