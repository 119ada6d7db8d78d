// http::Server's WebSocket support over real sockets: a Server on 127.0.0.1:0 in an io_context run by two
// threads, a Beast WebSocket client on its own io_context (every client operation is bounded by kGuard,
// so a bug fails a test instead of hanging it), and a raw POSIX socket for plain HTTP.
// No duration is asserted: waits only have upper bounds.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/error.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "http/server.h"

namespace mailjar::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;
using namespace std::chrono_literals;

constexpr auto kGuard = 10s;  // upper bound on any wait; never reached unless something is broken

// What the hooks saw, shared with the server's threads.
class HookLog {
 public:
  void on_opened(const Request& request, std::shared_ptr<WsConnection> connection) {
    std::lock_guard lock(mu_);
    requests_.push_back(request);
    connections_.push_back(std::move(connection));
    cv_.notify_all();
  }
  void on_closed(const std::shared_ptr<WsConnection>& connection) {
    std::lock_guard lock(mu_);
    closed_[connection.get()] += 1;
    ++closed_total_;
    cv_.notify_all();
  }

  // The n-th opened connection (0-based), waiting for it; nullptr if it does not come.
  std::shared_ptr<WsConnection> opened(std::size_t n) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, kGuard, [&] { return connections_.size() > n; });
    return connections_.size() > n ? connections_[n] : nullptr;
  }
  Request request(std::size_t n) {
    std::lock_guard lock(mu_);
    return requests_.at(n);
  }
  std::size_t opened_count() {
    std::lock_guard lock(mu_);
    return connections_.size();
  }
  // Waits until `count` closed calls in total have been seen; returns the total.
  int wait_closed(int count) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, kGuard, [&] { return closed_total_ >= count; });
    return closed_total_;
  }
  int closed_calls(const std::shared_ptr<WsConnection>& connection) {
    std::lock_guard lock(mu_);
    auto it = closed_.find(connection.get());
    return it == closed_.end() ? 0 : it->second;
  }
  int closed_total() {
    std::lock_guard lock(mu_);
    return closed_total_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Request> requests_;
  std::vector<std::shared_ptr<WsConnection>> connections_;
  std::map<WsConnection*, int> closed_;
  int closed_total_ = 0;
};

// A Beast WebSocket client. Each operation runs the client's own io_context until it completes or kGuard
// passes (then the socket is closed and the operation reports timed_out).
class WsClient {
 public:
  WsClient() : ws_(io_) {}

  // TCP connect plus the opening handshake; `origin` is sent as the Origin header when not empty.
  error_code connect(uint16_t port, const std::string& target, const std::string& origin = "") {
    error_code ec = run([&](auto handler) {
      beast::get_lowest_layer(ws_).async_connect(tcp::endpoint(net::ip::address_v4::loopback(), port),
                                                 handler);
    });
    if (ec) return ec;
    if (!origin.empty()) {
      ws_.set_option(websocket::stream_base::decorator(
          [origin](websocket::request_type& req) { req.set(beast::http::field::origin, origin); }));
    }
    return run([&](auto handler) {
      ws_.async_handshake(response_, "127.0.0.1:" + std::to_string(port), target, handler);
    });
  }

  // Reads one message.
  std::pair<error_code, std::string> read() {
    beast::flat_buffer buffer;
    error_code ec = run([&](auto handler) { ws_.async_read(buffer, handler); });
    return {ec, beast::buffers_to_string(buffer.data())};
  }

  // Reads until an error (at most `limit` messages); returns the error and how many messages came first.
  std::pair<error_code, int> read_until_error(int limit) {
    for (int i = 0; i < limit; ++i) {
      auto [ec, text] = read();
      if (ec) return {ec, i};
    }
    return {error_code{}, limit};
  }

  error_code write(const std::string& text) {
    return run([&](auto handler) { ws_.async_write(net::buffer(text), handler); });
  }

  error_code close() {
    return run([&](auto handler) { ws_.async_close(websocket::close_code::normal, handler); });
  }

  // Reads until the server's first ping arrives (answered by Beast); true if one did.
  bool wait_for_ping() {
    bool pinged = false;
    ws_.control_callback([&](websocket::frame_type kind, std::string_view) {
      if (kind == websocket::frame_type::ping) {
        pinged = true;
        io_.stop();
      }
    });
    beast::flat_buffer buffer;
    ws_.async_read(buffer, [](error_code, std::size_t) {});
    io_.restart();
    io_.run_for(kGuard);
    ws_.control_callback();
    drain();
    return pinged;
  }

