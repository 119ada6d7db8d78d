// http::Server over real sockets: a Server on 127.0.0.1:0 in an io_context run by two threads, and a
// blocking POSIX client that writes raw bytes and parses the responses.
#include "http/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace mailjar::http {
namespace {

using namespace std::chrono_literals;

struct ClientResponse {
  int status = 0;
  std::string reason;
  std::map<std::string, std::string> headers;  // lower-cased names
  std::string body;
};

// A blocking HTTP/1.1 client on a raw socket; every read times out after 5 s so a bug cannot hang.
class Client {
 public:
  explicit Client(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~Client() { ::close(fd_); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool connected() const { return connected_; }

  bool send(const std::string& data) {
    std::size_t sent = 0;
    while (sent < data.size()) {
      const ssize_t n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<std::size_t>(n);
    }
    return true;
  }

  // Reads one response (body by Content-Length; none for HEAD). nullopt on EOF, reset or timeout.
  std::optional<ClientResponse> read_response(bool head = false) {
    std::size_t header_end;
    while ((header_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) return std::nullopt;
    }
    ClientResponse response;
    const std::string head_block = buffer_.substr(0, header_end);
    buffer_.erase(0, header_end + 4);
    std::size_t line_end = head_block.find("\r\n");
    const std::string status_line = head_block.substr(0, line_end);
    // "HTTP/1.1 200 OK"
    if (status_line.size() < 12) return std::nullopt;
    response.status = std::stoi(status_line.substr(9, 3));
    response.reason = status_line.size() > 13 ? status_line.substr(13) : "";
    while (line_end != std::string::npos) {
      const std::size_t start = line_end + 2;
      line_end = head_block.find("\r\n", start);
      const std::string line =
          head_block.substr(start, line_end == std::string::npos ? std::string::npos : line_end - start);
      const auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      response.headers[name] = value;
    }
    std::size_t length = 0;
    if (auto it = response.headers.find("content-length"); it != response.headers.end()) {
      length = std::stoul(it->second);
    }
    if (head) length = 0;
    while (buffer_.size() < length) {
      if (!fill()) return std::nullopt;
    }
    response.body = buffer_.substr(0, length);
    buffer_.erase(0, length);
    return response;
  }

  // True when the peer closes the connection (EOF or reset) with no further bytes before the timeout.
  bool sees_close() {
    if (!buffer_.empty()) return false;
    char c;
    const ssize_t n = ::recv(fd_, &c, 1, 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
  }

  void shutdown_write() { ::shutdown(fd_, SHUT_WR); }

 private:
  bool fill() {
    char chunk[4096];
    const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
  std::string buffer_;
};

std::string get(const std::string& target, const std::string& extra_headers = "") {
  return "GET " + target + " HTTP/1.1\r\nHost: localhost\r\n" + extra_headers + "\r\n";
}

// Echoes what the server handed to the handler, so tests can check the conversion.
Response echo(const Request& request) {
  Response response;
  response.content_type = "text/plain";
  response.body = request.method + " " + request.target + "\n";
  for (const auto& [name, value] : request.headers) response.body += name + "=" + value + "\n";
  response.body += "body=" + request.body;
  return response;
}

class ServerTest : public testing::Test {
 protected:
  void start(HttpLimits limits, Handler handler) {
    server_ = std::make_unique<Server>(io_, limits, std::move(handler));
    auto port = server_->listen("127.0.0.1", 0);
    ASSERT_TRUE(port.ok()) << port.error().message;
    port_ = *port;
    ASSERT_NE(port_, 0);
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
  }

  void start_echo(HttpLimits limits = {}) {
    start(limits, [](Request request, std::function<void(Response)> reply) { reply(echo(request)); });
  }

  void TearDown() override {
    if (server_) server_->stop();
    for (auto& t : helpers_) t.join();
    server_.reset();
    io_.stop();
    for (auto& t : threads_) t.join();
  }

  boost::asio::io_context io_;
  std::unique_ptr<Server> server_;
  uint16_t port_ = 0;
  std::vector<std::thread> threads_;
  std::vector<std::thread> helpers_;  // handler threads, joined before the server goes away
  std::mutex helpers_mu_;
};

TEST_F(ServerTest, KeepAliveServesTwoRequestsOnOneConnection) {
  start_echo();
  Client client(port_);
  ASSERT_TRUE(client.connected());

  ASSERT_TRUE(client.send(get("/first?a=1", "X-Custom-Header: Value One\r\n")));
  auto first = client.read_response();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->status, 200);
  EXPECT_EQ(first->headers["server"], "mailjar");
  EXPECT_EQ(first->headers["content-type"], "text/plain");
  EXPECT_NE(first->headers["connection"], "close");
  EXPECT_NE(first->body.find("GET /first?a=1\n"), std::string::npos) << first->body;
  EXPECT_NE(first->body.find("x-custom-header=Value One\n"), std::string::npos) << first->body;
  EXPECT_NE(first->body.find("host=localhost\n"), std::string::npos) << first->body;

  const std::string post = "POST /second HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
  ASSERT_TRUE(client.send(post));
  auto second = client.read_response();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->status, 200);
  EXPECT_NE(second->body.find("POST /second\n"), std::string::npos) << second->body;
  EXPECT_NE(second->body.find("body=hello"), std::string::npos) << second->body;
}

TEST_F(ServerTest, PipelinedRequestsAreAnsweredInOrder) {
  start_echo();
  Client client(port_);
  ASSERT_TRUE(client.send(get("/one") + get("/two") + get("/three")));
  for (const char* target : {"/one", "/two", "/three"}) {
    auto response = client.read_response();
    ASSERT_TRUE(response.has_value()) << target;
    EXPECT_EQ(response->body.rfind(std::string("GET ") + target + "\n", 0), 0u) << response->body;
  }
}

TEST_F(ServerTest, ChunkedBodyIsDecoded) {
  start_echo();
  Client client(port_);
  ASSERT_TRUE(client.send(
      "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"));
  auto response = client.read_response();
  ASSERT_TRUE(response.has_value());
  EXPECT_NE(response->body.find("body=abcde"), std::string::npos) << response->body;
}

TEST_F(ServerTest, OversizedBodyGets413ThenClose) {
  HttpLimits limits;
  limits.max_body_bytes = 1024;
  start_echo(limits);
  Client client(port_);
  ASSERT_TRUE(client.send("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" +
                          std::string(5000, 'x')));
  auto response = client.read_response();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 413);
  EXPECT_EQ(response->headers["connection"], "close");
  EXPECT_EQ(response->headers["content-type"], "application/json");
  EXPECT_EQ(response->body, R"({"Code":"payload_too_large","Error":"request body too large"})");
  EXPECT_TRUE(client.sees_close());
}

TEST_F(ServerTest, OversizedChunkedBodyGets413) {
  HttpLimits limits;
  limits.max_body_bytes = 10;
  start_echo(limits);
  Client client(port_);
  ASSERT_TRUE(
      client.send("POST /u HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n"
                  "8\r\n12345678\r\n0\r\n\r\n"));
  auto response = client.read_response();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 413);
  EXPECT_TRUE(client.sees_close());
}

TEST_F(ServerTest, BodyAtTheLimitIsAccepted) {
  HttpLimits limits;
  limits.max_body_bytes = 16;
  start_echo(limits);
  Client client(port_);
  ASSERT_TRUE(client.send("POST /u HTTP/1.1\r\nHost: x\r\nContent-Length: 16\r\n\r\n0123456789abcdef"));
  auto response = client.read_response();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  EXPECT_NE(response->body.find("body=0123456789abcdef"), std::string::npos);
}

TEST_F(ServerTest, GarbageGets400ThenClose) {
  start_echo();
  for (const std::string& garbage :
       {std::string("\x01\x02\x03 not http at all\r\n\r\n"), std::string("GET /x HTTP/9.9\r\n\r\n"),
        std::string("GET /x HTTP/1.1\r\nBad Header Without Colon\r\n\r\n"),
        std::string("POST /x HTTP/1.1\r\nContent-Length: abc\r\n\r\n")}) {
    Client client(port_);
    ASSERT_TRUE(client.send(garbage));
    auto response = client.read_response();
    ASSERT_TRUE(response.has_value()) << garbage;
    EXPECT_EQ(response->status, 400) << garbage;
    EXPECT_EQ(response->headers["connection"], "close");
    EXPECT_EQ(response->body, R"({"Code":"bad_request","Error":"malformed HTTP request"})");
    EXPECT_TRUE(client.sees_close()) << garbage;
  }
}

TEST_F(ServerTest, OversizedHeaderGets431ThenClose) {
  HttpLimits limits;
  limits.max_header_bytes = 512;
  start_echo(limits);
  Client client(port_);
  ASSERT_TRUE(client.send(get("/x", "X-Big: " + std::string(2000, 'a') + "\r\n")));
  auto response = client.read_response();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 431);
  EXPECT_TRUE(client.sees_close());
}

