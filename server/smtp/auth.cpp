// SMTP AUTH helpers. See auth.h for the contract.
// STANDARDS: RFC 2104 (HMAC),
// RFC 2195 (CRAM-MD5). SECURITY: secret comparisons run in time independent of the secrets' contents.
#include "smtp/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <cstdint>

namespace mailjar::smtp {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace


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
