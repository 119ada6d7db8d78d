// NAME
//   http::Server - the HTTP/1.1 listener and per-connection sessions on Boost.Beast, with WebSocket
//   upgrades.
// STANDARDS
//   RFC 9110 (semantics: status codes, HEAD, Allow), RFC 9112 (HTTP/1.1 message syntax, persistent
//   connections, section 9.6 tear-down: half-close then drain before closing), RFC 6455 (WebSocket:
//   opening handshake, close codes 1008 policy violation and 1009 message too big, ping/pong).
// SECURITY
//   Perimeter. Every read is bounded: header bytes (431), body bytes (413), read timeout, connections
//   (503 beyond max_connections). Malformed requests get 400. After an error reply the connection is
//   half-closed and the unread input drained (bounded in bytes and time) so the client sees the reply
//   instead of a reset. Response headers containing CR or LF are dropped (no header injection).
//   WebSocket: the handshake is bounded by read_timeout_s, an incoming message by max_ws_frame_bytes
//   (then 1009 and close), queued outgoing bytes by max_ws_queue_bytes (then 1008 and close), an idle
//   peer by pings every ws_ping_interval_s (no answer within two intervals: closed), and a close
//   handshake (or the flush before it) by read_timeout_s, after which the socket is closed hard. An
//   open WebSocket counts as a connection for max_connections.
// SHAPE
//   Beast's example/advanced/server: an acceptor, a strand per connection, shared_from_this, do_x/on_x
//   pairs whose first line checks the error, one write in flight, one request in flight. An accepted
//   upgrade moves the socket from the HTTP Session to a WsSession on the same strand.
// LIFETIME
//   After stop() returns no handler call is running or will start (so the handler must not call stop()
//   itself). A reply callback keeps its connection alive until it is called or destroyed, and posts to
//   the io_context: workers holding reply callbacks must be done before the io_context is destroyed.
//   A callback destroyed without being called answers 500; a second call is ignored.
//   The same holds for the WebSocket hooks: stop() waits for check/opened calls in progress, closes every
//   open WebSocket and calls `closed` for it before returning; after that no hook runs. A WsConnection
//   handle holds its session weakly, so an application keeping it does not keep the socket.
#include "http/server.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/error.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <chrono>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <unordered_map>
#include <utility>

#include "core/ascii.h"
#include "http/json.h"

namespace mailjar::http {

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace websocket = boost::beast::websocket;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

constexpr std::string_view kServerName = "mailjar";
// After an error reply (or Connection: close) the session drains unread input for at most this long
// and this many bytes before closing, so the peer reads the reply rather than a TCP reset.
constexpr auto kLingerTimeout = std::chrono::seconds(2);
constexpr std::size_t kLingerMaxBytes = 1 << 20;
constexpr std::size_t kLingerChunk = 4096;
// How much of a pipelined next request the watch read (see Session::do_watch) takes at a time.
constexpr std::size_t kWatchChunk = 4096;
// Pause before accepting again after an accept error (e.g. EMFILE), so the loop does not spin.
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(50);

class Session;
class WsSession;

// Owns the acceptor and knows every live session. Shared by the sessions (they outlive Server when
// they are still draining), so Server's destructor only stops it.
class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(net::io_context& io, HttpLimits limits, Handler handler, WsHooks ws)
      : io_(io),
        limits_(limits),
        handler_(std::move(handler)),
        ws_(std::move(ws)),
        acceptor_(net::make_strand(io)),
        retry_timer_(acceptor_.get_executor()) {}

  core::Result<uint16_t> listen(const std::string& host, uint16_t port);
  void stop();

  const HttpLimits& limits() const { return limits_; }

  // Calls the handler unless the server has stopped; false when it was not called. Holding the shared
  // lock across the call is what lets stop() promise that no handler call runs after it returns.
  bool invoke(Request request, std::function<void(Response)> reply) {
    std::shared_lock lock(handler_mu_);
    if (stopped_.load()) return false;
    handler_(std::move(request), std::move(reply));
    return true;
  }

  // Called by a session's destructor.
  void remove(Session* session, bool counted) {
    std::lock_guard lock(mu_);
    sessions_.erase(session);
    (counted ? active_ : rejecting_) -= 1;
  }

