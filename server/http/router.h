// NAME
//   http router - the one route table of the HTTP API, and a pure matcher: method + request target in,
//   route id + path parameters + decoded query out. No sockets, no Beast, no store.
// STANDARDS
//   RFC 3986 (URI syntax, percent-encoding), RFC 9110 section 15.5.6 (405 and the Allow header),
//   WHATWG application/x-www-form-urlencoded ('+' is a space in query keys and values).
// CONTRACT
//   Every route is one row of kRoutes (method, pattern, name): the OpenAPI document is checked against
//   this table, so routes are data, never code. Patterns are literal segments and "{Param}" segments
//   (one whole segment each). Routes marked inbox_scoped also answer under the prefix "/inboxes/{slug}".
//   A GET route also answers HEAD. Matching is exact: no trailing slash, no empty segments. The one
//   exception is the root pattern "/" (the web UI), which under the prefix is "/inboxes/{slug}/".
//   Percent-decoding happens per path segment after splitting on '/', so "%2F" never splits a segment.
#pragma once

#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace mailjar::http {

enum class RouteId {
  kLivez,
  kReadyz,
  kInfo,
  kWebUi,
  kListMessages,
  kSetReadStatus,
  kDeleteMessages,
  kSearch,
  kDeleteSearch,
  kWait,
  kMessage,
  kMessageHeaders,
  kMessageAnalysis,
  kAnalyzeMessage,
  kMessageRaw,
  kMessagePart,
  kView,
  kGetTags,
  kSetTags,
  kRenameTag,
  kDeleteTag,
  kSend,
  kEvents,  // the WebSocket (answered by the listener's upgrade hooks; a plain GET gets 400)
  kOpenApi,
  kListProjects,
  kCreateProject,
  kListInboxes,
  kCreateInbox,
  kGetInbox,
  kUpdateInbox,
  kDeleteInbox,
  kMailHogMessages,
  kMailHogSearch,
  kUiPage,       // the web UI's page: "/" and "/inboxes/{slug}/"
  kUiInboxPage,  // the same page at "/inboxes/{Slug}" (no trailing slash)
  kUiAsset,      // one file of the web UI: "/ui/{Asset}"
};

struct RouteSpec {
  std::string_view method;   // "GET", "POST", ...
  std::string_view pattern;  // e.g. "/api/v1/message/{ID}/raw"
  RouteId id;
  std::string_view name;  // stable name, e.g. "GetMessageRaw" (used as the OpenAPI operationId)
  bool inbox_scoped;      // also served under "/inboxes/{slug}"
};

// The route table, in a fixed order.
std::span<const RouteSpec> routes();

// The request target split into its raw path and its decoded query pairs (in order, duplicates kept).
struct Target {
  std::string raw_path;  // the path as received, before percent-decoding
  std::vector<std::pair<std::string, std::string>> query;

  // The first value of `key`, if present (a key without '=' has the value "").
  std::optional<std::string> param(std::string_view key) const;
};

// Splits "path?query" and decodes the query. The absolute-form ("http://host/path?q") is accepted and
// its scheme and authority dropped. Errors ("bad_request"): any other target that does not start with
// '/' (authority-form, asterisk-form), or invalid percent-encoding in the query. The fragment ("#...") is
// never sent by clients; if present it is dropped.
core::Result<Target> parse_target(std::string_view target);

// Decodes %XX escapes; `plus_is_space` turns '+' into ' ' (query strings). nullopt on a malformed
// escape ("%", "%4", "%zz").
std::optional<std::string> percent_decode(std::string_view in, bool plus_is_space);

struct RouteMatch {
  enum class Kind { kFound, kNotFound, kMethodNotAllowed, kBadRequest };
  Kind kind = Kind::kNotFound;
  const RouteSpec* route = nullptr;           // set when kFound
  std::map<std::string, std::string> params;  // decoded path parameters by name, when kFound
  std::optional<std::string> inbox_slug;      // decoded, when the path had the inbox prefix
  std::vector<std::string> allowed;           // kMethodNotAllowed: the methods the path answers
};

// Matches a method and a raw path (Target::raw_path; decoded here, per segment) against the table.
// kBadRequest: invalid percent-encoding in the path. kMethodNotAllowed: the path matches some route
// but none with this method; `allowed` lists the methods (GET implies HEAD), sorted.
RouteMatch match_route(std::string_view method, std::string_view path);

// "GET, HEAD" etc., for the Allow header.
std::string join_allowed(const std::vector<std::string>& methods);

}  // namespace mailjar::http
