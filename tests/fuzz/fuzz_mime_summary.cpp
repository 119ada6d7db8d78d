// libFuzzer target: a message's summary (what the list shows) from arbitrary bytes, with small limits so
// that the limits themselves are exercised.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "mime/mime.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool ready = (mailjar::mime::init(), true);
  (void)ready;
  mailjar::mime::MimeLimits limits;
  limits.max_parts = 50;
  limits.max_depth = 8;
  limits.max_index_text = 4096;
  mailjar::mime::parse_summary(std::string_view(reinterpret_cast<const char*>(data), size), limits);
  return 0;
}
