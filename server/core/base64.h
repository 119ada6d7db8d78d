// RFC 4648 base64: the one encoder and decoder of the code base.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mailjar::core {

enum class Base64 {
  // RFC 4648 section 4 exactly: canonical padding, no whitespace, no unused bits set. For protocols that
  // define their data as base64 (SMTP AUTH, RFC 4954).
  kStrict,
  // What people and libraries send in JSON and headers: whitespace ignored, padding optional, the URL-safe
  // alphabet (RFC 4648 section 5) accepted too. For Mailpit's send Content and HTTP Basic credentials.
  kLenient,
};

// The decoded bytes; nullopt when `in` is not base64 in that mode.
std::optional<std::string> base64_decode(std::string_view in, Base64 mode);

// Standard alphabet, padded.
std::string base64_encode(std::string_view in);

}  // namespace mailjar::core