  // The outcome of WsHooks::check for an upgrade request.
  struct Upgrade {
    enum class Kind { accept, refuse, stopped } kind = Kind::accept;
    Response refusal;  // for refuse
  };
  Upgrade check_upgrade(const Request& request);

  // Registers an accepted WebSocket (counted as a connection until release()); false once stopped.
  bool adopt(const std::shared_ptr<WsSession>& session);
  void release(WsSession* session);

  // Calls WsHooks::opened unless stopped; `opened` is set just before the hook runs. False when the
  // server stopped or the hook threw (the connection is then closed).
  bool ws_opened(const Request& request, const std::shared_ptr<WsConnection>& connection, bool& opened);
  void ws_closed(const std::shared_ptr<WsConnection>& connection);

 private:
  void do_accept();  // requires mu_
  void on_accept(error_code ec, tcp::socket socket);
  void on_retry(error_code ec);

  net::io_context& io_;
  const HttpLimits limits_;
  const Handler handler_;
  const WsHooks ws_;
  std::shared_mutex handler_mu_;  // shared: a handler or check/opened hook call; exclusive: stop()
  std::atomic<bool> stopped_{false};

  std::mutex mu_;  // guards everything below; acceptor operations are serialized by it
  tcp::acceptor acceptor_;
  net::steady_timer retry_timer_;
  bool listening_ = false;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions_;
  // Open WebSockets, held strongly until they end (or stop() takes them) so that stop() reaches each
  // one whose `closed` hook may still be due.
  std::unordered_map<WsSession*, std::shared_ptr<WsSession>> ws_sessions_;
  int active_ = 0;     // sessions serving requests (bounded by max_connections)
  int rejecting_ = 0;  // sessions answering 503 (bounded by max_connections too)
};

// The reply callback's shared state: delivers exactly one response to the session's strand. If the
// handler drops the callback without calling it, the client still gets a 500.
class ReplyState {
 public:
  explicit ReplyState(std::shared_ptr<Session> session) : session_(std::move(session)) {}
  ~ReplyState();
  ReplyState(const ReplyState&) = delete;
  ReplyState& operator=(const ReplyState&) = delete;

  void deliver(Response response);

 private:
  std::shared_ptr<Session> session_;
  std::atomic<bool> replied_{false};
};

// One open WebSocket. Everything but send(), close(), shut() and notify_closed() runs on the strand.
// States: handshake -> open -> closing (close frame pending, queue flushing) -> done; done is final and
// reached exactly once (finish()), which closes the socket, reports `closed` and unregisters.
class WsSession : public std::enable_shared_from_this<WsSession> {
 public:
  WsSession(tcp::socket&& socket, std::shared_ptr<Listener> listener, Request request)
      : ws_(std::move(socket)),
        executor_(ws_.get_executor()),
        close_timer_(executor_),
        listener_(std::move(listener)),
        request_(std::move(request)) {}

  // Starts the handshake; on the strand.
  void run(bhttp::request<bhttp::string_body> upgrade);

  // Any thread. Ignored unless open; over the queue limit closes with 1008 instead.
  void send(std::string text) {
    if (!accepting_sends_.load()) return;
    const std::size_t size = text.size();
    if (queued_bytes_.fetch_add(size) + size > listener_->limits().max_ws_queue_bytes) {
      return close(websocket::close_code::policy_error, /*flush=*/false);
    }
    net::post(executor_, [self = shared_from_this(), text = std::move(text)]() mutable {
      self->on_send(std::move(text));
    });
  }

  // Any thread. Starts the close handshake with `code`, after the queued frames when `flush`.
  void close(websocket::close_code code, bool flush) {
    if (!accepting_sends_.exchange(false)) return;
    net::post(executor_, [self = shared_from_this(), code, flush] { self->do_close(code, flush); });
  }

  // Any thread: closes the socket now (server stopping).
  void shut() {
    accepting_sends_.store(false);
    net::dispatch(executor_, [self = shared_from_this()] { self->finish(); });
  }