TEST_F(ServerTest, HandlerMayReplyFromAnotherThread) {
  std::atomic<std::thread::id> reply_thread;
  start(HttpLimits{}, [this, &reply_thread](Request request, std::function<void(Response)> reply) {
    std::lock_guard lock(helpers_mu_);
    helpers_.emplace_back([request = std::move(request), reply = std::move(reply), &reply_thread] {
      std::this_thread::sleep_for(30ms);
      reply_thread = std::this_thread::get_id();
      Response response = echo(request);
      response.status = 201;
      reply(std::move(response));
    });
  });
  Client client(port_);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(client.send(get("/async/" + std::to_string(i))));
    auto response = client.read_response();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->status, 201);
    EXPECT_EQ(response->body.rfind("GET /async/" + std::to_string(i) + "\n", 0), 0u);
  }
  EXPECT_NE(reply_thread.load(), std::thread::id{});
  EXPECT_NE(reply_thread.load(), std::this_thread::get_id());
}

TEST_F(ServerTest, ManyConcurrentClientsWithRepliesFromOtherThreads) {
  start(HttpLimits{}, [this](Request request, std::function<void(Response)> reply) {
    std::lock_guard lock(helpers_mu_);
    helpers_.emplace_back([request = std::move(request), reply = std::move(reply)] { reply(echo(request)); });
  });
  constexpr int kClients = 8;
  constexpr int kRequests = 10;
  std::atomic<int> ok{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      Client client(port_);
      for (int r = 0; r < kRequests; ++r) {
        const std::string target = "/c" + std::to_string(c) + "/r" + std::to_string(r);
        if (!client.send(get(target))) return;
        auto response = client.read_response();
        if (response && response->status == 200 && response->body.rfind("GET " + target + "\n", 0) == 0) ++ok;
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok.load(), kClients * kRequests);
}

TEST_F(ServerTest, HeadSendsHeadersWithoutBody) {
  start_echo();
  Client client(port_);
  ASSERT_TRUE(client.send("HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto head = client.read_response(/*head=*/true);
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->status, 200);
  const std::string expected_body = "HEAD /h\nhost=x\nbody=";
  EXPECT_EQ(head->headers["content-length"], std::to_string(expected_body.size()));
  // If the server had sent a body, it would be read here as the start of the next response.
  ASSERT_TRUE(client.send(get("/after")));
  auto next = client.read_response();
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->status, 200);
  EXPECT_EQ(next->body.rfind("GET /after\n", 0), 0u);
}

TEST_F(ServerTest, Http10ClosesAfterResponseUnlessKeepAlive) {
  start_echo();
  {
    Client client(port_);
    ASSERT_TRUE(client.send("GET /old HTTP/1.0\r\n\r\n"));
    auto response = client.read_response();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->status, 200);
    EXPECT_TRUE(client.sees_close());
  }
  {
    Client client(port_);
    ASSERT_TRUE(client.send("GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    auto response = client.read_response();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->headers["connection"], "keep-alive");
    ASSERT_TRUE(client.send("GET /again HTTP/1.0\r\n\r\n"));
    auto again = client.read_response();
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(again->body.rfind("GET /again\n", 0), 0u);
    EXPECT_TRUE(client.sees_close());
  }
}

TEST_F(ServerTest, ConnectionCloseIsHonoured) {
  start_echo();
  Client client(port_);
  ASSERT_TRUE(client.send(get("/bye", "Connection: close\r\n")));
  auto response = client.read_response();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->headers["connection"], "close");
  EXPECT_TRUE(client.sees_close());
}

TEST_F(ServerTest, HandlerHeadersAreSentAndInjectionIsDropped) {
  start(HttpLimits{}, [](Request, std::function<void(Response)> reply) {
    Response response;
    response.status = 405;
    response.headers = {{"Allow", "GET, HEAD"}, {"X-Evil", "a\r\nSet-Cookie: x=1"}, {"Bad Name", "v"}};
    response.body = "{}";
    reply(std::move(response));
  });
  Client client(port_);
  ASSERT_TRUE(client.send(get("/x")));
  auto response = client.read_response();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 405);
  EXPECT_EQ(response->headers["allow"], "GET, HEAD");
  EXPECT_EQ(response->headers["content-type"], "application/json");
  EXPECT_EQ(response->headers.count("x-evil"), 0u);
  EXPECT_EQ(response->headers.count("set-cookie"), 0u);
  EXPECT_EQ(response->body, "{}");
}

