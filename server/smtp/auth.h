// SMTP AUTH helpers shared by the session and the credential checker.
// STANDARDS: RFC 4954 (AUTH), RFC 4616 (PLAIN), RFC 2195 (CRAM-MD5), RFC 4648 (base64).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mailjar::smtp {

// Strict RFC 4648 base64 decoding; nullopt on any invalid character or padding.
std::optional<std::string> base64_decode(std::string_view in);
std::string base64_encode(std::string_view in);

// True when `response_hex` is HMAC-MD5(password, challenge) in lowercase or uppercase hex.
// Compares in constant time.
bool cram_md5_matches(std::string_view password, std::string_view challenge, std::string_view response_hex);

// Constant-time equality for secrets.
bool secrets_equal(std::string_view a, std::string_view b);

}  // namespace mailjar::smtp