  // Any thread. Calls `closed` if `opened` was called and `closed` was not; returns once that call (by
  // whichever thread makes it) has finished.
  void notify_closed() {
    std::lock_guard lock(notify_mu_);
    accepting_sends_.store(false);
    if (!opened_ || closed_notified_) return;
    closed_notified_ = true;
    listener_->ws_closed(handle_);
  }

 private:
  enum class State { handshake, open, closing, done };

  void on_accept(error_code ec) {
    upgrade_ = {};
    if (state_ == State::done) return;
    if (ec) return finish();  // bad handshake (Beast answered it), timeout, reset or stop()
    state_ = State::open;
    accepting_sends_.store(true);
    bool opened = false;
    {
      std::lock_guard lock(notify_mu_);
      opened = listener_->ws_opened(request_, handle_, opened_);
    }
    request_ = {};  // an idle WebSocket keeps no request around
    if (!opened) return finish();
    do_read();
  }

  // Reads continuously so that pings, pongs and the peer's close are processed; data is dropped.
  void do_read() {
    ws_.async_read(read_buffer_, beast::bind_front_handler(&WsSession::on_read, shared_from_this()));
  }

  void on_read(error_code ec, std::size_t /*bytes*/) {
    if (state_ == State::done) return;
    if (ec) return finish();  // closed by the peer, too big (1009 sent), timeout, reset or stop()
    read_buffer_.consume(read_buffer_.size());
    do_read();
  }

  void on_send(std::string text) {
    if (state_ != State::open) {
      queued_bytes_.fetch_sub(text.size());
      return;
    }
    queue_.push_back(std::move(text));
    if (!writing_) do_write();
  }

  void do_write() {
    writing_ = true;
    ws_.async_write(net::buffer(queue_.front()),
                    beast::bind_front_handler(&WsSession::on_write, shared_from_this()));
  }

  void on_write(error_code ec, std::size_t /*bytes*/) {
    writing_ = false;
    if (state_ == State::done) return;
    if (ec) return finish();
    queued_bytes_.fetch_sub(queue_.front().size());
    queue_.pop_front();
    if (!queue_.empty()) return do_write();
    if (state_ == State::closing) start_close();
  }

  void do_close(websocket::close_code code, bool flush) {
    if (state_ != State::open) return;
    state_ = State::closing;
    close_code_ = code;
    if (!flush) queue_.erase(queue_.begin() + (writing_ ? 1 : 0), queue_.end());
    // One deadline for the flush and the close handshake: a peer that does not read or answer is cut.
    close_timer_.expires_after(std::chrono::seconds(listener_->limits().read_timeout_s));
    close_timer_.async_wait([self = shared_from_this()](error_code timer_ec) {
      if (!timer_ec) self->finish();
    });
    if (!writing_) start_close();
  }

  void start_close() {
    // Not open: the peer's close is being answered by the pending read, whose completion finishes.
    if (!ws_.is_open()) return;
    ws_.async_close(close_code_, beast::bind_front_handler(&WsSession::on_close, shared_from_this()));
  }

  void on_close(error_code /*ec*/) { finish(); }

  void finish() {
    if (state_ == State::done) return;
    state_ = State::done;
    accepting_sends_.store(false);
    close_timer_.cancel();
    queue_.clear();
    auto& lowest = beast::get_lowest_layer(ws_);
    error_code ignored;
    lowest.socket().shutdown(tcp::socket::shutdown_both, ignored);
    lowest.close();  // pending operations complete with an error and find the state done
    notify_closed();
    listener_->release(this);
  }

  websocket::stream<beast::tcp_stream> ws_;
  const net::any_io_executor executor_;  // the connection's strand; a copy, so other threads may use it
  net::steady_timer close_timer_;
  std::shared_ptr<Listener> listener_;
  Request request_;                             // the upgrade request, for `opened`
  bhttp::request<bhttp::string_body> upgrade_;  // the same, as Beast's handshake reads it
  std::shared_ptr<WsConnection> handle_;        // what the hooks see
  beast::flat_buffer read_buffer_;
  std::deque<std::string> queue_;  // outgoing frames; the front is in flight while writing_
  bool writing_ = false;
  State state_ = State::handshake;
  websocket::close_code close_code_ = websocket::close_code::normal;
  std::atomic<bool> accepting_sends_{false};  // open and no close requested
  std::atomic<std::size_t> queued_bytes_{0};  // accepted by send() and not yet written
  std::mutex notify_mu_;                      // serializes the opened/closed hook calls of this session
  bool opened_ = false;                       // guarded by notify_mu_
  bool closed_notified_ = false;              // guarded by notify_mu_
};