TEST_F(ServerTest, DroppedReplyBecomes500) {
  start(HttpLimits{}, [](Request, std::function<void(Response)>) {});
  Client client(port_);
  ASSERT_TRUE(client.send(get("/dropped")));
  auto response = client.read_response();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 500);
  EXPECT_NE(response->body.find(R"("Code":"internal")"), std::string::npos);
}

TEST_F(ServerTest, ThrowingHandlerBecomes500AndConnectionSurvives) {
  start(HttpLimits{}, [](Request request, std::function<void(Response)> reply) {
    if (request.target == "/throw") throw std::runtime_error("boom");
    reply(echo(request));
  });
  Client client(port_);
  ASSERT_TRUE(client.send(get("/throw")));
  auto response = client.read_response();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 500);
  EXPECT_NE(response->body.find("boom"), std::string::npos);
  ASSERT_TRUE(client.send(get("/fine")));
  auto fine = client.read_response();
  ASSERT_TRUE(fine.has_value());
  EXPECT_EQ(fine->status, 200);
}

TEST_F(ServerTest, SecondReplyIsIgnored) {
  start(HttpLimits{}, [](Request request, std::function<void(Response)> reply) {
    reply(echo(request));
    Response stale;
    stale.status = 418;
    reply(std::move(stale));
  });
  Client client(port_);
  ASSERT_TRUE(client.send(get("/a")));
  auto a = client.read_response();
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->status, 200);
  ASSERT_TRUE(client.send(get("/b")));
  auto b = client.read_response();
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->status, 200);
  EXPECT_EQ(b->body.rfind("GET /b\n", 0), 0u);
}

