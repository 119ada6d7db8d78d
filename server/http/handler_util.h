// NAME
//   http handler utilities - what every API handler family (Mailpit v1, MailHog v2) parses and formats the
//   same way: paging parameters, non-negative integers, RFC 3339 times.
// CONTRACT
//   Pure, thread-safe, never throw.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "http/api.h"
#include "http/router.h"

namespace mailjar::http {

inline constexpr int64_t kDefaultLimit = 50;   // messages per page when ?limit= is absent
inline constexpr int64_t kMaxLimit = 5000;     // larger ?limit= values are lowered to this

// A non-negative decimal integer, nothing else (no sign, no spaces); nullopt otherwise.
std::optional<int64_t> parse_non_negative(std::string_view text);

struct Paging {
  int64_t start = 0;
  int64_t limit = kDefaultLimit;
};

// ?start= (default 0) and ?limit= (default kDefaultLimit, at most kMaxLimit); nullopt and a 400 in
// `error` ("invalid_parameter") when either is malformed or limit is 0.
std::optional<Paging> parse_paging(const Target& target, Response& error);

// "2026-11-23T10:00:00.123Z" for a Unix time in milliseconds.
std::string rfc3339_ms(int64_t unix_ms);

}  // namespace mailjar::http
