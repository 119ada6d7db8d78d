#include "smtp/listener.h"

#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

#include "smtp/auth.h"

namespace mailjar::smtp {
namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr std::size_t kReadChunk = 32 * 1024;

std::string random_nonce() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng()));
  return buf;
}

}  // namespace

struct Listener::Impl : std::enable_shared_from_this<Listener::Impl> {
  Impl(asio::io_context& io, ListenerOptions opts, ReplyPolicy& pol, DeliverFn d, PasswordLookupFn l)
      : io(io), options(std::move(opts)), policy(pol), deliver(std::move(d)), lookup(std::move(l)),
        acceptor(io) {}

  asio::io_context& io;
  ListenerOptions options;
  ReplyPolicy& policy;
  DeliverFn deliver;
  PasswordLookupFn lookup;
  tcp::acceptor acceptor;
  std::unique_ptr<ssl::context> tls;
  std::atomic<int> connections{0};

  void do_accept();
};

namespace {

// One SMTP connection: owns the socket (later the TLS stream), the session and the idle timer.
// All handlers run on the connection's strand.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<Listener::Impl> owner, tcp::socket socket)
      : owner_(std::move(owner)), socket_(std::move(socket)), timer_(socket_.get_executor()) {}

  ~Connection() { owner_->connections.fetch_sub(1); }

  void start() {
    error_code ec;
    auto ep = socket_.remote_endpoint(ec);
    client_.ip = ec ? "" : ep.address().to_string();
    client_.port = ec ? 0 : ep.port();
    client_.nonce = random_nonce();
    socket_.set_option(tcp::no_delay(true), ec);
    if (owner_->options.implicit_tls) {
      begin_tls(/*implicit=*/true);
      return;
    }
    open_session();
  }

 private:
  enum class After { kNothing, kStartTls, kClose };

  void open_session() {
    session_ = std::make_unique<Session>(owner_->options.session, owner_->policy, client_);
    session_->start(actions_);
    handle_actions();
  }

  template <typename F>
  void with_stream(F&& f) {
    if (tls_) {
      f(*tls_);
    } else {
      f(socket_);
    }
  }

  // Timeouts use one long-lived timer and a deadline: starting an operation only moves the deadline, and
  // the timer is re-armed when it fires before the deadline or when a shorter deadline is needed. That
  // keeps timer work off the per-command path.
  void set_deadline(int seconds) { set_deadline_at(std::chrono::steady_clock::now() + std::chrono::seconds(seconds)); }

  void set_deadline_at(std::chrono::steady_clock::time_point deadline) {
    deadline_ = deadline;
    if (timer_armed_ && timer_.expiry() <= deadline_) return;
    timer_armed_ = true;
    timer_.expires_at(deadline_);  // cancels a later wait, whose handler then sees operation_aborted
    timer_.async_wait([self = shared_from_this()](error_code ec) { self->on_timer(ec); });
  }

  void on_timer(error_code ec) {
    if (ec == asio::error::operation_aborted) return;  // replaced by a nearer deadline, or closing
    timer_armed_ = false;
    if (closing_) return;
    bool io_pending = reading_ || writing_ || handshaking_;
    if (!io_pending || awaiting_) return;  // nothing waits on the client; the next operation re-arms
    if (std::chrono::steady_clock::now() < deadline_) {
      timer_armed_ = true;
      timer_.expires_at(deadline_);
      timer_.async_wait([self = shared_from_this()](error_code e) { self->on_timer(e); });
      return;
    }
    on_timeout();
  }

  void on_timeout() {
    if (closing_) return;
    timed_out_ = true;
    error_code ec;
    socket_lowest().cancel(ec);
    if (!session_) {  // handshake of an implicit-TLS connection never finished
      close_now();
      return;
    }
    session_->on_timeout(actions_);
    handle_actions();
  }

  tcp::socket& socket_lowest() { return tls_ ? tls_->next_layer() : socket_; }

  void handle_actions() {
    for (auto& action : actions_) {
      std::visit(
          [this](auto& a) {
            using T = std::decay_t<decltype(a)>;
            if constexpr (std::is_same_v<T, SendBytes>) {
              out_ += a.bytes;
            } else if constexpr (std::is_same_v<T, StartTls>) {
              after_ = After::kStartTls;
            } else if constexpr (std::is_same_v<T, Close>) {
              after_ = After::kClose;
            } else if constexpr (std::is_same_v<T, CheckAuth>) {
              awaiting_ = true;
              start_auth(std::move(a));
            } else if constexpr (std::is_same_v<T, Deliver>) {
              awaiting_ = true;
              start_delivery(std::move(a));
            }
          },
          action);
    }
    if (!actions_.empty()) request_open_ = false;  // a request was answered (or taken up): the next one is new
    actions_.clear();
    pump();
  }