// The application's handle: holds the session weakly, so it is a no-op once the session has ended.
class WsHandle final : public WsConnection {
 public:
  explicit WsHandle(std::weak_ptr<WsSession> session) : session_(std::move(session)) {}
  void send(std::string text) override {
    if (auto session = session_.lock()) session->send(std::move(text));
  }
  void close() override {
    if (auto session = session_.lock()) session->close(websocket::close_code::normal, /*flush=*/true);
  }

 private:
  const std::weak_ptr<WsSession> session_;
};

void WsSession::run(bhttp::request<bhttp::string_body> upgrade) {
  const HttpLimits& limits = listener_->limits();
  beast::get_lowest_layer(ws_).expires_never();  // the websocket stream has its own timeouts
  websocket::stream_base::timeout timeouts{};
  timeouts.handshake_timeout = std::chrono::seconds(limits.read_timeout_s);
  if (limits.ws_ping_interval_s > 0) {
    // Beast pings after half the idle timeout and closes when the second half passes in silence too.
    timeouts.idle_timeout = std::chrono::seconds(2 * static_cast<int64_t>(limits.ws_ping_interval_s));
    timeouts.keep_alive_pings = true;
  } else {
    timeouts.idle_timeout = websocket::stream_base::none();
    timeouts.keep_alive_pings = false;
  }
  ws_.set_option(timeouts);
  ws_.set_option(websocket::stream_base::decorator(
      [](websocket::response_type& res) { res.set(bhttp::field::server, kServerName); }));
  ws_.read_message_max(limits.max_ws_frame_bytes);
  ws_.text(true);
  handle_ = std::make_shared<WsHandle>(weak_from_this());
  upgrade_ = std::move(upgrade);
  ws_.async_accept(upgrade_, beast::bind_front_handler(&WsSession::on_accept, shared_from_this()));
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, std::shared_ptr<Listener> listener, bool counted)
      : stream_(std::move(socket)), listener_(std::move(listener)), counted_(counted) {}

  ~Session() { listener_->remove(this, counted_); }

  // Starts serving requests.
  void run() {
    net::dispatch(stream_.get_executor(), beast::bind_front_handler(&Session::do_read, shared_from_this()));
  }

  // Answers 503 without reading a request, then closes.
  void reject() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      self->send(error_response(503, "too many connections", "overloaded"), /*force_close=*/true);
    });
  }

  // Closes the connection now (server stopping); any pending operation completes with an error.
  void shut() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      error_code ignored;
      self->stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
      self->stream_.close();
    });
  }

  // Called on any thread with the handler's response.
  void post_reply(Response response) {
    net::post(stream_.get_executor(), [self = shared_from_this(), r = std::move(response)]() mutable {
      self->on_reply(std::move(r));
    });
  }

 private:
  std::chrono::seconds timeout() const { return std::chrono::seconds(listener_->limits().read_timeout_s); }

  void do_read() {
    awaiting_request_ = true;
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(listener_->limits().max_header_bytes));
    parser_->body_limit(static_cast<std::uint64_t>(listener_->limits().max_body_bytes));
    stream_.expires_after(timeout());
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             beast::bind_front_handler(&Session::on_header, shared_from_this()));
  }

  // RFC 9110 10.1.1: a client that sent "Expect: 100-continue" waits for "100 Continue" before the body
  // (curl does, for bodies over 1 KiB, for up to a second). It is sent once the header is read and
  // acceptable; a body over the limit has already failed here (Content-Length) and gets its 413 instead.
  void on_header(error_code ec, std::size_t bytes) {
    if (ec || parser_->is_done()) return on_read(ec, bytes);  // an error, or a request without a body
    const auto& header = parser_->get();
    if (const auto& route_limit = listener_->limits().body_limit) {
      const std::size_t limit =
          std::min(listener_->limits().max_body_bytes, route_limit(header.method_string(), header.target()));
      const boost::optional<std::uint64_t> length = parser_->content_length();
      if (length && *length > limit) return on_read(bhttp::error::body_limit, bytes);
      parser_->body_limit(static_cast<std::uint64_t>(limit));  // bounds each chunk of a chunked body
    }
    if (header.version() >= 11 &&
        core::ascii_iequals(header[bhttp::field::expect], "100-continue")) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      net::async_write(stream_, net::buffer(kContinue.data(), kContinue.size()),
                       beast::bind_front_handler(&Session::on_continue, shared_from_this()));
      return;
    }
    read_body();
  }

  void on_continue(error_code ec, std::size_t /*bytes*/) {
    if (ec) return;  // timeout (the stream is closed), reset, or aborted by stop()
    read_body();
  }

  void read_body() {
    bhttp::async_read(stream_, buffer_, *parser_,
                      beast::bind_front_handler(&Session::on_read, shared_from_this()));
  }

  void on_read(error_code ec, std::size_t /*bytes*/) {
    awaiting_request_ = false;
    if (ec == bhttp::error::end_of_stream) {
      peer_finished_ = true;
      return do_close();
    }
    if (ec == bhttp::error::body_limit) {
      return send(error_response(413, "request body too large", "payload_too_large"), true);
    }
    if (ec == bhttp::error::header_limit) {
      return send(error_response(431, "request header fields too large", "headers_too_large"), true);
    }
    if (ec == bhttp::error::partial_message) return do_close();  // the peer closed mid-request
    if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category()) {
      return send(error_response(400, "malformed HTTP request", "bad_request"), true);
    }
    if (ec) return;  // timeout (the stream is closed), reset, or aborted by stop()

    bhttp::request<bhttp::string_body> message = parser_->release();
    parser_.reset();
    version_ = message.version();
    keep_alive_ = message.keep_alive();
    head_ = message.method() == bhttp::verb::head;

    Request request;
    request.method = std::string(message.method_string());
    request.target = std::string(message.target());
    for (const auto& field : message) {
      std::string name(field.name_string());
      for (char& c : name) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      }
      request.headers.emplace_back(std::move(name), std::string(field.value()));
    }
    request.body = std::move(message.body());

    // While the handler works the only I/O is the watch read below (no deadline); the next read or write
    // sets its own.
    stream_.expires_never();
    if (websocket::is_upgrade(message)) return upgrade(std::move(message), std::move(request));
    cancel_ = std::make_shared<CancelSignal>();
    request.cancel = cancel_;
    do_watch();
    auto state = std::make_shared<ReplyState>(shared_from_this());
    try {
      if (!listener_->invoke(std::move(request), [state](Response r) { state->deliver(std::move(r)); })) {
        stream_.close();  // the server stopped
      }
    } catch (const std::exception& e) {
      state->deliver(error_response(500, std::string("internal error: ") + e.what(), "internal"));
    } catch (...) {
      state->deliver(error_response(500, "internal error", "internal"));
    }
  }

  // A WebSocket upgrade: refused with a normal response, or handed over to a WsSession.
  void upgrade(bhttp::request<bhttp::string_body> message, Request request) {
    Listener::Upgrade decision = listener_->check_upgrade(request);
    if (decision.kind == Listener::Upgrade::Kind::stopped) return stream_.close();
    if (decision.kind == Listener::Upgrade::Kind::refuse) return send(std::move(decision.refusal), false);
    auto ws = std::make_shared<WsSession>(stream_.release_socket(), listener_, std::move(request));
    if (!listener_->adopt(ws)) return;  // stopped meanwhile: the socket closes with `ws`
    ws->run(std::move(message));
  }

  // Watches the connection while the handler works: if the client closes it or its sending side (or it
  // breaks), the request's CancelSignal fires; a broken connection is closed at once, a finished one after
  // the answer. Bytes that arrive instead (a pipelined request) are
  // kept in buffer_ for the next read, and watching stops.
  void do_watch() {
    watching_ = true;
    stream_.async_read_some(buffer_.prepare(kWatchChunk),
                            beast::bind_front_handler(&Session::on_watch, shared_from_this()));
  }

  void on_watch(error_code ec, std::size_t bytes) {
    if (!ec) buffer_.commit(bytes);
    if (!watching_) {
      // The reply came first and cancelled the watch, but the watch had already read the client's end of
      // stream (its completion queued behind the reply on the strand). The socket reports an end of
      // stream only once: Asio's edge-triggered reactor waits for a new readiness edge after a read that
      // returned 0 bytes, so a later read would wait until its timeout. Hence it is remembered here: a
      // write in flight closes after it, and a read for the next request already waiting is cancelled,
      // which ends the session and closes the socket.
      if (ec == net::error::eof) {
        peer_finished_ = true;
        if (awaiting_request_) {
          error_code ignored;
          stream_.socket().cancel(ignored);
        }
      }
      return;
    }
    watching_ = false;
    if (!ec) return;
    if (cancel_) cancel_->fire();
    if (ec == net::error::eof) {
      // The client finished sending: a half-close (nc -N, some health checkers), or a close whose answer
      // nobody will read. The request is still answered, then the connection closes; a held wait ends at
      // once through its CancelSignal (499).
      peer_finished_ = true;
      return;
    }
    stream_.close();
  }

  void on_reply(Response response) {
    if (watching_) {
      watching_ = false;
      error_code ignored;
      stream_.socket().cancel(ignored);  // ends the watch read (operation_aborted) before the write starts
    }
    cancel_.reset();
    if (!stream_.socket().is_open()) return;  // closed by stop(), a timeout or the client meanwhile
    send(std::move(response), false);
  }

  // Serializes `response` into the one write in flight. `force_close`: close after it whatever the
  // request asked (error replies).
  void send(Response response, bool force_close) {
    if (response.status < 100 || response.status > 999) {
      response = error_response(500, "handler returned an invalid status", "internal");
    }
    const bool error_path = force_close;
    res_ = {};
    res_.version(error_path ? 11 : version_);
    res_.result(static_cast<unsigned>(response.status));
    res_.set(bhttp::field::server, kServerName);
    res_.set(bhttp::field::content_type, response.content_type);
    for (const auto& [name, value] : response.headers) {
      if (name.empty() || name.find_first_of("\r\n: ") != std::string::npos ||
          value.find_first_of("\r\n") != std::string::npos) {
        continue;
      }
      res_.set(name, value);
    }
    close_after_write_ = force_close || !keep_alive_ || peer_finished_;
    res_.keep_alive(!close_after_write_);
    if (head_ && !error_path) {
      res_.content_length(response.body.size());
    } else {
      res_.body() = std::move(response.body);
      res_.prepare_payload();
    }
    do_write();
  }

  void do_write() {
    stream_.expires_after(timeout());
    bhttp::async_write(stream_, res_, beast::bind_front_handler(&Session::on_write, shared_from_this()));
  }

  void on_write(error_code ec, std::size_t /*bytes*/) {
    if (ec) return;
    res_ = {};
    if (close_after_write_ || peer_finished_) return do_close();
    do_read();
  }

  // Half-closes, then drains what the peer still sends (bounded), then closes; at once when the peer has
  // finished sending (its end of stream would not be reported a second time, see on_watch).
  void do_close() {
    error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec || peer_finished_) {
      stream_.close();
      return;
    }
    linger_buffer_ = std::make_unique<std::array<char, kLingerChunk>>();
    linger_bytes_ = 0;
    stream_.expires_after(kLingerTimeout);  // one deadline for the whole drain
    do_linger();
  }

  void do_linger() {
    stream_.async_read_some(net::buffer(*linger_buffer_),
                            beast::bind_front_handler(&Session::on_linger, shared_from_this()));
  }

  void on_linger(error_code ec, std::size_t bytes) {
    if (ec) {
      stream_.close();  // end of stream, timeout, reset or stop()
      return;
    }
    linger_bytes_ += bytes;
    if (linger_bytes_ > kLingerMaxBytes) {
      stream_.close();
      return;
    }
    do_linger();
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::shared_ptr<CancelSignal> cancel_;  // of the request being answered
  bool watching_ = false;                 // a watch read is pending (see do_watch)
  bool peer_finished_ = false;            // a read saw the client's end of stream
  bool awaiting_request_ = false;         // a read for the next request is pending (do_read to on_read)
  bhttp::response<bhttp::string_body> res_;  // the one write in flight
  std::shared_ptr<Listener> listener_;
  const bool counted_;
  unsigned version_ = 11;
  bool keep_alive_ = false;
  bool head_ = false;
  bool close_after_write_ = false;
  std::unique_ptr<std::array<char, kLingerChunk>> linger_buffer_;
  std::size_t linger_bytes_ = 0;
};

