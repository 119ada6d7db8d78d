// NAME
//   smtp::Session - the SMTP server protocol as a pure state machine.
// STANDARDS
//   RFC 5321 (SMTP), RFC 1870 (SIZE), RFC 6152 (8BITMIME), RFC 6531 (SMTPUTF8), RFC 2920 (PIPELINING),
//   RFC 3030 (CHUNKING/BDAT), RFC 3461 (DSN parameters), RFC 2034/3463 (enhanced status codes),
//   RFC 3207 (STARTTLS), RFC 4954 (AUTH), RFC 4616 (PLAIN), RFC 2195 (CRAM-MD5).
// SECURITY
//   Every byte comes from an untrusted peer. Every input is bounded by Limits; nothing here asserts on
//   input. Bytes pipelined after STARTTLS are discarded (CVE-2011-0411 class). The end of DATA is only
//   CRLF.CRLF: a bare CR or LF never ends or splits a message (SMTP smuggling); by policy such a message
//   is accepted and flagged (Envelope::bare_newline) or rejected with 554 5.6.0.
//
// Contract: bytes in, actions out. The session does no I/O, knows no clock and no storage. The network
// adapter (listener) feeds it received bytes, performs the actions it returns in order, and reports the
// outcome of asynchronous actions (auth check, delivery, TLS handshake) back through on_*(). While an
// asynchronous action is outstanding the session buffers further input (pipelining) and processes it
// when the outcome arrives. Not thread-safe: one session is driven by one strand.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/types.h"

namespace mailjar::core {
class ByteBudget;
}

