// NAME
//   http::Api - the REST API's request handling: a request in, a response out, against one Store.
// CONTRACT
//   handle() is synchronous and blocking (it reads SQLite): call it on a worker thread, never on a
//   network thread, with that thread's own Store. It never throws; every failure becomes a JSON error
//   response {"Error": "...", "Code": "..."} with an honest status code.
//   Paths are served both bare (the default inbox) and under /inboxes/{slug}/ (that inbox).
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "store/store.h"

namespace mailjar::http {

struct Request {
  std::string method;                                   // "GET", "POST", ...
  std::string target;                                   // path + optional "?query", as received
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
  std::string body;
};

struct ApiContext {
  std::string version;                                  // for /api/v1/info later
  std::function<std::size_t()> pending_writes;          // messages accepted but not yet committed
  std::size_t overload_pending = 10000;                 // /readyz answers 503 above this
};

class Api {
 public:
  explicit Api(ApiContext context);
  Response handle(const Request& request, store::Store& store) const;

 private:
  ApiContext context_;
};

}  // namespace mailjar::http
