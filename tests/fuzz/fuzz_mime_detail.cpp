// libFuzzer target: the message API's view of arbitrary bytes (headers, bodies, parts), then the first parts
// it lists fetched by their IDs, which must exist with the same file names (each fetch parses again, so
// only a few are fetched: the fuzzer's time goes to new inputs).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "mime/detail.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool ready = (mailjar::mime::init(), true);
  (void)ready;
  mailjar::mime::MimeLimits limits;
  limits.max_parts = 50;
  limits.max_depth = 8;
  const std::string_view raw(reinterpret_cast<const char*>(data), size);
  const mailjar::mime::MessageDetail detail = mailjar::mime::parse_detail(raw, limits);
  int fetched = 0;
  for (const auto* parts : {&detail.inline_parts, &detail.attachments}) {
    for (const mailjar::mime::PartInfo& p : *parts) {
      if (++fetched > 3) break;
      const auto part = mailjar::mime::get_part(raw, p.part_id, limits);
      if (!part || part->file_name != p.file_name) std::abort();
    }
  }
  mailjar::mime::get_part(raw, "1.2.3", limits);
  return 0;
}