TEST_F(ServerTest, InvalidStatusFromHandlerBecomes500) {
  start(HttpLimits{}, [](Request, std::function<void(Response)> reply) {
    Response response;
    response.status = 7;
    reply(std::move(response));
  });
  Client client(port_);
  ASSERT_TRUE(client.send(get("/x")));
  auto response = client.read_response();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 500);
}

TEST_F(ServerTest, BeyondMaxConnectionsAnswers503) {
  HttpLimits limits;
  limits.max_connections = 1;
  start_echo(limits);

  auto first = std::make_unique<Client>(port_);
  ASSERT_TRUE(first->send(get("/held")));
  ASSERT_TRUE(first->read_response().has_value());  // the first connection is now being served

  Client second(port_);
  auto rejected = second.read_response();  // answered without sending anything
  ASSERT_TRUE(rejected.has_value());
  EXPECT_EQ(rejected->status, 503);
  EXPECT_EQ(rejected->headers["connection"], "close");
  EXPECT_EQ(rejected->body, R"({"Code":"overloaded","Error":"too many connections"})");
  EXPECT_TRUE(second.sees_close());

  // Once the first connection goes away its slot is free again.
  first.reset();
  bool served = false;
  for (int attempt = 0; attempt < 50 && !served; ++attempt) {
    Client next(port_);
    if (!next.send(get("/again"))) continue;
    auto response = next.read_response();
    served = response.has_value() && response->status == 200;
    if (!served) std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(served);
}

// A kept-alive connection serves its next request, and is closed once it stays idle past read_timeout_s
// (sees_close() gives up after the client's 5 s read timeout).
TEST_F(ServerTest, IdleConnectionTimesOut) {
  HttpLimits limits;
  limits.read_timeout_s = 1;
  start_echo(limits);
  Client client(port_);
  ASSERT_TRUE(client.send(get("/once")));
  ASSERT_TRUE(client.read_response().has_value());
  ASSERT_TRUE(client.send(get("/again")));
  auto again = client.read_response();
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->status, 200);
  EXPECT_TRUE(client.sees_close());
}

TEST_F(ServerTest, SlowRequestTimesOut) {
  HttpLimits limits;
  limits.read_timeout_s = 1;
  start_echo(limits);
  Client client(port_);
  ASSERT_TRUE(client.send("GET /slow HTTP/1.1\r\nHost: x\r\n"));  // never finishes the header
  EXPECT_TRUE(client.sees_close());
}

TEST_F(ServerTest, PeerHalfCloseEndsTheSession) {
  start_echo();
  Client client(port_);
  ASSERT_TRUE(client.send(get("/x")));
  ASSERT_TRUE(client.read_response().has_value());
  client.shutdown_write();
  EXPECT_TRUE(client.sees_close());
}