ReplyState::~ReplyState() {
  if (!replied_.load()) {
    session_->post_reply(error_response(500, "the request was dropped without a response", "internal"));
  }
}

void ReplyState::deliver(Response response) {
  if (replied_.exchange(true)) return;  // exactly once: later calls are ignored
  session_->post_reply(std::move(response));
}

// "127.0.0.1", "::1", "[::1]", "localhost" (IPv4 loopback).
std::optional<net::ip::address> parse_host(std::string host) {
  if (host == "localhost") return net::ip::address_v4::loopback();
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  error_code ec;
  net::ip::address address = net::ip::make_address(host, ec);
  if (ec) return std::nullopt;
  return address;
}

core::Result<uint16_t> Listener::listen(const std::string& host, uint16_t port) {
  const std::optional<net::ip::address> address = parse_host(host);
  if (!address) {
    return core::make_error("invalid_argument", "listen host must be an IP literal or localhost: " + host);
  }
  std::lock_guard lock(mu_);
  if (stopped_.load()) return core::make_error("stopped", "the server was stopped");
  if (listening_) return core::make_error("conflict", "the server is already listening");

  const tcp::endpoint endpoint(*address, port);
  const std::string where = (address->is_v6() ? "[" + address->to_string() + "]" : address->to_string()) +
                            ":" + std::to_string(port);
  auto fail = [&](const char* what, const error_code& ec) -> core::Result<uint16_t> {
    error_code ignored;
    acceptor_.close(ignored);
    return core::make_error("io", std::string(what) + " " + where + ": " + ec.message());
  };
  error_code ec;
  acceptor_.open(endpoint.protocol(), ec);
  if (ec) return fail("cannot open a socket for", ec);
  acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (ec) return fail("cannot set SO_REUSEADDR for", ec);
  acceptor_.bind(endpoint, ec);
  if (ec) return fail("cannot bind", ec);
  acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return fail("cannot listen on", ec);
  const tcp::endpoint bound = acceptor_.local_endpoint(ec);
  if (ec) return fail("cannot read the bound address of", ec);

  listening_ = true;
  do_accept();
  return bound.port();
}

