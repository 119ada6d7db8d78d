// NAME
//   http::Server - the HTTP/1.1 listener (Boost.Beast), handing each request to an asynchronous handler.
// STANDARDS
//   RFC 9110/9112 (HTTP semantics and HTTP/1.1).
// SECURITY
//   Perimeter. Bounded by HttpLimits: header bytes, body bytes, read timeout, connections. Oversized
//   bodies get 413, malformed requests 400, then the connection closes. Keep-alive is supported.
// CONTRACT
//   The handler is called on a network thread and must not block: it hands the request to a worker and
//   calls `reply` (from any thread, exactly once) with the response. One request in flight per connection.
//   This header does not include Asio/Beast.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/result.h"
#include "http/api.h"

namespace boost::asio {
class io_context;
}

namespace mailjar::http {

struct HttpLimits {
  std::size_t max_header_bytes = 16384;
  std::size_t max_body_bytes = 33554432;
  int read_timeout_s = 60;
  int max_connections = 1024;
};

using Handler = std::function<void(Request request, std::function<void(Response)> reply)>;

class Server {
 public:
  Server(boost::asio::io_context& io, HttpLimits limits, Handler handler);
  ~Server();
  // Binds and starts accepting; returns the bound port (useful with port 0).
  core::Result<uint16_t> listen(const std::string& host, uint16_t port);
  void stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace mailjar::http
