// NAME
//   http event stream - GET /api/events (and /inboxes/{slug}/api/events): the WebSocket on which the UI
//   and clients receive an inbox's events as Mailpit sends them, {"Type": "...", "Data": ...}.
// SECURITY
//   Cross-site WebSocket hijacking: a browser sends Origin; an upgrade whose Origin is not this server's
//   own (scheme + the Host header) is refused with 403. Clients that send no Origin (scripts) are accepted.
// CONTRACT
//   The hooks never block a network thread: the inbox is resolved on a worker (context.post_work), then
//   the connection subscribes to context.hub; an unknown inbox closes the connection. Events are queued
//   per connection by WsConnection (bounded there), never by the hub.
#pragma once

#include "http/api.h"
#include "http/server.h"

namespace mailjar::http {

// The hooks for http::Server. `context` and `api` must outlive the server. Under --auth on the token is
// verified on the worker (api.authenticate); a refused or foreign-project connection is closed.
WsHooks event_stream_hooks(const ApiContext& context, const Api& api);

}  // namespace mailjar::http