  // Decides the next I/O: one write in flight; after it, the pending STARTTLS/close; else a read
  // unless an asynchronous check is outstanding.
  void pump() {
    if (writing_ || closing_) return;
    if (!out_.empty()) {
      writing_ = true;
      wbuf_.swap(out_);
      out_.clear();
      set_deadline(owner_->options.command_timeout_s);  // a client that does not read its replies
      with_stream([this](auto& s) {
        asio::async_write(s, asio::buffer(wbuf_),
                          [self = shared_from_this()](error_code ec, std::size_t) { self->on_write(ec); });
      });
      return;
    }
    if (after_ == After::kClose) {
      close_now();
      return;
    }
    if (after_ == After::kStartTls) {
      after_ = After::kNothing;
      begin_tls(/*implicit=*/false);
      return;
    }
    if (awaiting_ || reading_ || !session_ || session_->closed()) return;
    do_read();
  }

  void on_write(error_code ec) {
    writing_ = false;
    if (ec) {
      close_now();
      return;
    }
    wbuf_.clear();
    pump();
  }

  // Deadlines are per request, as Postfix's smtpd_timeout with smtpd_per_request_deadline: a command line
  // must be complete within command_timeout of when reading it began, however it trickles in. Message
  // content (DATA, or one BDAT chunk) starts with data_timeout; every byte received adds 1/min_data_rate
  // seconds, but the time left never exceeds data_timeout (Postfix's smtpd_min_data_rate).
  void do_read() {
    reading_ = true;
    if (rbuf_.empty()) rbuf_.resize(kReadChunk);
    const auto now = std::chrono::steady_clock::now();
    if (session_->in_data()) {
      if (!data_open_) {
        data_open_ = true;
        request_deadline_ = now + std::chrono::seconds(owner_->options.data_timeout_s);
      }
    } else {
      data_open_ = false;
      if (!request_open_ || !session_->mid_command()) {
        request_open_ = true;
        request_deadline_ = now + std::chrono::seconds(owner_->options.command_timeout_s);
      }
    }
    set_deadline_at(request_deadline_);
    with_stream([this](auto& s) {
      s.async_read_some(asio::buffer(rbuf_), [self = shared_from_this()](error_code ec, std::size_t n) {
        self->on_read(ec, n);
      });
    });
  }

  void on_read(error_code ec, std::size_t n) {
    reading_ = false;
    if (timed_out_) return;  // on_timeout already answered
    if (ec) {
      close_now();  // peer closed or reset: an unfinished message is dropped (it was never acknowledged)
      return;
    }
    if (data_open_ && owner_->options.min_data_rate > 0) {
      const auto now = std::chrono::steady_clock::now();
      const auto credit = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
          std::chrono::duration<double>(static_cast<double>(n) / owner_->options.min_data_rate));
      request_deadline_ =
          std::min(request_deadline_ + credit, now + std::chrono::seconds(owner_->options.data_timeout_s));
    }
    session_->feed(std::string_view(rbuf_.data(), n), actions_);
    handle_actions();
  }

  void start_auth(CheckAuth request) {
    auto self = shared_from_this();
    auto ex = socket_lowest().get_executor();
    std::string user = request.username;
    owner_->lookup(std::move(user), [self, ex, request = std::move(request)](std::optional<std::string> pw) {
      bool ok = false;
      if (pw) {
        ok = request.mechanism == "CRAM-MD5" ? cram_md5_matches(*pw, request.challenge, request.response)
                                             : secrets_equal(*pw, request.password);
      }
      asio::post(ex, [self, ok] {
        self->awaiting_ = false;
        if (self->closing_) return;
        self->session_->on_auth_result(ok, self->actions_);
        self->handle_actions();
      });
    });
  }

  void start_delivery(Deliver d) {
    auto self = shared_from_this();
    auto ex = socket_lowest().get_executor();
    owner_->deliver(std::move(d.envelope), std::move(d.data), [self, ex](DeliveryOutcome outcome) {
      asio::post(ex, [self, outcome = std::move(outcome)] {
        self->awaiting_ = false;
        if (self->closing_) return;
        self->session_->on_delivered(outcome.ok, outcome.id, outcome.failure, self->actions_);
        self->handle_actions();
      });
    });
  }

  void begin_tls(bool implicit) {
    if (!owner_->tls) {  // cannot happen: STARTTLS is only offered with a certificate
      close_now();
      return;
    }
    tls_ = std::make_unique<ssl::stream<tcp::socket>>(std::move(socket_), *owner_->tls);
    handshaking_ = true;
    set_deadline(owner_->options.command_timeout_s);
    tls_->async_handshake(ssl::stream_base::server, [self = shared_from_this(), implicit](error_code ec) {
      self->handshaking_ = false;
      if (self->timed_out_ || self->closing_) return;
      if (ec) {
        if (implicit || !self->session_) {
          self->close_now();
        } else {
          self->session_->on_tls_failed(self->actions_);
          self->handle_actions();
        }
        return;
      }
      SSL* ssl = self->tls_->native_handle();
      std::string version = SSL_get_version(ssl);
      std::string cipher = SSL_get_cipher_name(ssl);
      if (implicit) {
        self->client_.tls = true;
        self->client_.tls_version = version;
        self->client_.tls_cipher = cipher;
        self->open_session();
      } else {
        self->session_->on_tls_established(version, cipher, self->actions_);
        self->handle_actions();
      }
    });
  }

  void close_now() {
    if (closing_) return;
    closing_ = true;
    timer_.cancel();
    error_code ec;
    auto& s = socket_lowest();
    s.shutdown(tcp::socket::shutdown_both, ec);
    s.close(ec);
  }

  std::shared_ptr<Listener::Impl> owner_;
  tcp::socket socket_;
  std::unique_ptr<ssl::stream<tcp::socket>> tls_;
  asio::steady_timer timer_;
  ClientInfo client_;
  std::unique_ptr<Session> session_;
  std::vector<Action> actions_;
  std::string out_;   // replies not yet written
  std::string wbuf_;  // the write in flight
  std::vector<char> rbuf_;
  After after_ = After::kNothing;
  bool writing_ = false;
  bool reading_ = false;
  bool awaiting_ = false;
  bool closing_ = false;
  bool timed_out_ = false;
  bool handshaking_ = false;
  bool timer_armed_ = false;
  std::chrono::steady_clock::time_point deadline_;          // of the I/O in progress
  bool request_open_ = false;                               // request_deadline_ is a command's in progress
  bool data_open_ = false;                                  // request_deadline_ is message content's
  std::chrono::steady_clock::time_point request_deadline_;  // of the request being received
};

}  // namespace

