#include "core/ascii.h"
#include "http/router.h"

#include <algorithm>
#include <array>

namespace mailjar::http {

namespace {

constexpr std::string_view kInboxPrefix = "inboxes";

constexpr std::array kRoutes{
    RouteSpec{"GET", "/livez", RouteId::kLivez, "Livez", false},
    RouteSpec{"GET", "/readyz", RouteId::kReadyz, "Readyz", false},
    RouteSpec{"GET", "/api/v1/info", RouteId::kInfo, "AppInformation", true},
    RouteSpec{"GET", "/api/v1/webui", RouteId::kWebUi, "WebUIConfiguration", true},
    RouteSpec{"GET", "/api/v1/messages", RouteId::kListMessages, "GetMessages", true},
    RouteSpec{"PUT", "/api/v1/messages", RouteId::kSetReadStatus, "SetReadStatus", true},
    RouteSpec{"DELETE", "/api/v1/messages", RouteId::kDeleteMessages, "DeleteMessages", true},
    RouteSpec{"GET", "/api/v1/search", RouteId::kSearch, "MessagesSummary", true},
    RouteSpec{"DELETE", "/api/v1/search", RouteId::kDeleteSearch, "DeleteSearch", true},
    RouteSpec{"GET", "/api/v1/wait", RouteId::kWait, "WaitForMessage", true},
    RouteSpec{"GET", "/api/v1/message/{ID}", RouteId::kMessage, "Message", true},
    RouteSpec{"GET", "/api/v1/message/{ID}/headers", RouteId::kMessageHeaders, "MessageHeaders", true},
    RouteSpec{"GET", "/api/v1/message/{ID}/analysis", RouteId::kMessageAnalysis, "MessageAnalysis", true},
    RouteSpec{"POST", "/api/v1/message/{ID}/analysis", RouteId::kAnalyzeMessage, "AnalyzeMessage", true},
    RouteSpec{"GET", "/api/v1/message/{ID}/raw", RouteId::kMessageRaw, "GetMessageRaw", true},
    RouteSpec{"GET", "/api/v1/message/{ID}/part/{PartID}", RouteId::kMessagePart, "DownloadAttachment", true},
    RouteSpec{"GET", "/view/{File}", RouteId::kView, "ViewMessage", true},
    RouteSpec{"GET", "/api/v1/tags", RouteId::kGetTags, "GetAllTags", true},
    RouteSpec{"PUT", "/api/v1/tags", RouteId::kSetTags, "SetTags", true},
    RouteSpec{"PUT", "/api/v1/tags/{Tag}", RouteId::kRenameTag, "RenameTag", true},
    RouteSpec{"DELETE", "/api/v1/tags/{Tag}", RouteId::kDeleteTag, "DeleteTag", true},
    RouteSpec{"POST", "/api/v1/send", RouteId::kSend, "SendMessage", true},
    RouteSpec{"GET", "/api/events", RouteId::kEvents, "Events", true},
    RouteSpec{"GET", "/api/v1/openapi.json", RouteId::kOpenApi, "OpenAPI", false},
    RouteSpec{"GET", "/api/v1/projects", RouteId::kListProjects, "ListProjects", false},
    RouteSpec{"POST", "/api/v1/projects", RouteId::kCreateProject, "CreateProject", false},
    RouteSpec{"GET", "/api/v1/inboxes", RouteId::kListInboxes, "ListInboxes", false},
    RouteSpec{"POST", "/api/v1/inboxes", RouteId::kCreateInbox, "CreateInbox", false},
    RouteSpec{"GET", "/api/v1/inboxes/{Slug}", RouteId::kGetInbox, "GetInbox", false},
    RouteSpec{"PATCH", "/api/v1/inboxes/{Slug}", RouteId::kUpdateInbox, "UpdateInbox", false},
    RouteSpec{"DELETE", "/api/v1/inboxes/{Slug}", RouteId::kDeleteInbox, "DeleteInbox", false},
    RouteSpec{"GET", "/api/v2/messages", RouteId::kMailHogMessages, "MailHogMessages", true},
    RouteSpec{"GET", "/api/v2/search", RouteId::kMailHogSearch, "MailHogSearch", true},
    RouteSpec{"GET", "/", RouteId::kUiPage, "WebUI", true},
    RouteSpec{"GET", "/inboxes/{Slug}", RouteId::kUiInboxPage, "WebUIInbox", false},
    RouteSpec{"GET", "/ui/{Asset}", RouteId::kUiAsset, "WebUIAsset", false},
};

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Splits "/a/b/c" into {"a", "b", "c"}; "/" gives {""}; "/a/" gives {"a", ""}. `path` starts with '/'.
std::vector<std::string_view> split_segments(std::string_view path) {
  std::vector<std::string_view> out;
  path.remove_prefix(1);
  while (true) {
    const auto slash = path.find('/');
    if (slash == std::string_view::npos) {
      out.push_back(path);
      return out;
    }
    out.push_back(path.substr(0, slash));
    path.remove_prefix(slash + 1);
  }
}

bool is_param(std::string_view segment) {
  return segment.size() >= 3 && segment.front() == '{' && segment.back() == '}';
}

// Matches decoded path segments against a pattern; fills `params` on success.
bool match_pattern(std::string_view pattern, const std::vector<std::string>& segments,
                   std::map<std::string, std::string>& params) {
  const std::vector<std::string_view> parts = split_segments(pattern);
  if (parts.size() != segments.size()) return false;
  std::map<std::string, std::string> found;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (is_param(parts[i])) {
      if (segments[i].empty()) return false;
      found.emplace(std::string(parts[i].substr(1, parts[i].size() - 2)), segments[i]);
    } else if (parts[i] != segments[i]) {
      return false;
    }
  }
  params = std::move(found);
  return true;
}

bool method_matches(std::string_view route_method, std::string_view method) {
  return route_method == method || (route_method == "GET" && method == "HEAD");
}

}  // namespace

