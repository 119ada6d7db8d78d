// libFuzzer target: the search language (Mailpit's) parsed and compiled to SQL text and bound values.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "store/query.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  mailjar::store::QueryOptions options;
  options.tz = size % 2 ? "Europe/Paris" : "+05:30";
  auto terms = mailjar::store::parse_query(text, options);
  if (terms.ok()) mailjar::store::compile_query(terms.value());
  return 0;
}
