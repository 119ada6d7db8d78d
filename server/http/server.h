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
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "http/message.h"

namespace boost::asio {
class io_context;
}

namespace mailjar::http {

struct HttpLimits {
  std::size_t max_header_bytes = 16384;
  std::size_t max_body_bytes = 33554432;
  // The body limit of one request, by method and target, once its header is read (at most
  // max_body_bytes): a larger Content-Length gets its 413 at once, before any of the body is read.
  // Unset: max_body_bytes for every request. Called on a network thread: must be pure and fast.
  std::function<std::size_t(std::string_view method, std::string_view target)> body_limit;
  int read_timeout_s = 60;
  int max_connections = 1024;
  std::size_t max_ws_queue_bytes = 4 << 20;  // queued outgoing WebSocket bytes per connection
  std::size_t max_ws_frame_bytes = 65536;    // largest incoming WebSocket message accepted
  int ws_ping_interval_s = 30;  // server pings idle WebSocket clients, closes after 2 silent intervals;
                                // 0 = never ping (and no idle timeout)
};

using Handler = std::function<void(Request request, std::function<void(Response)> reply)>;

// The server side of one open WebSocket (RFC 6455), handed to the application after the handshake.
// Thread-safe: send() and close() may be called from any thread, also after the peer has gone (then they
// do nothing). Text frames only. Outgoing frames queue in order; when more than max_ws_queue_bytes are
// queued (a client that does not read), the connection is closed (code 1008, queued frames dropped)
// instead of growing. close() sends the frames queued before it, then closes with code 1000; the close
// handshake is bounded by read_timeout_s. The handle does not keep the socket alive.
class WsConnection {
 public:
  virtual ~WsConnection() = default;
  virtual void send(std::string text) = 0;
  virtual void close() = 0;
};

// WebSocket upgrades. A GET request with "Upgrade: websocket" goes to `check` (on a network thread, must
// not block) instead of the Handler: nullopt accepts it, a Response refuses it (sent as a normal HTTP
// response, e.g. 403 for a foreign Origin, 404 for an unknown path). After the handshake `opened` gets the
// request and the connection; `closed` is called exactly once when it ends (either side), after which the
// connection's send() does nothing. Frames the client sends are read (so pings and close work) and
// dropped; a frame larger than max_ws_frame_bytes closes the connection (code 1009). Without hooks (empty
// `check`) upgrade requests are answered 404 like any unknown route. `closed` runs on a network thread, or
// on the thread calling Server::stop(), which closes every open WebSocket and returns only after their
// `closed` calls; no hook starts after stop() returns. Hooks must not call stop(). A hook that throws
// refuses (check: 500) or closes (opened) the connection.
struct WsHooks {
  std::function<std::optional<Response>(const Request&)> check;
  std::function<void(const Request&, std::shared_ptr<WsConnection>)> opened;
  std::function<void(const std::shared_ptr<WsConnection>&)> closed;
};

class Server {
 public:
  Server(boost::asio::io_context& io, HttpLimits limits, Handler handler, WsHooks ws = {});
  ~Server();
  // Binds and starts accepting; returns the bound port (useful with port 0).
  core::Result<uint16_t> listen(const std::string& host, uint16_t port);
  void stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace mailjar::http