Listener::Upgrade Listener::check_upgrade(const Request& request) {
  std::shared_lock lock(handler_mu_);
  if (stopped_.load()) return {Upgrade::Kind::stopped, {}};
  if (!ws_.check) {
    const std::string path = request.target.substr(0, request.target.find('?'));
    return {Upgrade::Kind::refuse,
            error_response(404, "no such route: " + request.method + " " + path, "not_found")};
  }
  try {
    std::optional<Response> refusal = ws_.check(request);
    if (refusal) return {Upgrade::Kind::refuse, std::move(*refusal)};
    return {Upgrade::Kind::accept, {}};
  } catch (const std::exception& e) {
    return {Upgrade::Kind::refuse,
            error_response(500, std::string("internal error: ") + e.what(), "internal")};
  } catch (...) {
    return {Upgrade::Kind::refuse, error_response(500, "internal error", "internal")};
  }
}

bool Listener::adopt(const std::shared_ptr<WsSession>& session) {
  std::lock_guard lock(mu_);
  if (stopped_.load()) return false;
  ws_sessions_.emplace(session.get(), session);
  ++active_;
  return true;
}

void Listener::release(WsSession* session) {
  std::shared_ptr<WsSession> doomed;  // released outside mu_
  std::lock_guard lock(mu_);
  auto it = ws_sessions_.find(session);
  if (it == ws_sessions_.end()) return;  // taken by stop()
  doomed = std::move(it->second);
  ws_sessions_.erase(it);
  --active_;
}

