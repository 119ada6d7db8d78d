// NAME
//   smtp::Listener - the SMTP network adapter: accepts TCP connections (plain with STARTTLS, or implicit
//   TLS for SMTPS), drives one smtp::Session per connection and performs its actions.
// STANDARDS
//   RFC 5321 (timeouts, 421 on shutdown/overload), RFC 3207 (STARTTLS), RFC 8314 (implicit TLS).
// SECURITY
//   Perimeter. Bounded: connections (max_connections; more get 421 4.7.0 and are closed), time per
//   request (a command line within command_timeout however slowly it trickles in; message content
//   within data_timeout, extended by each byte at min_data_rate: see do_read), the TLS handshake, and
//   everything the Session bounds.
//   One read buffer per connection; no read is posted while a delivery or auth check is outstanding
//   (backpressure instead of buffering).
// CONTRACT
//   The listener knows nothing of storage: it calls DeliverFn and PasswordLookupFn, whose callbacks may
//   be invoked from any thread, exactly once. The 250 reply is sent only when DeliverFn reports success.
//   This header does not include Asio.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/result.h"
#include "core/types.h"
#include "smtp/session.h"

namespace boost::asio {
class io_context;
}

namespace mailjar::smtp {

struct ListenerOptions {
  SessionOptions session;
  int max_connections = 512;
  int command_timeout_s = 300;    // to receive one whole command line (and to write one reply)
  int data_timeout_s = 300;       // to receive message content: the start and the most ever left
  std::size_t min_data_rate = 500;  // bytes/s of content that keep extending the data deadline; 0: never
  bool implicit_tls = false;      // SMTPS: TLS handshake before the greeting
  std::string tls_cert;           // PEM files; both empty = no TLS (no STARTTLS, no SMTPS)
  std::string tls_key;
};

struct DeliveryOutcome {
  bool ok = false;
  std::string id;                 // when ok
  Reply failure;                  // when not ok: the reply to send (e.g. 451 4.3.0)
};

using DeliverFn = std::function<void(core::Envelope envelope, std::string data,
                                     std::function<void(DeliveryOutcome)> done)>;
// Looks up the SMTP password of `username`; nullopt when there is no such user.
using PasswordLookupFn = std::function<void(std::string username,
                                            std::function<void(std::optional<std::string>)> done)>;

class Listener {
 public:
  Listener(boost::asio::io_context& io, ListenerOptions options, ReplyPolicy& policy, DeliverFn deliver,
           PasswordLookupFn lookup);
  ~Listener();
  // Loads the TLS certificate (if configured), binds and starts accepting; returns the bound port.
  core::Result<uint16_t> listen(const std::string& host, uint16_t port);
  // Stops accepting. Open sessions finish their current command and are closed.
  void stop();
  int active_connections() const;

  struct Impl;  // opaque; shared with the connections it accepted

 private:
  std::shared_ptr<Impl> impl_;
};

// Writes a self-signed certificate and key (PEM) for `hostname` (plus localhost/127.0.0.1) to the given
// paths unless both already exist. Used by --tls-self-signed.
core::Result<void> ensure_self_signed(const std::string& cert_path, const std::string& key_path,
                                      const std::string& hostname);

}  // namespace mailjar::smtp
