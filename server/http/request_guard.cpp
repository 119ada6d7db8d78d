#include "http/request_guard.h"

#include <arpa/inet.h>

#include <cstring>

#include "core/ascii.h"
#include "http/json.h"

namespace mailjar::http {

namespace {

std::optional<std::string_view> header(const Request& request, std::string_view name) {
  for (const auto& [k, v] : request.headers) {
    if (k == name) return std::string_view(v);
  }
  return std::nullopt;
}

// "host:port", "[v6]:port", "host" -> the host ("v6" without brackets) and the port ("" when absent).
// nullopt for a malformed authority.
std::optional<std::pair<std::string, std::string>> split_authority(std::string_view authority) {
  if (authority.empty()) return std::nullopt;
  std::string_view host = authority;
  std::string_view port;
  if (authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = authority.substr(1, close - 1);
    const std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port = rest.substr(1);
    }
  } else {
    const auto colon = authority.rfind(':');
    if (colon != std::string_view::npos) {
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
      if (host.find(':') != std::string_view::npos) return std::nullopt;  // an unbracketed IPv6 literal
    }
  }
  if (host.empty()) return std::nullopt;
  for (char c : port) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  return std::pair{core::ascii_lowercase(host), std::string(port)};
}

bool is_loopback_host(const std::string& host) {
  if (host == "localhost" || host.ends_with(".localhost")) return true;
  unsigned char buf[16];
  if (inet_pton(AF_INET, host.c_str(), buf) == 1) return buf[0] == 127;
  if (inet_pton(AF_INET6, host.c_str(), buf) == 1) {
    static const unsigned char kLoopback6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    return std::memcmp(buf, kLoopback6, 16) == 0;
  }
  return false;
}

bool is_allowed_host(const std::string& host, const OriginPolicy& policy) {
  for (const std::string& allowed : policy.allowed_hosts) {
    if (core::ascii_iequals(allowed, host)) return true;
  }
  return false;
}

bool is_state_changing(std::string_view method) {
  return method != "GET" && method != "HEAD" && method != "OPTIONS";
}

// "application/json" or "application/json; charset=utf-8", in any letter case.
bool is_json_media_type(std::string_view content_type) {
  const auto semicolon = content_type.find(';');
  std::string_view type = content_type.substr(0, semicolon);
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.remove_prefix(1);
  return core::ascii_iequals(type, "application/json");
}

// The authority with the scheme's default port dropped, for comparing an Origin with a Host.
std::string normalized(const std::pair<std::string, std::string>& authority, std::string_view scheme) {
  const bool default_port = authority.second.empty() || (scheme == "http" && authority.second == "80") ||
                            (scheme == "https" && authority.second == "443");
  return default_port ? authority.first : authority.first + ":" + authority.second;
}

}  // namespace

bool is_loopback_address(std::string_view host) {
  std::string h = core::ascii_lowercase(host);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  return is_loopback_host(h);
}

std::optional<Response> check_host(const Request& request, const OriginPolicy& policy) {
  if (!policy.loopback_only) return std::nullopt;
  const auto host = header(request, "host");
  if (!host) return std::nullopt;  // HTTP/1.0 without Host: not a browser
  const auto authority = split_authority(*host);
  if (authority && (is_loopback_host(authority->first) || is_allowed_host(authority->first, policy))) {
    return std::nullopt;
  }
  return error_response(
      403,
      "Host '" + std::string(*host) +
          "' is not allowed: this server listens on loopback and answers only loopback names "
          "(localhost, 127.0.0.1, [::1]); add others with --allowed-hosts",
      "forbidden_host");
}

std::optional<Response> check_origin(const Request& request, const OriginPolicy& policy) {
  const auto origin = header(request, "origin");
  if (!origin) return std::nullopt;
  const auto refuse = [&] {
    return error_response(403,
                          "cross-origin request refused: Origin " + std::string(*origin) +
                              " is not this server (add its host with --allowed-hosts)",
                          "forbidden_origin");
  };
  const auto scheme_end = origin->find("://");
  if (scheme_end == std::string_view::npos) return refuse();  // "null" (sandboxed frames, file:) and junk
  const std::string scheme = core::ascii_lowercase(origin->substr(0, scheme_end));
  const auto origin_authority = split_authority(origin->substr(scheme_end + 3));
  if (!origin_authority) return refuse();
  if (is_allowed_host(origin_authority->first, policy)) return std::nullopt;
  const auto host = header(request, "host");
  const auto host_authority = host ? split_authority(*host) : std::nullopt;
  if (host_authority && normalized(*origin_authority, scheme) == normalized(*host_authority, scheme)) {
    return std::nullopt;
  }
  return refuse();
}

std::optional<Response> guard_request(const Request& request, const OriginPolicy& policy, bool probe) {
  if (!probe) {
    if (auto refused = check_host(request, policy)) return refused;
  }
  if (!is_state_changing(request.method)) return std::nullopt;
  if (auto refused = check_origin(request, policy)) return refused;
  if (request.body.find_first_not_of(" \t\r\n") == std::string::npos) return std::nullopt;
  const auto content_type = header(request, "content-type");
  if (!content_type || !is_json_media_type(*content_type)) {
    return error_response(415,
                          "a request body must be JSON: send it with Content-Type: application/json (got " +
                              (content_type ? std::string(*content_type) : std::string("none")) + ")",
                          "unsupported_media_type");
  }
  return std::nullopt;
}

}  // namespace mailjar::http
