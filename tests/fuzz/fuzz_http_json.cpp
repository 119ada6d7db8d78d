// libFuzzer target: JSON request bodies as the handlers read them (depth and size bounds, canonical keys,
// typed fields), and the Host/Origin/Content-Type guard on headers taken from the input.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "http/request_body.h"
#include "http/request_guard.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mailjar::http;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  JsonLimits limits;
  limits.max_bytes = 1 << 16;
  limits.max_depth = 16;
  Response error;
  if (auto body = read_json_object(text, {"IDs", "Read", "Search", "Tags", "Name"}, limits, error)) {
    std::optional<std::vector<std::string>> ids;
    std::optional<bool> read;
    std::optional<std::string> search;
    optional_strings(*body, "IDs", ids, error);
    optional_bool(*body, "Read", read, error);
    optional_string(*body, "Search", search, error);
    if (body->contains("Name")) canonical_object((*body)["Name"], {"Email", "Name"}, "Name", error);
  }
  // Headers from the input: "host\norigin\ncontent-type\nbody".
  Request request;
  request.method = size % 2 ? "POST" : "GET";
  std::size_t start = 0;
  for (const char* name : {"host", "origin", "content-type"}) {
    const std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) break;
    request.headers.emplace_back(name, std::string(text.substr(start, end - start)));
    start = end + 1;
  }
  request.body = std::string(text.substr(std::min(start, text.size())));
  guard_request(request, OriginPolicy{true, {"mail.test"}}, false);
  is_loopback_address(text);
  return 0;
}
