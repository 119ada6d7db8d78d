// RFC 4648 base64. See base64.h for the contract.
#include "core/base64.h"

#include <array>
#include <cstdint>

namespace mailjar::core {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// 0..63 for alphabet characters, -1 otherwise; with `url_safe` also '-' (62) and '_' (63).
constexpr std::array<std::int8_t, 256> make_decode_table(bool url_safe) {
  std::array<std::int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::int8_t>(i);
  if (url_safe) {
    t['-'] = 62;
    t['_'] = 63;
  }
  return t;
}
constexpr auto kDecode = make_decode_table(false);
constexpr auto kDecodeLenient = make_decode_table(true);

std::optional<std::string> decode_strict(std::string_view in) {
  if (in.size() % 4 != 0) return std::nullopt;
  std::size_t pad = 0;
  if (!in.empty() && in.back() == '=') pad = (in.size() >= 2 && in[in.size() - 2] == '=') ? 2 : 1;
  std::string out;
  out.reserve(in.size() / 4 * 3);
  for (std::size_t i = 0; i < in.size(); i += 4) {
    bool last = i + 4 == in.size();
    int v[4];
    for (int j = 0; j < 4; ++j) {
      char c = in[i + j];
      if (last && j >= 4 - static_cast<int>(pad)) {
        v[j] = 0;  // a padding position ('=' already verified by the pad count and the table lookup below)
        continue;
      }
      v[j] = kDecode[static_cast<unsigned char>(c)];
      if (v[j] < 0) return std::nullopt;  // includes a '=' anywhere but at the end
    }
    std::uint32_t n = (static_cast<std::uint32_t>(v[0]) << 18) | (static_cast<std::uint32_t>(v[1]) << 12) |
                      (static_cast<std::uint32_t>(v[2]) << 6) | static_cast<std::uint32_t>(v[3]);
    out.push_back(static_cast<char>((n >> 16) & 0xff));
    if (last && pad == 2) {
      if ((n & 0xffff) != 0) return std::nullopt;  // non-canonical: unused bits set
      break;
    }
    out.push_back(static_cast<char>((n >> 8) & 0xff));
    if (last && pad == 1) {
      if ((n & 0xff) != 0) return std::nullopt;
      break;
    }
    out.push_back(static_cast<char>(n & 0xff));
  }
  return out;
}

// Whitespace skipped, padding optional (but nothing after it), either alphabet; trailing bits ignored.
std::optional<std::string> decode_lenient(std::string_view in) {
  std::string out;
  out.reserve(in.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  bool padding = false;
  for (char c : in) {
    if (c == ' ' || c == '\r' || c == '\n' || c == '\t') continue;
    if (c == '=') {
      padding = true;
      continue;
    }
    const int v = kDecodeLenient[static_cast<unsigned char>(c)];
    if (v < 0 || padding) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

}  // namespace

std::optional<std::string> base64_decode(std::string_view in, Base64 mode) {
  return mode == Base64::kStrict ? decode_strict(in) : decode_lenient(in);
}

std::string base64_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    std::uint32_t n = (static_cast<std::uint32_t>(static_cast<unsigned char>(in[i])) << 16) |
                      (static_cast<std::uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8) |
                      static_cast<std::uint32_t>(static_cast<unsigned char>(in[i + 2]));
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(kAlphabet[(n >> 6) & 63]);
    out.push_back(kAlphabet[n & 63]);
  }
  std::size_t rest = in.size() - i;
  if (rest > 0) {
    std::uint32_t n = static_cast<std::uint32_t>(static_cast<unsigned char>(in[i])) << 16;
    if (rest == 2) n |= static_cast<std::uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8;
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(rest == 2 ? kAlphabet[(n >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

}  // namespace mailjar::core
