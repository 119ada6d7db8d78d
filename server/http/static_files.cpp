#include "http/static_files.h"

#include <algorithm>

namespace mailjar::http {

std::optional<StaticFile> find_static_file(std::string_view path) {
  if (path.empty() || path.size() > kMaxStaticPathBytes) return std::nullopt;
  const std::span<const StaticFile> files = static_files();
  const auto it = std::lower_bound(files.begin(), files.end(), path,
                                   [](const StaticFile& file, std::string_view p) { return file.path < p; });
  if (it == files.end() || it->path != path) return std::nullopt;
  return *it;
}

bool etag_matches(std::string_view if_none_match, std::string_view etag) {
  constexpr std::string_view kSpaces = " \t";
  while (!if_none_match.empty()) {
    const auto comma = if_none_match.find(',');
    std::string_view item = if_none_match.substr(0, comma);
    if_none_match = comma == std::string_view::npos ? std::string_view{} : if_none_match.substr(comma + 1);
    const auto first = item.find_first_not_of(kSpaces);
    if (first == std::string_view::npos) continue;
    item = item.substr(first, item.find_last_not_of(kSpaces) - first + 1);
    if (item == "*") return true;
    if (item.substr(0, 2) == "W/") item.remove_prefix(2);
    if (item == etag) return true;
  }
  return false;
}

}  // namespace mailjar::http
