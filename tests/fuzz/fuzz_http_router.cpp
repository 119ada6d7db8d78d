// libFuzzer target: the request target parser and the route matcher (method + path), percent-decoding.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http/router.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  static const char* const kMethods[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
  const char* method = kMethods[size % 7];
  auto target = mailjar::http::parse_target(text);
  if (target.ok()) {
    mailjar::http::match_route(method, target->raw_path);
    target->param("query");
  }
  mailjar::http::percent_decode(text, size % 2);
  return 0;
}
