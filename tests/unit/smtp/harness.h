// Test harness for smtp::Session: drives a session with byte strings and records what it asks for.
// No sockets: the "adapter" here is the test itself.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/session.h"

namespace mailjar::smtp::testing {

// A policy whose answer per stage the test sets, recording every question it is asked.
class ScriptedPolicy final : public ReplyPolicy {
 public:
  struct Seen {
    Stage stage;
    std::string argument;
    std::string message;
    std::string mail_from;
    std::size_t rcpts = 0;
    std::string helo;
    std::string auth_user;
  };

  std::optional<Reply> decide(const PolicyInput& in) override {
    seen.push_back(Seen{in.stage, std::string(in.argument), std::string(in.message), in.envelope.mail_from,
                        in.envelope.rcpts.size(), in.envelope.helo, in.envelope.auth_user});
    auto it = replies.find(in.stage);
    if (it == replies.end()) return std::nullopt;
    return it->second;
  }

  std::map<Stage, Reply> replies;
  std::vector<Seen> seen;
};

// The bytes of all SendBytes actions, concatenated.
inline std::string sent(const std::vector<Action>& actions) {
  std::string s;
  for (const auto& a : actions) {
    if (const auto* b = std::get_if<SendBytes>(&a)) s += b->bytes;
  }
  return s;
}

// One letter per action, in order: S(end) T(ls) A(uth) D(eliver) C(lose).
inline std::string kinds(const std::vector<Action>& actions) {
  std::string k;
  for (const auto& a : actions) k += "STADC"[a.index()];
  return k;
}

template <typename T>
const T* find_action(const std::vector<Action>& actions) {
  for (const auto& a : actions) {
    if (const auto* t = std::get_if<T>(&a)) return t;
  }
  return nullptr;
}

// The reply lines of a wire string, without CRLF.
inline std::vector<std::string> lines_of(std::string_view wire) {
  std::vector<std::string> out;
  std::size_t p = 0;
  while (p < wire.size()) {
    std::size_t e = wire.find("\r\n", p);
    if (e == std::string_view::npos) {
      out.emplace_back(wire.substr(p));
      break;
    }
    out.emplace_back(wire.substr(p, e - p));
    p = e + 2;
  }
  return out;
}

struct Harness {
  explicit Harness(SessionOptions o = {}, ClientInfo c = default_client())
      : options(std::move(o)), client(c) {}

  static ClientInfo default_client() {
    ClientInfo c;
    c.ip = "192.0.2.7";
    c.port = 40000;
    c.nonce = "1896.697170952";
    return c;
  }

  Session& session() {
    if (!s) s = std::make_unique<Session>(options, policy, client);
    return *s;
  }

  // start(): the greeting.
  std::vector<Action> start() {
    std::vector<Action> out;
    session().start(out);
    return out;
  }

  std::vector<Action> feed(std::string_view bytes) {
    std::vector<Action> out;
    session().feed(bytes, out);
    return out;
  }

  // Feeds and returns the bytes the session wants sent.
  std::string say(std::string_view bytes) { return sent(feed(bytes)); }

  std::vector<Action> auth_result(bool ok) {
    std::vector<Action> out;
    session().on_auth_result(ok, out);
    return out;
  }
  std::vector<Action> delivered(const std::string& id = "ID1") {
    std::vector<Action> out;
    session().on_delivered(true, id, Reply{}, out);
    return out;
  }
  std::vector<Action> delivery_failed(const Reply& r) {
    std::vector<Action> out;
    session().on_delivered(false, "", r, out);
    return out;
  }
  std::vector<Action> tls_established(std::string v = "TLSv1.3", std::string c = "TLS_AES_256_GCM_SHA384") {
    std::vector<Action> out;
    session().on_tls_established(std::move(v), std::move(c), out);
    return out;
  }

  // Greeting + EHLO, replies discarded.
  void ehlo() {
    start();
    say("EHLO client.example\r\n");
  }
  // Greeting + EHLO + MAIL + one RCPT.
  void to_rcpt() {
    ehlo();
    say("MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n");
  }

  // Runs one whole DATA transaction after to_rcpt(): returns the delivered message (nullopt if none)
  // and leaves the session ready for the next command (on_delivered called).
  std::optional<Deliver> data(std::string_view content, std::string* replies = nullptr) {
    std::vector<Action> a = feed("DATA\r\n");
    auto b = feed(content);
    a.insert(a.end(), std::make_move_iterator(b.begin()), std::make_move_iterator(b.end()));
    std::optional<Deliver> d;
    if (const auto* p = find_action<Deliver>(a)) d = *p;
    if (d) {
      auto c = delivered();
      a.insert(a.end(), std::make_move_iterator(c.begin()), std::make_move_iterator(c.end()));
    }
    if (replies) *replies = sent(a);
    return d;
  }

  SessionOptions options;
  ClientInfo client;
  ScriptedPolicy policy;
  std::unique_ptr<Session> s;
};

}  // namespace mailjar::smtp::testing
