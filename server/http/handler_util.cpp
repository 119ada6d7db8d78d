#include "http/handler_util.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>

#include "http/json.h"

namespace mailjar::http {

std::optional<int64_t> parse_non_negative(std::string_view text) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc{} || ptr != end || value < 0) return std::nullopt;
  return value;
}

std::optional<Paging> parse_paging(const Target& target, Response& error) {
  Paging p;
  if (auto text = target.param("start"); text && !text->empty()) {
    auto value = parse_non_negative(*text);
    if (!value) {
      error = error_response(400, "start must be a non-negative integer", "invalid_parameter");
      return std::nullopt;
    }
    p.start = *value;
  }
  if (auto text = target.param("limit"); text && !text->empty()) {
    auto value = parse_non_negative(*text);
    if (!value || *value == 0) {
      error = error_response(400, "limit must be a positive integer", "invalid_parameter");
      return std::nullopt;
    }
    p.limit = std::min(*value, kMaxLimit);
  }
  return p;
}

std::string rfc3339_ms(int64_t unix_ms) {
  using namespace std::chrono;
  const sys_time<milliseconds> tp{milliseconds{unix_ms}};
  const sys_days day = floor<days>(tp);
  const year_month_day ymd{day};
  const hh_mm_ss hms{tp - day};
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()), static_cast<int>(hms.subseconds().count()));
  return buf;
}

}  // namespace mailjar::http