  const websocket::response_type& response() const { return response_; }
  websocket::close_reason reason() const { return ws_.reason(); }

 private:
  template <class Start>
  error_code run(Start start) {
    error_code result;
    bool done = false;
    start([&](error_code ec, auto&&...) {
      result = ec;
      done = true;
    });
    io_.restart();
    io_.run_for(kGuard);
    if (!done) {
      drain();
      return net::error::timed_out;
    }
    return result;
  }

  // Abandons whatever is pending: closes the socket and lets the handlers run.
  void drain() {
    beast::get_lowest_layer(ws_).close();
    io_.restart();
    io_.run();
  }

  net::io_context io_;
  websocket::stream<beast::tcp_stream> ws_;
  websocket::response_type response_;
};

// One plain HTTP/1.1 exchange on a raw socket: sends `request`, returns the status line and the body
// (by Content-Length). Empty on failure; every read times out after kGuard.
std::pair<std::string, std::string> raw_exchange(uint16_t port, const std::string& request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{static_cast<long>(std::chrono::seconds(kGuard).count()), 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string received;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size())) {
    char chunk[4096];
    std::size_t header_end = std::string::npos;
    std::size_t length = 0;
    while (true) {
      if (header_end == std::string::npos) {
        header_end = received.find("\r\n\r\n");
        if (header_end != std::string::npos) {
          const std::size_t at = received.find("Content-Length: ");
          if (at != std::string::npos && at < header_end) length = std::stoul(received.substr(at + 16));
        }
      }
      if (header_end != std::string::npos && received.size() >= header_end + 4 + length) break;
      const ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
      if (n <= 0) break;
      received.append(chunk, static_cast<std::size_t>(n));
    }
    ::close(fd);
    if (header_end == std::string::npos) return {};
    return {received.substr(0, received.find("\r\n")), received.substr(header_end + 4, length)};
  }
  ::close(fd);
  return {};
}

class WsTest : public testing::Test {
 protected:
  // Starts a server whose check accepts every upgrade except those with Origin "http://evil.example"
  // (403), and whose Handler answers "handled <target>".
  void start(HttpLimits limits = {}) {
    WsHooks hooks;
    hooks.check = [](const Request& request) -> std::optional<Response> {
      for (const auto& [name, value] : request.headers) {
        if (name == "origin" && value == "http://evil.example") {
          Response refusal;
          refusal.status = 403;
          refusal.body = R"({"Error":"foreign origin"})";
          return refusal;
        }
      }
      return std::nullopt;
    };
    hooks.opened = [this](const Request& request, std::shared_ptr<WsConnection> connection) {
      log_.on_opened(request, std::move(connection));
    };
    hooks.closed = [this](const std::shared_ptr<WsConnection>& connection) { log_.on_closed(connection); };
    start_with(limits, std::move(hooks));
  }

  void start_with(HttpLimits limits, WsHooks hooks) {
    Handler handler = [](Request request, std::function<void(Response)> reply) {
      Response response;
      response.content_type = "text/plain";
      response.body = "handled " + request.target;
      reply(std::move(response));
    };
    server_ = std::make_unique<Server>(io_, limits, std::move(handler), std::move(hooks));
    auto port = server_->listen("127.0.0.1", 0);
    ASSERT_TRUE(port.ok()) << port.error().message;
    port_ = *port;
    io_.restart();
    for (int i = 0; i < 2; ++i) runners_.push_back(std::async(std::launch::async, [this] { io_.run(); }));
  }

  // Connects a client and waits for the server's `opened`; returns the server side of it.
  std::shared_ptr<WsConnection> open(WsClient& client, std::size_t index = 0) {
    const error_code ec = client.connect(port_, "/api/events");
    EXPECT_FALSE(ec) << ec.message();
    auto connection = log_.opened(index);
    EXPECT_NE(connection, nullptr);
    return connection;
  }

  void TearDown() override {
    if (server_) server_->stop();
    io_.stop();
    for (auto& runner : runners_) runner.wait();
    server_.reset();
  }

  net::io_context io_;
  std::unique_ptr<Server> server_;
  uint16_t port_ = 0;
  std::vector<std::future<void>> runners_;
  HookLog log_;
};

