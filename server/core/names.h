// The names people give things (projects, inboxes, tags): their limits, checked the same way wherever
// a name comes in (the API, the CLI, X-Tags headers).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "core/utf8.h"

namespace mailjar::core {

inline constexpr std::size_t kMaxNameBytes = 128;  // a project or inbox name
inline constexpr std::size_t kMaxTagBytes = 200;   // one tag
inline constexpr std::size_t kMaxTags = 64;        // tags of one message

// Why `name` cannot be a name of `what` ("project name", "tag"), or nullopt when it can: it must be
// 1 to `max_bytes` bytes of valid UTF-8 without control characters (NUL, CR, LF, DEL, ...), and not
// only spaces.
inline std::optional<std::string> name_problem(std::string_view name, std::string_view what,
                                               std::size_t max_bytes) {
  const std::string w(what);
  if (name.find_first_not_of(' ') == std::string_view::npos) return w + " is empty";
  if (name.size() > max_bytes) {
    return w + " is longer than " + std::to_string(max_bytes) + " bytes (" + std::to_string(name.size()) +
           ")";
  }
  if (!is_valid_utf8(name)) return w + " is not valid UTF-8";
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) return w + " contains a control character";
  }
  return std::nullopt;
}

}  // namespace mailjar::core
