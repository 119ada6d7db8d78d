// NAME
//   http static_files - the web UI's files (web/), compiled into the binary: a pure lookup from a file
//   name to its bytes, content type and ETag. No sockets, no Beast.
// CONTRACT
//   The table is generated at build time by embed_web.cmake from every file under web/ except README.md
//   and dot files; a file with an unknown extension fails the build, so every entry has a real content
//   type. Names are paths relative to web/ ("index.html", "app.js"), sorted, unique. The data is static
//   for the life of the process (views into constant storage), so lookups are thread-safe.
//   ETags are strong validators (RFC 9110 section 8.8.3): a quoted prefix of the file's SHA-256.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string_view>

namespace mailjar::http {

struct StaticFile {
  std::string_view path;          // relative to web/, e.g. "app.js"
  std::string_view content_type;  // e.g. "text/javascript; charset=utf-8"
  std::string_view body;          // the file's bytes, exactly as in web/
  std::string_view etag;          // e.g. "\"3f2a...\"" (quotes included, as sent in the ETag header)
};

// Longest name find_static_file() looks up; longer names are not found.
inline constexpr std::size_t kMaxStaticPathBytes = 256;

// Every embedded file, sorted by path (defined in the generated source).
std::span<const StaticFile> static_files();

// The file named `path` (relative to web/, no leading '/'), or nullopt. Matching is exact and
// case-sensitive; nothing is resolved against a file system, so "../x" is simply not found.
std::optional<StaticFile> find_static_file(std::string_view path);

// True when an If-None-Match header value names `etag` (a list of entity tags, or "*"), per RFC 9110
// section 13.1.2 with weak comparison: a W/ prefix on a listed tag is ignored.
bool etag_matches(std::string_view if_none_match, std::string_view etag);

}  // namespace mailjar::http