TEST_F(WsTest, AcceptedUpgradeReceivesMessagesInOrder) {
  start();
  WsClient client;
  auto connection = open(client);
  ASSERT_NE(connection, nullptr);
  EXPECT_EQ(client.response().result_int(), 101);
  EXPECT_EQ(client.response()[beast::http::field::server], "mailjar");
  const Request request = log_.request(0);
  EXPECT_EQ(request.method, "GET");
  EXPECT_EQ(request.target, "/api/events");
  bool saw_upgrade = false;
  for (const auto& [name, value] : request.headers) saw_upgrade |= name == "upgrade" && value == "websocket";
  EXPECT_TRUE(saw_upgrade);

  constexpr int kMessages = 200;
  for (int i = 0; i < kMessages; ++i) {
    connection->send(R"({"Type":"new","Data":{"n":)" + std::to_string(i) + "}}");
  }
  for (int i = 0; i < kMessages; ++i) {
    auto [ec, text] = client.read();
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_EQ(text, R"({"Type":"new","Data":{"n":)" + std::to_string(i) + "}}");
  }
  EXPECT_EQ(log_.closed_total(), 0);
}

TEST_F(WsTest, RefusedUpgradeIsAnHttpResponse) {
  struct Case {
    bool hooks;
    std::string origin;
    unsigned status;
    std::string body_part;
  };
  const std::vector<Case> cases = {
      {true, "http://evil.example", 403, "foreign origin"},
      {false, "", 404, "not_found"},  // no hooks: like an unknown route
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.status);
    if (c.hooks) {
      start();
    } else {
      start_with({}, {});
    }
    WsClient client;
    const error_code ec = client.connect(port_, "/api/events", c.origin);
    EXPECT_EQ(ec, websocket::error::upgrade_declined) << ec.message();
    EXPECT_EQ(client.response().result_int(), c.status);
    EXPECT_NE(client.response().body().find(c.body_part), std::string::npos) << client.response().body();
    EXPECT_EQ(log_.opened_count(), 0u);
    TearDown();
    runners_.clear();
  }
}

TEST_F(WsTest, ClosedOnceWhenTheClientCloses) {
  start();
  WsClient client;
  auto connection = open(client);
  ASSERT_NE(connection, nullptr);
  EXPECT_FALSE(client.close());
  EXPECT_EQ(log_.wait_closed(1), 1);
  EXPECT_EQ(log_.closed_calls(connection), 1);
  connection->send("after close");  // no effect, no crash
  connection->close();
  server_->stop();
  EXPECT_EQ(log_.closed_total(), 1);
}

TEST_F(WsTest, ClosedOnceWhenTheServerCloses) {
  start();
  WsClient client;
  auto connection = open(client);
  ASSERT_NE(connection, nullptr);
  connection->send("bye");
  connection->close();
  connection->send("after close");  // dropped: sent after close()
  auto [ec, text] = client.read();
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(text, "bye");
  auto [close_ec, more] = client.read();
  EXPECT_EQ(close_ec, websocket::error::closed) << close_ec.message();
  EXPECT_EQ(client.reason().code, websocket::close_code::normal);
  EXPECT_EQ(log_.wait_closed(1), 1);
  EXPECT_EQ(log_.closed_calls(connection), 1);
  connection->close();
  connection->send("later");
  server_->stop();
  EXPECT_EQ(log_.closed_total(), 1);
}

TEST_F(WsTest, SendBeyondTheQueueLimitClosesWithPolicyError) {
  HttpLimits limits;
  limits.max_ws_queue_bytes = 1000;
  start(limits);
  WsClient client;
  auto connection = open(client);
  ASSERT_NE(connection, nullptr);
  connection->send(std::string(400, 'a'));
  connection->send(std::string(400, 'b'));
  connection->send(std::string(2000, 'c'));  // beyond the limit: the connection closes instead
  auto [ec, count] = client.read_until_error(10);
  EXPECT_EQ(ec, websocket::error::closed) << ec.message();
  EXPECT_LE(count, 2);
  EXPECT_EQ(client.reason().code, websocket::close_code::policy_error);
  EXPECT_EQ(log_.wait_closed(1), 1);
  EXPECT_EQ(log_.closed_calls(connection), 1);
}

