// SMTP AUTH helpers shared by the session and the credential checker.
// STANDARDS: RFC 4954 (AUTH), RFC 4616 (PLAIN), RFC 2195 (CRAM-MD5). Base64 is core/base64.h's (strict).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mailjar::smtp {

// True when `response_hex` is HMAC-MD5(password, challenge) in lowercase or uppercase hex.
// Compares in constant time.
bool cram_md5_matches(std::string_view password, std::string_view challenge, std::string_view response_hex);

// Constant-time equality for secrets.
bool secrets_equal(std::string_view a, std::string_view b);

}  // namespace mailjar::smtp
