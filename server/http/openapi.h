// NAME
//   http openapi - the OpenAPI 3 document of everything mailjar serves (GET /api/v1/openapi.json).
// CONTRACT
//   Every route of routes() (router.h) appears under its pattern with its method (and, for inbox-scoped
//   routes, also under "/inboxes/{slug}" + pattern), with operationId = RouteSpec::name (scoped copies:
//   name + "InInbox"), its path and query parameters, and its responses; nothing else appears. A test
//   checks this against the route table, so the document cannot drift from the router.
#pragma once

#include <string>
#include <string_view>

namespace mailjar::http {

// The document as JSON text.
std::string openapi_document(std::string_view version);

}  // namespace mailjar::http
