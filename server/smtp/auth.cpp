// SMTP AUTH helpers. See auth.h for the contract.
// STANDARDS: RFC 4648 4 (base64, strict: canonical padding, no whitespace), RFC 2104 (HMAC),
// RFC 2195 (CRAM-MD5). SECURITY: secret comparisons run in time independent of the secrets' contents.
#include "smtp/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <cstdint>

namespace mailjar::smtp {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// 0..63 for alphabet characters, -1 otherwise.
constexpr std::array<std::int8_t, 256> make_decode_table() {
  std::array<std::int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::int8_t>(i);
  return t;
}
constexpr auto kDecode = make_decode_table();

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<std::string> base64_decode(std::string_view in) {
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

bool cram_md5_matches(std::string_view password, std::string_view challenge, std::string_view response_hex) {
  if (response_hex.size() != 32) return false;
  unsigned char expected[EVP_MAX_MD_SIZE];
  unsigned int expected_len = 0;
  // HMAC() (one-shot) is not deprecated in OpenSSL 3.
  if (HMAC(EVP_md5(), password.data(), static_cast<int>(password.size()),
           reinterpret_cast<const unsigned char*>(challenge.data()), challenge.size(), expected,
           &expected_len) == nullptr ||
      expected_len != 16) {
    return false;
  }
  unsigned char given[16];
  int bad = 0;
  for (std::size_t i = 0; i < 16; ++i) {
    int hi = hex_value(response_hex[2 * i]);
    int lo = hex_value(response_hex[2 * i + 1]);
    bad |= (hi | lo) < 0 ? 1 : 0;
    given[i] = static_cast<unsigned char>(((hi & 0xf) << 4) | (lo & 0xf));
  }
  return (CRYPTO_memcmp(expected, given, 16) == 0) && bad == 0;
}

bool secrets_equal(std::string_view a, std::string_view b) {
  // Compare SHA-256 digests so that neither the contents nor the length of the secret leak through
  // timing; then the digests are compared in constant time.
  unsigned char da[EVP_MAX_MD_SIZE], db[EVP_MAX_MD_SIZE];
  unsigned int la = 0, lb = 0;
  if (EVP_Digest(a.data(), a.size(), da, &la, EVP_sha256(), nullptr) != 1 ||
      EVP_Digest(b.data(), b.size(), db, &lb, EVP_sha256(), nullptr) != 1 || la != lb) {
    return false;
  }
  return CRYPTO_memcmp(da, db, la) == 0 && a.size() == b.size();
}

}  // namespace mailjar::smtp