TEST_F(WsTest, ClientThatNeverReadsIsClosed) {
  HttpLimits limits;
  limits.max_ws_queue_bytes = 64 * 1024;
  limits.read_timeout_s = 1;  // bounds the close handshake with a peer that does not read
  start(limits);
  WsClient client;
  auto connection = open(client);
  ASSERT_NE(connection, nullptr);
  // Far more than the limit plus what the kernel's socket buffers can hold.
  constexpr std::size_t kChunk = 16 * 1024;
  constexpr int kMaxSends = 16 * 1024;  // 256 MiB
  const std::string chunk(kChunk, 'x');
  for (int i = 0; i < kMaxSends && log_.closed_total() == 0; ++i) connection->send(chunk);
  EXPECT_EQ(log_.wait_closed(1), 1);
  EXPECT_EQ(log_.closed_calls(connection), 1);
  auto [ec, count] = client.read_until_error(kMaxSends);
  EXPECT_TRUE(ec) << "the client read " << count << " messages and the connection is still open";
}

TEST_F(WsTest, OversizedClientMessageClosesTheConnection) {
  HttpLimits limits;
  limits.max_ws_frame_bytes = 1024;
  start(limits);
  WsClient client;
  auto connection = open(client);
  ASSERT_NE(connection, nullptr);
  EXPECT_FALSE(client.write(std::string(4096, 'z')));
  auto [ec, count] = client.read_until_error(10);
  // The server sends 1009 and closes. Beast's server teardown may close the socket before the rest of
  // the oversized frame is read, so the client can see a reset or broken pipe instead of the close frame.
  EXPECT_TRUE(ec);
  EXPECT_EQ(count, 0);
  if (ec == websocket::error::closed) {
    EXPECT_EQ(client.reason().code, websocket::close_code::too_big);
  }
  EXPECT_EQ(log_.wait_closed(1), 1);
  EXPECT_EQ(log_.closed_calls(connection), 1);
}

TEST_F(WsTest, ClientMessagesWithinTheLimitAreDropped) {
  HttpLimits limits;
  limits.max_ws_frame_bytes = 1024;
  start(limits);
  WsClient client;
  auto connection = open(client);
  ASSERT_NE(connection, nullptr);
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(client.write(std::string(1024, 'k')));
  EXPECT_FALSE(client.close());  // a clean close handshake: the connection was still open
  EXPECT_EQ(client.reason().code, websocket::close_code::normal);
  EXPECT_EQ(log_.wait_closed(1), 1);
}

TEST_F(WsTest, NonUpgradeRequestsGoToTheHandler) {
  start();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"GET /api/events HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "handled /api/events"},
      // "Upgrade: websocket" without "Connection: upgrade" is not an upgrade request.
      {"GET /api/events HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: close\r\n\r\n",
       "handled /api/events"},
      {"GET /api/v1/info HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "handled /api/v1/info"},
  };
  for (const auto& [request, body] : cases) {
    SCOPED_TRACE(request);
    auto [status_line, received_body] = raw_exchange(port_, request);
    EXPECT_EQ(status_line, "HTTP/1.1 200 OK");
    EXPECT_EQ(received_body, body);
  }
  EXPECT_EQ(log_.opened_count(), 0u);
}

TEST_F(WsTest, ServerPingsAnIdleClient) {
  HttpLimits limits;
  limits.ws_ping_interval_s = 1;
  start(limits);
  WsClient client;
  auto connection = open(client);
  ASSERT_NE(connection, nullptr);
  EXPECT_TRUE(client.wait_for_ping());
}

TEST_F(WsTest, SilentClientIsClosedAfterUnansweredPings) {
  HttpLimits limits;
  limits.ws_ping_interval_s = 1;
  start(limits);
  WsClient client;  // never reads, so never answers a ping
  auto connection = open(client);
  ASSERT_NE(connection, nullptr);
  EXPECT_EQ(log_.wait_closed(1), 1);
  EXPECT_EQ(log_.closed_calls(connection), 1);
}

TEST_F(WsTest, StopClosesOpenWebSocketsAndTheIoContextFinishes) {
  start();
  WsClient first;
  WsClient second;
  auto a = open(first, 0);
  auto b = open(second, 1);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  server_->stop();
  // `closed` has been called for both before stop() returned.
  EXPECT_EQ(log_.closed_calls(a), 1);
  EXPECT_EQ(log_.closed_calls(b), 1);
  for (auto& runner : runners_) EXPECT_EQ(runner.wait_for(kGuard), std::future_status::ready);
  auto [ec, text] = first.read();
  EXPECT_TRUE(ec);
  a->send("after stop");  // no effect, no crash
  EXPECT_EQ(log_.closed_total(), 2);
}

}  // namespace
}  // namespace mailjar::http