bool Listener::ws_opened(const Request& request, const std::shared_ptr<WsConnection>& connection,
                         bool& opened) {
  std::shared_lock lock(handler_mu_);
  if (stopped_.load()) return false;
  opened = true;
  try {
    if (ws_.opened) ws_.opened(request, connection);
  } catch (...) {
    return false;
  }
  return true;
}

void Listener::ws_closed(const std::shared_ptr<WsConnection>& connection) {
  try {
    if (ws_.closed) ws_.closed(connection);
  } catch (...) {
    // Nothing left to tell: the connection is gone either way.
  }
}

void Listener::stop() {
  {
    // Waits for handler and check/opened calls in progress; none starts afterwards.
    std::unique_lock handler_lock(handler_mu_);
    stopped_.store(true);
  }
  // Closes are queued on the sessions' strands before the acceptor closes, so that an io_context
  // running out of work (its last operation being the accept) still runs them.
  std::vector<std::shared_ptr<Session>> open;
  std::unordered_map<WsSession*, std::shared_ptr<WsSession>> open_ws;
  {
    std::lock_guard lock(mu_);
    for (const auto& [ptr, weak] : sessions_) {
      if (auto session = weak.lock()) open.push_back(std::move(session));
    }
    open_ws.swap(ws_sessions_);  // also breaks the listener <-> session cycle for an abandoned io_context
    active_ -= static_cast<int>(open_ws.size());
  }
  for (const auto& session : open) session->shut();
  for (const auto& [ptr, session] : open_ws) {
    session->shut();
    session->notify_closed();  // here, so that no `closed` call runs after stop() returns
  }
  open.clear();  // a session released here unregisters under mu_, so not while holding it
  open_ws.clear();
  std::lock_guard lock(mu_);
  error_code ignored;
  acceptor_.close(ignored);
  retry_timer_.cancel();
}

