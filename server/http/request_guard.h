// NAME
//   http request guard - what protects the API from the browser when it is open (no tokens): checks of
//   the Host, Origin and Content-Type headers, made before a request is routed.
// STANDARDS
//   RFC 9110 section 7.2 (Host), RFC 6454 (the Origin header: scheme://host[:port], or "null"),
//   RFC 6761 section 6.3 (".localhost" names are loopback), Fetch standard (CORS-safelisted content
//   types: a page may send text/plain, form-urlencoded or multipart bodies to any origin without asking).
// SECURITY
//   - Request forgery: a page on another origin can make a browser send a "simple" request (a form POST
//     of text/plain) to the API. A state-changing request (any method but GET, HEAD and OPTIONS) with a
//     body must therefore be application/json, which a page can only send after a CORS preflight that
//     mailjar never grants; and when it carries an Origin, that must be this server's own.
//   - DNS rebinding: a hostile name that resolves to 127.0.0.1 reaches a loopback listener as
//     "same-origin" to the attacker's page. When mailjar listens on loopback only, the Host must name
//     loopback (localhost, *.localhost, 127.0.0.0/8, ::1) or be one of --allowed-hosts.
// CONTRACT
//   Pure, thread-safe, never throws. nullopt: go on; a Response: refuse with it (403 forbidden_host or
//   forbidden_origin, 415 unsupported_media_type).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/message.h"

namespace mailjar::http {

struct OriginPolicy {
  // The listener is bound to a loopback address: the Host header must name loopback or an allowed host.
  bool loopback_only = false;
  // --allowed-hosts: further host names (no port; compared case-insensitively) accepted as Host, and as
  // the host of an Origin (behind a reverse proxy that keeps the client's Host, say).
  std::vector<std::string> allowed_hosts;
};

// True for a listen address that only loopback can reach: 127.0.0.0/8, ::1, "localhost".
bool is_loopback_address(std::string_view host);

// The Host check (every request but the probes, and WebSocket upgrades).
std::optional<Response> check_host(const Request& request, const OriginPolicy& policy);

// The Origin check: when the request carries an Origin it must be this server's (the Host's) own or an
// allowed host's. For WebSocket upgrades and state-changing requests.
std::optional<Response> check_origin(const Request& request, const OriginPolicy& policy);

// Everything a request passes before routing: Host (unless `probe`), then for a state-changing method
// Origin and, when it has a body, Content-Type: application/json.
std::optional<Response> guard_request(const Request& request, const OriginPolicy& policy, bool probe);

}  // namespace mailjar::http