namespace mailjar::smtp {

enum class AuthMode { kOff, kOptional, kRequired };
enum class BareNewlinePolicy { kAcceptAndFlag, kReject };

// Every perimeter input's bound. Defaults are documented once, in config/options.h.
struct Limits {
  std::size_t max_command_line = 4096;        // bytes of one command line incl. CRLF -> 500 5.5.2
  std::size_t max_text_line = 65536;          // bytes of one DATA line incl. CRLF -> 500 5.5.2 after DATA ends
  std::size_t max_message_size = 26214400;    // bytes of the message (after unstuffing) -> 552 5.3.4
  std::size_t max_recipients = 1000;          // RCPT TOs per message -> 452 4.5.3
  int max_errors = 20;                        // error replies per session before 421 4.7.0 and close
};

struct SessionOptions {
  std::string hostname = "mailjar";           // our name in the banner and EHLO reply
  Limits limits;
  bool tls_available = false;                 // a certificate is configured: advertise STARTTLS
  bool implicit_tls = false;                  // the connection is already TLS (SMTPS): no STARTTLS
  AuthMode auth = AuthMode::kOptional;
  bool allow_cleartext_auth = true;           // PLAIN/LOGIN/CRAM-MD5 allowed before STARTTLS
  BareNewlinePolicy bare_newline = BareNewlinePolicy::kAcceptAndFlag;
  // Shared by every session: the memory their message buffers may take together, from DATA (or the first
  // BDAT) until the message is stored (on_delivered). When it cannot give a message room, DATA is answered
  // 452 4.3.1, or the content is read and dropped and its end answered 452 4.3.1. Null: unbounded.
  core::ByteBudget* budget = nullptr;
};

// A reply as sent on the wire: "250-first\r\n250 last\r\n". code 0 means "no reply".
struct Reply {
  int code = 0;
  std::string enhanced;             // "2.0.0"; empty where RFC 5321 replies carry none (220, 221, 354, 334)
  std::vector<std::string> lines;   // at least one
  std::string wire() const;         // formatted with CRLFs, enhanced code on each line
};

// The stages at which the reply policy is asked before the session answers.
enum class Stage { kConnect, kAuth, kMail, kRcpt, kData };

// What the policy sees. Fields beyond the stage's are as far as the transaction has got.
struct PolicyInput {
  Stage stage;
  const core::Envelope& envelope;   // current transaction (helo, client, auth, mail_from, rcpts so far)
  std::string_view argument;        // the address for kMail/kRcpt, the user for kAuth; empty otherwise
  std::string_view message;         // the full message for kData; empty otherwise
};

// Decides the reply at each stage. Returning nullopt accepts (the session's normal reply is sent);
// returning a Reply sends that instead (a 4xx/5xx rejects the command; at kConnect a 4xx/5xx banner is
// followed by closing the connection). Must be pure and fast: it runs on the network thread.
class ReplyPolicy {
 public:
  virtual ~ReplyPolicy() = default;
  virtual std::optional<Reply> decide(const PolicyInput& input) = 0;
};

// The policy of this version: accepts everything. Bounce simulation will replace it.
class AcceptAllPolicy final : public ReplyPolicy {
 public:
  std::optional<Reply> decide(const PolicyInput&) override { return std::nullopt; }
};

// ---- Actions the adapter performs, in order -------------------------------------------------------

struct SendBytes { std::string bytes; };          // write these bytes (one or more replies)
struct StartTls {};                               // after the preceding bytes are written: TLS handshake,
                                                  // then call on_tls_established() or on_tls_failed()
// Check credentials, then call on_auth_result(). For PLAIN/LOGIN `password` is the cleartext password;
// for CRAM-MD5 `challenge` is what the session sent and `response` the client's hex HMAC-MD5 digest.
struct CheckAuth {
  std::string mechanism;   // "PLAIN", "LOGIN", "CRAM-MD5"
  std::string username;
  std::string password;
  std::string challenge;
  std::string response;
};
// A complete message: store it, then call on_delivered(). `data` is the message exactly as received
// after dot-unstuffing (DATA) or chunk concatenation (BDAT). For DATA it ends with the CRLF of its last
// line and excludes the ".\r\n" of the terminator ("Subject: x\r\n\r\nbody\r\n.\r\n" delivers
// "Subject: x\r\n\r\nbody\r\n").
struct Deliver {
  core::Envelope envelope;
  std::string data;
};
struct Close {};                                  // after the preceding bytes are written: close

using Action = std::variant<SendBytes, StartTls, CheckAuth, Deliver, Close>;

struct ClientInfo {
  std::string ip;
  uint16_t port = 0;
  std::string nonce;   // unique per connection (random); used to build the CRAM-MD5 challenge
  bool tls = false;    // the connection is already TLS (SMTPS): version and cipher follow
  std::string tls_version;
  std::string tls_cipher;
};

class Session {
 public:
  Session(const SessionOptions& options, ReplyPolicy& policy, ClientInfo client);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // The greeting (220, or the policy's refusal followed by Close).
  void start(std::vector<Action>& out);

  // Bytes received from the client. Processes as much as possible; appends actions to `out`.
  // Adjacent replies are coalesced into one SendBytes (one write per batch of pipelined commands).
  void feed(std::string_view bytes, std::vector<Action>& out);

  // Outcomes of asynchronous actions. Each resumes processing of buffered input.
  void on_auth_result(bool ok, std::vector<Action>& out);
  // ok: `id` is the stored message's ID -> "250 2.0.0 Ok: queued as <id>".
  // failure: `reply` is what to answer (e.g. 451 4.3.0 when storage failed).
  void on_delivered(bool ok, const std::string& id, const Reply& failure, std::vector<Action>& out);
  void on_tls_established(std::string version, std::string cipher, std::vector<Action>& out);
  void on_tls_failed(std::vector<Action>& out);   // emits Close

  // The client was silent past the command or data timeout: 421 4.4.2 and Close.
  void on_timeout(std::vector<Action>& out);

  // True while receiving message content (DATA or a BDAT chunk): the adapter uses the data timeout.
  bool in_data() const;
  // True when part of a command line has been received and the rest has not (a request in progress):
  // the adapter keeps that request's deadline instead of starting a new one.
  bool mid_command() const;
  // True once Close has been emitted; no further input is processed.
  bool closed() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mailjar::smtp
