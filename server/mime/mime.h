// NAME
//   mime - the only module that includes GMime: raw RFC 5322 bytes -> core::MessageSummary.
// STANDARDS
//   RFC 5322 (message format), RFC 2045-2049 (MIME), RFC 2047 (encoded words), RFC 2231 (parameters),
//   RFC 6532 (UTF-8 headers).
// SECURITY
//   Input is hostile: any bytes at all. Never crashes, never throws; bounded by MimeLimits. A message
//   GMime cannot make sense of still yields a summary with parse_failed set (and whatever was readable).
//
// Thread-safety: call mime::init() once before any thread uses parse_summary(); after that
// parse_summary() may run on any number of threads at once.
#pragma once

#include <cstddef>
#include <string_view>

#include "core/types.h"

namespace mailjar::mime {

struct MimeLimits {
  int max_depth = 32;                 // nesting of multiparts / message/rfc822 parts walked
  int max_parts = 1000;               // parts walked; the rest are ignored (and a note set in parse_error)
  std::size_t max_index_text = 262144;  // bytes of body text kept for the full-text index
  std::size_t snippet_chars = 250;    // characters (not bytes) of snippet
};

// Initialises GMime once per process. Idempotent.
void init();

// Parses the message and fills the summary fields (everything in core::MessageSummary).
// Tags come from X-Tags (comma separated) and from plus-addressing of the To/Cc recipients
// (user+tag@domain -> "tag"), deduplicated, in first-seen order.
core::MessageSummary parse_summary(std::string_view raw, const MimeLimits& limits = {});

}  // namespace mailjar::mime