void Listener::do_accept() {
  acceptor_.async_accept(net::make_strand(io_),
                         beast::bind_front_handler(&Listener::on_accept, shared_from_this()));
}

void Listener::on_accept(error_code ec, tcp::socket socket) {
  if (ec == net::error::operation_aborted) return;
  std::shared_ptr<Session> session;
  bool serve = false;
  {
    std::lock_guard lock(mu_);
    if (stopped_.load() || !acceptor_.is_open()) return;
    if (ec) {
      // Out of descriptors or a connection reset before accept: try again shortly.
      retry_timer_.expires_after(kAcceptRetryDelay);
      retry_timer_.async_wait(beast::bind_front_handler(&Listener::on_retry, shared_from_this()));
      return;
    }
    if (active_ < limits_.max_connections) {
      session = std::make_shared<Session>(std::move(socket), shared_from_this(), true);
      ++active_;
      serve = true;
    } else if (rejecting_ < limits_.max_connections) {
      session = std::make_shared<Session>(std::move(socket), shared_from_this(), false);
      ++rejecting_;
    }
    // Otherwise the socket is closed on return: even the 503 path is saturated.
    if (session) sessions_.emplace(session.get(), session);
  }
  if (session) serve ? session->run() : session->reject();
  session.reset();  // a session that failed at once unregisters here, outside mu_

  std::lock_guard lock(mu_);
  if (!stopped_.load() && acceptor_.is_open()) do_accept();
}

void Listener::on_retry(error_code ec) {
  if (ec) return;
  std::lock_guard lock(mu_);
  if (!stopped_.load() && acceptor_.is_open()) do_accept();
}

}  // namespace

struct Server::Impl {
  std::shared_ptr<Listener> listener;
};

Server::Server(boost::asio::io_context& io, HttpLimits limits, Handler handler, WsHooks ws)
    : impl_(std::make_shared<Impl>(
          Impl{std::make_shared<Listener>(io, limits, std::move(handler), std::move(ws))})) {}

Server::~Server() { impl_->listener->stop(); }

core::Result<uint16_t> Server::listen(const std::string& host, uint16_t port) {
  return impl_->listener->listen(host, port);
}

void Server::stop() { impl_->listener->stop(); }

}  // namespace mailjar::http