// A client that half-closes right after its request (nc -N): the server sees the end of stream while the
// handler works, and the reply and that end of stream reach the connection's strand in either order.
// Either way the answer arrives and then the connection closes. Repeated, because the order is up to the
// scheduler; two io threads and a reply from another thread give both orders.
TEST_F(ServerTest, HalfCloseRightAfterTheRequestStillGetsTheAnswerAndTheClose) {
  start(HttpLimits{}, [this](Request request, std::function<void(Response)> reply) {
    if (request.target == "/inline") return reply(echo(request));
    std::lock_guard lock(helpers_mu_);
    helpers_.emplace_back([request = std::move(request), reply = std::move(reply)] { reply(echo(request)); });
  });
  for (int i = 0; i < 100; ++i) {
    for (const std::string target : {"/inline", "/thread"}) {
      Client client(port_);
      ASSERT_TRUE(client.send(get(target)));
      client.shutdown_write();
      auto response = client.read_response();
      ASSERT_TRUE(response.has_value()) << target << " round " << i;
      EXPECT_EQ(response->status, 200);
      ASSERT_TRUE(client.sees_close()) << target << " round " << i;
    }
  }
}

TEST_F(ServerTest, StopClosesListenerAndOpenConnections) {
  start_echo();
  Client open(port_);
  ASSERT_TRUE(open.send(get("/x")));
  ASSERT_TRUE(open.read_response().has_value());

  server_->stop();
  EXPECT_TRUE(open.sees_close());
  Client late(port_);
  EXPECT_FALSE(late.connected());
  // stop() is idempotent and listen() after it is refused.
  server_->stop();
  auto again = server_->listen("127.0.0.1", 0);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, "stopped");
}

TEST_F(ServerTest, HandlerIsNotCalledAfterStop) {
  std::atomic<int> calls{0};
  std::function<void(Response)> parked;
  std::mutex parked_mu;
  start(HttpLimits{}, [&](Request, std::function<void(Response)> reply) {
    ++calls;
    std::lock_guard lock(parked_mu);
    parked = std::move(reply);
  });
  Client client(port_);
  ASSERT_TRUE(client.send(get("/parked")));
  for (int i = 0; i < 100 && calls.load() == 0; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(calls.load(), 1);
  server_->stop();
  EXPECT_TRUE(client.sees_close());
  // A reply after stop() goes nowhere and does not crash.
  std::lock_guard lock(parked_mu);
  parked(Response{});
  parked = nullptr;
  EXPECT_EQ(calls.load(), 1);
}

class ListenTest : public testing::Test {
 protected:
  boost::asio::io_context io_;
  static void noop(Request, std::function<void(Response)> reply) { reply(Response{}); }
};

TEST_F(ListenTest, RejectsHostsThatAreNotLiteralsOrLocalhost) {
  for (const char* host : {"example.com", "", "999.1.1.1", "::1::"}) {
    Server server(io_, HttpLimits{}, noop);
    auto result = server.listen(host, 0);
    ASSERT_FALSE(result.ok()) << host;
    EXPECT_EQ(result.error().code, "invalid_argument") << host;
  }
}

TEST_F(ListenTest, LocalhostAndLiteralsBind) {
  Server a(io_, HttpLimits{}, noop);
  auto pa = a.listen("localhost", 0);
  ASSERT_TRUE(pa.ok()) << pa.error().message;
  EXPECT_NE(*pa, 0);
  Server b(io_, HttpLimits{}, noop);
  auto pb = b.listen("127.0.0.1", 0);
  ASSERT_TRUE(pb.ok()) << pb.error().message;

  Server v6(io_, HttpLimits{}, noop);
  auto p6 = v6.listen("[::1]", 0);
  if (!p6.ok()) GTEST_SKIP() << "no IPv6 loopback here: " << p6.error().message;
  EXPECT_NE(*p6, 0);
}

TEST_F(ListenTest, BusyPortAndSecondListenFail) {
  Server a(io_, HttpLimits{}, noop);
  auto port = a.listen("127.0.0.1", 0);
  ASSERT_TRUE(port.ok());

  Server b(io_, HttpLimits{}, noop);
  auto busy = b.listen("127.0.0.1", *port);
  ASSERT_FALSE(busy.ok());
  EXPECT_EQ(busy.error().code, "io");
  EXPECT_NE(busy.error().message.find(std::to_string(*port)), std::string::npos) << busy.error().message;

  auto twice = a.listen("127.0.0.1", 0);
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.error().code, "conflict");
}

}  // namespace
}  // namespace mailjar::http