std::span<const RouteSpec> routes() { return kRoutes; }

std::optional<std::string> Target::param(std::string_view key) const {
  for (const auto& [k, v] : query) {
    if (k == key) return v;
  }
  return std::nullopt;
}

std::optional<std::string> percent_decode(std::string_view in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return std::nullopt;  // fewer than two characters follow the '%'
      const int hi = hex_value(in[i + 1]);
      const int lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

core::Result<Target> parse_target(std::string_view target) {
  // Absolute-form (RFC 9112 section 3.2.2): drop "scheme://authority"; the path defaults to "/".
  std::string absolute_path;
  for (std::string_view scheme : {std::string_view("http://"), std::string_view("https://")}) {
    if (target.size() >= scheme.size() && core::ascii_iequals(target.substr(0, scheme.size()), scheme)) {
      std::string_view rest = target.substr(scheme.size());
      const auto end = rest.find_first_of("/?#");
      rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
      absolute_path = rest.empty() || rest.front() != '/' ? "/" + std::string(rest) : std::string(rest);
      target = absolute_path;
      break;
    }
  }
  if (target.empty() || target.front() != '/') {
    return core::make_error("bad_request", "request target must be an absolute path");
  }
  if (const auto hash = target.find('#'); hash != std::string_view::npos) target = target.substr(0, hash);
  Target out;
  const auto question = target.find('?');
  out.raw_path = std::string(target.substr(0, question));
  if (question == std::string_view::npos) return out;
  std::string_view query = target.substr(question + 1);
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;  // "a=1&&b=2"
    const auto eq = pair.find('=');
    auto key = percent_decode(pair.substr(0, eq), true);
    auto value =
        percent_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1), true);
    if (!key || !value) {
      return core::make_error("bad_request", "invalid percent-encoding in the query string");
    }
    out.query.emplace_back(std::move(*key), std::move(*value));
  }
  return out;
}

RouteMatch match_route(std::string_view method, std::string_view path) {
  RouteMatch result;
  if (path.empty() || path.front() != '/') return result;

  std::vector<std::string> segments;
  for (std::string_view raw : split_segments(path)) {
    auto decoded = percent_decode(raw, false);
    if (!decoded) {
      result.kind = RouteMatch::Kind::kBadRequest;
      return result;
    }
    segments.push_back(std::move(*decoded));
  }

  // The path is tried as it is against every route, and, when it starts with "/inboxes/{slug}/", its
  // rest is tried against the inbox-scoped routes.
  struct Candidate {
    std::vector<std::string> segments;
    std::optional<std::string> slug;
  };
  std::vector<Candidate> candidates;
  if (segments.size() >= 3 && segments[0] == kInboxPrefix && !segments[1].empty()) {
    candidates.push_back({std::vector<std::string>(segments.begin() + 2, segments.end()), segments[1]});
  }
  candidates.push_back({std::move(segments), std::nullopt});

  std::vector<std::string> allowed;
  for (Candidate& candidate : candidates) {
    for (const RouteSpec& route : kRoutes) {
      if (candidate.slug && !route.inbox_scoped) continue;
      std::map<std::string, std::string> params;
      if (!match_pattern(route.pattern, candidate.segments, params)) continue;
      if (method_matches(route.method, method)) {
        result.kind = RouteMatch::Kind::kFound;
        result.route = &route;
        result.params = std::move(params);
        result.inbox_slug = std::move(candidate.slug);
        return result;
      }
      allowed.emplace_back(route.method);
      if (route.method == "GET") allowed.emplace_back("HEAD");
    }
  }
  if (!allowed.empty()) {
    std::sort(allowed.begin(), allowed.end());
    allowed.erase(std::unique(allowed.begin(), allowed.end()), allowed.end());
    result.kind = RouteMatch::Kind::kMethodNotAllowed;
    result.allowed = std::move(allowed);
  }
  return result;
}

std::string join_allowed(const std::vector<std::string>& methods) {
  std::string out;
  for (const auto& m : methods) {
    if (!out.empty()) out += ", ";
    out += m;
  }
  return out;
}

}  // namespace mailjar::http