void Listener::Impl::do_accept() {
  acceptor.async_accept(asio::make_strand(io), [self = shared_from_this()](error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec == asio::error::operation_aborted || !self->acceptor.is_open()) return;
      self->do_accept();  // e.g. EMFILE: keep serving the connections we have
      return;
    }
    int now = self->connections.fetch_add(1) + 1;
    if (now > self->options.max_connections) {
      // Over the limit: a short 421 (RFC 5321 3.8), written without waiting, then close.
      self->connections.fetch_sub(1);
      static const std::string kBusy = "421 4.7.0 Too many connections, try again later\r\n";
      error_code wec;
      socket.non_blocking(true, wec);
      socket.write_some(asio::buffer(kBusy), wec);
      socket.shutdown(tcp::socket::shutdown_both, wec);
      socket.close(wec);
    } else {
      std::make_shared<Connection>(self, std::move(socket))->start();
    }
    self->do_accept();
  });
}

Listener::Listener(asio::io_context& io, ListenerOptions options, ReplyPolicy& policy, DeliverFn deliver,
                   PasswordLookupFn lookup)
    : impl_(std::make_shared<Impl>(io, std::move(options), policy, std::move(deliver), std::move(lookup))) {}

Listener::~Listener() { stop(); }

core::Result<uint16_t> Listener::listen(const std::string& host, uint16_t port) {
  auto& o = impl_->options;
  if (!o.tls_cert.empty()) {
    try {
      auto ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
      ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                       ssl::context::single_dh_use);
      ctx->use_certificate_chain_file(o.tls_cert);
      ctx->use_private_key_file(o.tls_key, ssl::context::pem);
      impl_->tls = std::move(ctx);
    } catch (const std::exception& e) {
      return core::make_error("tls", "cannot load TLS certificate/key (" + o.tls_cert + ", " + o.tls_key +
                                         "): " + e.what());
    }
    o.session.tls_available = true;
  } else if (o.implicit_tls) {
    return core::make_error("tls", "implicit TLS (SMTPS) needs a certificate");
  }
  o.session.implicit_tls = o.implicit_tls;
  error_code ec;
  std::string h = host == "localhost" ? "127.0.0.1" : host;
  auto addr = asio::ip::make_address(h, ec);
  if (ec) return core::make_error("invalid_argument", "cannot parse listen address '" + host + "'");
  tcp::endpoint ep(addr, port);
  auto& a = impl_->acceptor;
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return core::make_error("io", "cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message());
  uint16_t bound = a.local_endpoint(ec).port();
  impl_->do_accept();
  return bound;
}

void Listener::stop() {
  auto impl = impl_;
  asio::post(impl->acceptor.get_executor(), [impl] {
    error_code ec;
    impl->acceptor.close(ec);
  });
}

int Listener::active_connections() const { return impl_->connections.load(); }

}  // namespace mailjar::smtp
