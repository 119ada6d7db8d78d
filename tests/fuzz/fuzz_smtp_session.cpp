// libFuzzer target: the SMTP session state machine fed an arbitrary byte stream, cut into reads at places
// the input chooses, with every asynchronous outcome answered (auth, delivery, STARTTLS) as the listener
// would, in both outcomes. Checks the session's promises: it never asks for anything after Close, and a
// Deliver carries at most max_message_size bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <variant>
#include <vector>

#include "core/byte_budget.h"
#include "smtp/session.h"

namespace {

using namespace mailjar::smtp;

class Policy final : public ReplyPolicy {
 public:
  std::optional<Reply> decide(const PolicyInput&) override { return std::nullopt; }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const uint8_t flags = data[0];
  const uint8_t cut = data[1] | 1;  // bytes per read
  data += 2;
  size -= 2;
  static mailjar::core::ByteBudget budget(1 << 20);
  SessionOptions options;
  options.limits.max_command_line = 512;
  options.limits.max_text_line = 1000;
  options.limits.max_message_size = 4096 + (flags & 0x0f) * 1024;
  options.limits.max_recipients = 5;
  options.limits.max_errors = 10;
  options.tls_available = flags & 0x10;
  options.auth = (flags & 0x20) ? AuthMode::kRequired : AuthMode::kOptional;
  options.bare_newline = (flags & 0x40) ? BareNewlinePolicy::kReject : BareNewlinePolicy::kAcceptAndFlag;
  options.budget = (flags & 0x80) ? &budget : nullptr;
  Policy policy;
  ClientInfo client;
  client.ip = "192.0.2.1";
  client.nonce = "1.2";
  Session session(options, policy, client);
  std::vector<Action> out;
  session.start(out);
  bool toggle = false;
  for (std::size_t pos = 0; pos < size && !session.closed();) {
    const std::size_t n = std::min<std::size_t>(cut, size - pos);
    out.clear();
    session.feed(std::string_view(reinterpret_cast<const char*>(data) + pos, n), out);
    pos += n;
    // Answer asynchronous requests until the session asks for nothing more.
    for (int rounds = 0; rounds < 100 && !out.empty(); ++rounds) {
      std::vector<Action> next;
      bool closed = false;
      for (const Action& a : out) {
        if (closed) std::abort();  // nothing may follow Close
        if (std::holds_alternative<Close>(a)) closed = true;
        if (const auto* d = std::get_if<Deliver>(&a)) {
          if (d->data.size() > options.limits.max_message_size) std::abort();
          toggle = !toggle;
          session.on_delivered(toggle, "ID", Reply{451, "4.3.0", {"no"}}, next);
        } else if (std::holds_alternative<CheckAuth>(a)) {
          toggle = !toggle;
          session.on_auth_result(toggle, next);
        } else if (std::holds_alternative<StartTls>(a)) {
          toggle = !toggle;
          if (toggle) {
            session.on_tls_established("TLSv1.3", "X", next);
          } else {
            session.on_tls_failed(next);
          }
        }
      }
      out.swap(next);
    }
  }
  out.clear();
  session.on_timeout(out);
  return 0;
}
