// smtp::Session: the SMTP server protocol as a pure state machine. See session.h for the contract.
// STANDARDS: RFC 5321, 1870, 6152, 6531, 2920, 3030, 3461, 2034, 3463, 3207, 4954, 4616, 2195.
// SECURITY: all input is bounded by Limits. The DATA scanner recognises the end of data only as
// CRLF "." CRLF; bare CR/LF are kept (and flagged) or the message is rejected. Input buffered after
// STARTTLS is dropped. Decisions made here and not spelled out in session.h:
//   - STARTTLS when TLS is not available or already active, and AUTH when auth is off: 503 5.5.1.
//   - Error replies count towards Limits::max_errors, except 452 4.5.3 for recipients beyond
//     max_recipients (RFC 5321 4.5.3.1.10: the client is expected to send them in a new transaction)
//     and replies to failed deliveries (a server-side failure). The count restarts after a message is
//     delivered (Postfix's "errors without delivering mail").
//   - Command lines may end in a bare LF (lenient); message content may not (only CRLF.CRLF ends it).
//   - The bare-newline policy applies to DATA; BDAT content is taken verbatim (RFC 3030 has no
//     end-of-data marker to smuggle).
//   - AUTH PLAIN with an authorization identity different from the authentication identity, and
//     malformed PLAIN / CRAM-MD5 responses, fail with 535 5.7.8 without a CheckAuth.
#include "core/ascii.h"
#include "smtp/session.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>

#include "core/base64.h"
#include "core/byte_budget.h"
#include "smtp/auth.h"
#include "smtp/command.h"

namespace mailjar::smtp {

std::string Reply::wire() const {
  char code_text[8];
  auto res = std::to_chars(code_text, code_text + sizeof code_text, code);
  std::string_view code_sv(code_text, static_cast<std::size_t>(res.ptr - code_text));
  std::string out;
  std::size_t n = lines.empty() ? 1 : lines.size();
  for (std::size_t i = 0; i < n; ++i) {
    std::string_view text = lines.empty() ? std::string_view{} : std::string_view(lines[i]);
    out += code_sv;
    out += i + 1 < n ? '-' : ' ';
    if (!enhanced.empty()) {
      out += enhanced;
      if (!text.empty()) out += ' ';
    }
    // A reply line never carries a line break of its own (policy texts come from configuration).
    for (char c : text) out += (c == '\r' || c == '\n') ? ' ' : c;
    out += "\r\n";
  }
  return out;
}

namespace {

enum class Mode {
  kCommand,      // reading command lines
  kAuthLine,     // reading an AUTH continuation line
  kData,         // reading DATA content
  kChunk,        // reading the octets of a BDAT chunk
  kWaitAuth,     // CheckAuth outstanding
  kWaitDeliver,  // Deliver outstanding
  kWaitTls,      // StartTls outstanding
  kClosed,
};

enum class Mechanism { kNone, kPlain, kLogin, kCramMd5 };

// Where the DATA scanner stands between two bytes (and so between two feed() calls).
enum class DataState {
  kLineStart,  // after CRLF (or at the start of the content)
  kDot,        // a line started with "."; the dot was dropped
  kDotCr,      // a line started with ".\r": CR LF next ends the data
  kMid,        // inside a line
  kCr,         // inside a line, right after a CR that may begin the CRLF ending it
};

enum class PolicyOutcome { kNone, kAccepted, kRejected };

constexpr std::string_view kLoginUserPrompt = "VXNlcm5hbWU6";  // base64("Username:")
constexpr std::string_view kLoginPassPrompt = "UGFzc3dvcmQ6";  // base64("Password:")
constexpr std::size_t kDefaultMessageReserve = 16 * 1024;
constexpr std::size_t kCompactThreshold = 16 * 1024;

}  // namespace

struct Session::Impl {
  Impl(const SessionOptions& o, ReplyPolicy& p, ClientInfo c)
      : options(o), policy(p), client(std::move(c)), tls_active(client.tls || options.implicit_tls) {
    reset_envelope();
  }

  const SessionOptions options;
  ReplyPolicy& policy;
  const ClientInfo client;

  Mode mode = Mode::kCommand;
  bool started = false;
  bool tls_active;
  bool helo = false;
  bool authenticated = false;
  bool in_transaction = false;  // MAIL accepted
  bool bdat_used = false;       // a BDAT chunk was accepted in this transaction
  bool binarymime = false;      // MAIL had BODY=BINARYMIME
  std::size_t declared_size = 0;
  core::Envelope env;
  int errors = 0;

  // Unprocessed input (pipelined commands, partial lines). [pos, size) is pending.
  std::string in;
  std::size_t pos = 0;
  std::size_t scanned = 0;    // bytes at the start of the pending input known to hold no LF
  bool discard_line = false;  // skipping the rest of an over-long command line

  // AUTH exchange.
  Mechanism mechanism = Mechanism::kNone;
  bool login_have_user = false;
  std::string auth_user;
  std::string challenge;

  // The message being received. Its buffer's capacity is taken from options.budget first (reserved); the
  // message handed over in Deliver keeps its share (delivered_reserved) until on_delivered.
  std::string msg;
  std::size_t reserved = 0;
  std::size_t delivered_reserved = 0;
  bool over_budget = false;  // the budget could not hold it: the rest is read and dropped, then 452 4.3.1
  std::size_t msg_size = 0;  // bytes of content seen (after unstuffing), also those discarded
  bool oversize = false;
  bool line_too_long = false;
  bool bare = false;
  DataState ds = DataState::kLineStart;
  std::size_t line_len = 0;

  // The BDAT chunk being read.
  std::uint64_t chunk_remaining = 0;
  std::uint64_t chunk_size = 0;
  bool chunk_last = false;
  bool chunk_discard = false;
  Reply chunk_reject;  // code != 0: answer this once the chunk is consumed

  // ---- output -----------------------------------------------------------------------------------

  static std::string& out_buffer(std::vector<Action>& out) {
    if (out.empty() || !std::holds_alternative<SendBytes>(out.back())) out.emplace_back(SendBytes{});
    return std::get<SendBytes>(out.back()).bytes;
  }

  static void send_line(std::vector<Action>& out, int code, std::string_view enhanced, std::string_view text,
                        bool more = false) {
    std::string& b = out_buffer(out);
    char code_text[8];
    auto res = std::to_chars(code_text, code_text + sizeof code_text, code);
    b.append(code_text, res.ptr);
    b += more ? '-' : ' ';
    if (!enhanced.empty()) {
      b += enhanced;
      if (!text.empty()) b += ' ';
    }
    b += text;
    b += "\r\n";
  }

  void close(std::vector<Action>& out) {
    out.emplace_back(Close{});
    mode = Mode::kClosed;  // the caller drops the buffered input (process() may be reading it now)
  }

  // An error reply to a client command: sent, counted, and past the limit followed by 421 and Close.
  void error(std::vector<Action>& out, int code, std::string_view enhanced, std::string_view text) {
    send_line(out, code, enhanced, text);
    count_error(out);
  }

  void count_error(std::vector<Action>& out) {
    if (++errors > options.limits.max_errors) {
      send_line(out, 421, "4.7.0", options.hostname + " Error: too many errors");
      close(out);
    }
  }

  // Asks the policy; a reply it returns is sent (and counted when 4xx/5xx).
  PolicyOutcome ask_policy(Stage stage, std::string_view argument, std::string_view message,
                           std::vector<Action>& out) {
    std::optional<Reply> r = policy.decide(PolicyInput{stage, env, argument, message});
    if (!r) return PolicyOutcome::kNone;
    out_buffer(out) += r->wire();
    if (r->code >= 400) {
      count_error(out);
      return PolicyOutcome::kRejected;
    }
    return PolicyOutcome::kAccepted;
  }

  // ---- state ------------------------------------------------------------------------------------

  void reset_envelope() {
    env = core::Envelope{};
    env.client_ip = client.ip;
    env.client_port = client.port;
    if (client.tls) {
      env.tls_version = client.tls_version;
      env.tls_cipher = client.tls_cipher;
    }
  }

  // Frees the message buffer and gives its share of the budget back.
  void drop_bytes() {
    std::string().swap(msg);
    if (options.budget) options.budget->release(reserved);
    reserved = 0;
  }

  // Makes room in `msg` for `needed` bytes (doubling, but never beyond the message size limit unless
  // `needed` is), taking the growth from the budget first; false when the budget cannot give it. The new
  // buffer is made here rather than by reserve(), which would at least double it past the size limit.
  bool grow(std::size_t needed) {
    if (needed <= msg.capacity()) return true;
    const std::size_t target = std::max(needed, std::min(msg.capacity() * 2, options.limits.max_message_size));
    if (options.budget) {  // (the few bytes of the short-string buffer inside the object are not counted)
      if (target > reserved && !options.budget->try_reserve(target - reserved)) return false;
      reserved = std::max(reserved, target);
    }
    std::string bigger;
    bigger.reserve(target);
    bigger.append(msg);
    msg.swap(bigger);
    if (options.budget && msg.capacity() > reserved) {  // a library rounding up: count what it took
      options.budget->add(msg.capacity() - reserved);
      reserved = msg.capacity();
    }
    return true;
  }

  void reset_message() {
    drop_bytes();
    over_budget = false;
    msg_size = 0;
    oversize = false;
    line_too_long = false;
    bare = false;
    ds = DataState::kLineStart;
    line_len = 0;
  }

  void reset_transaction() {
    in_transaction = false;
    bdat_used = false;
    binarymime = false;
    declared_size = 0;
    env.mail_from.clear();
    env.mail_params.clear();
    env.rcpts.clear();
    env.smtputf8 = false;
    env.bare_newline = false;
    env.chunked = false;
    reset_message();
  }

  // Starts a message with room for its declared SIZE (or a small default); false when the budget cannot
  // give even the default (then 452 4.3.1: the server holds too much unfinished mail right now).
  bool begin_message() {
    reset_message();
    const std::size_t small = std::min(kDefaultMessageReserve, options.limits.max_message_size);
    const std::size_t want = std::min(declared_size != 0 ? declared_size : small, options.limits.max_message_size);
    return grow(want) || grow(small);
  }

  void end_auth() {
    mechanism = Mechanism::kNone;
    login_have_user = false;
    auth_user.clear();
    challenge.clear();
    if (mode == Mode::kAuthLine) mode = Mode::kCommand;
  }

  bool auth_offered() const {
    return options.auth != AuthMode::kOff && (options.allow_cleartext_auth || tls_active);
  }
  bool starttls_offered() const { return options.tls_available && !tls_active; }

  // ---- input loop -------------------------------------------------------------------------------

  // Processes `input` as far as possible; returns the number of bytes consumed. Stops at an incomplete
  // line, when an asynchronous action is outstanding, or when closed. After STARTTLS the rest of the
  // input is consumed and dropped.
  std::size_t process(std::string_view input, std::vector<Action>& out) {
    std::size_t p = 0;
    for (;;) {
      switch (mode) {
        case Mode::kCommand:
        case Mode::kAuthLine: {
          std::string_view line;
          if (!next_line(input, p, line, out)) return p;
          if (mode == Mode::kAuthLine) {
            auth_line(line, out);
          } else {
            command(line, out);
          }
          if (mode == Mode::kWaitTls) return input.size();  // CVE-2011-0411: drop what follows STARTTLS
          break;
        }
        case Mode::kData:
          if (p >= input.size()) return p;
          p += scan_data(input.substr(p), out);
          break;
        case Mode::kChunk: {
          auto take = static_cast<std::size_t>(std::min<std::uint64_t>(chunk_remaining, input.size() - p));
          if (!chunk_discard) msg.append(input.data() + p, take);
          p += take;
          chunk_remaining -= take;
          if (chunk_remaining != 0) return p;
          finish_chunk(out);
          break;
        }
        case Mode::kWaitAuth:
        case Mode::kWaitDeliver:
        case Mode::kWaitTls:
        case Mode::kClosed:
          return p;
      }
    }
  }

  // Extracts the next complete command line (without its LF or CRLF). Over-long lines are answered
  // here with 500 5.5.2 and skipped without buffering them. False when more input is needed or the
  // session closed.
  bool next_line(std::string_view input, std::size_t& p, std::string_view& line, std::vector<Action>& out) {
    const std::size_t max_line = options.limits.max_command_line;
    while (mode == Mode::kCommand || mode == Mode::kAuthLine) {
      const char* base = input.data() + p;
      std::size_t avail = input.size() - p;
      if (discard_line) {
        const void* lf = avail ? std::memchr(base, '\n', avail) : nullptr;
        if (lf == nullptr) {
          p = input.size();
          return false;
        }
        p += static_cast<std::size_t>(static_cast<const char*>(lf) - base) + 1;
        discard_line = false;
        line_too_long_reply(out);
        continue;
      }
      std::size_t from = std::min(scanned, avail);
      const void* lf = avail > from ? std::memchr(base + from, '\n', avail - from) : nullptr;
      if (lf == nullptr) {
        if (avail >= max_line) {  // the line, with its terminator, cannot fit any more
          discard_line = true;
          scanned = 0;
          p = input.size();
        } else {
          scanned = avail;
        }
        return false;
      }
      scanned = 0;
      std::size_t len = static_cast<std::size_t>(static_cast<const char*>(lf) - base) + 1;
      p += len;
      if (len > max_line) {
        line_too_long_reply(out);
        continue;
      }
      line = std::string_view(base, len - 1);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      return true;
    }
    return false;
  }

  void line_too_long_reply(std::vector<Action>& out) {
    end_auth();
    error(out, 500, "5.5.2", "Error: line too long");
  }

  // ---- commands ---------------------------------------------------------------------------------

  void command(std::string_view line, std::vector<Action>& out) {
    CommandLine cmd = parse_command_line(line);
    if (cmd.verb == Verb::kHttp) {
      // Someone pointed a browser or an HTTP proxy at the SMTP port.
      send_line(out, 421, "4.7.0", options.hostname + " Error: this is an SMTP server, not HTTP");
      close(out);
      return;
    }
    LineBytes bytes = classify_line(line);
    if (bytes == LineBytes::kInvalid ||
        (bytes == LineBytes::kUtf8 && cmd.verb != Verb::kMail && cmd.verb != Verb::kRcpt)) {
      error(out, 500, "5.5.2", "Error: invalid character in command");
      return;
    }
    switch (cmd.verb) {
      case Verb::kEhlo:
      case Verb::kHelo:
        return do_helo(cmd, out);
      case Verb::kMail:
        return do_mail(cmd.arg, out);
      case Verb::kRcpt:
        return do_rcpt(cmd.arg, out);
      case Verb::kData:
        return do_data(cmd.arg, out);
      case Verb::kBdat:
        return do_bdat(cmd.arg, out);
      case Verb::kRset:
        if (!cmd.arg.empty()) return error(out, 501, "5.5.4", "Syntax: RSET");
        reset_transaction();
        return send_line(out, 250, "2.0.0", "Ok");
      case Verb::kNoop:
        return send_line(out, 250, "2.0.0", "Ok");
      case Verb::kQuit:
        send_line(out, 221, "2.0.0", "Bye");
        return close(out);
      case Verb::kVrfy:
        if (cmd.arg.empty()) return error(out, 501, "5.5.4", "Syntax: VRFY address");
        return send_line(out, 252, "2.1.5", "Cannot VRFY user, but will accept message and attempt delivery");
      case Verb::kHelp:
        return send_line(out, 214, "2.0.0",
                         "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH");
      case Verb::kStartTls:
        return do_starttls(cmd.arg, out);
      case Verb::kAuth:
        return do_auth(cmd.arg, out);
      case Verb::kUnknown:
      case Verb::kHttp:
        break;
    }
    error(out, 500, "5.5.2", "Error: command not recognized");
  }

  void do_helo(const CommandLine& cmd, std::vector<Action>& out) {
    bool ehlo = cmd.verb == Verb::kEhlo;
    if (cmd.arg.empty())
      return error(out, 501, "5.5.4", ehlo ? "Syntax: EHLO hostname" : "Syntax: HELO hostname");
    reset_transaction();  // RFC 5321 4.1.4: EHLO/HELO also reset the transaction
    helo = true;
    env.helo.assign(cmd.arg);
    env.esmtp = ehlo;
    if (!ehlo) return send_line(out, 250, "", options.hostname);
    std::string first = options.hostname;
    first += " Hello ";
    first += cmd.arg;
    send_line(out, 250, "", first, true);
    send_line(out, 250, "", "PIPELINING", true);
    send_line(out, 250, "", "SIZE " + std::to_string(options.limits.max_message_size), true);
    send_line(out, 250, "", "8BITMIME", true);
    send_line(out, 250, "", "SMTPUTF8", true);
    send_line(out, 250, "", "ENHANCEDSTATUSCODES", true);
    send_line(out, 250, "", "CHUNKING", true);
    send_line(out, 250, "", "DSN", true);
    if (starttls_offered()) send_line(out, 250, "", "STARTTLS", true);
    if (auth_offered()) send_line(out, 250, "", "AUTH PLAIN LOGIN CRAM-MD5", true);
    send_line(out, 250, "", "HELP");
  }

  void do_mail(std::string_view arg, std::vector<Action>& out) {
    if (!helo) return error(out, 503, "5.5.1", "Error: send HELO/EHLO first");
    if (in_transaction) return error(out, 503, "5.5.1", "Error: nested MAIL command");
    if (options.auth == AuthMode::kRequired && !authenticated) {
      return error(out, 530, "5.7.0", "Authentication required");
    }
    MailFrom m;
    switch (parse_mail_from(arg, m)) {
      case ParseError::kNone:
        break;
      case ParseError::kSyntax:
        return error(out, 501, "5.5.4", "Syntax: MAIL FROM:<address> [parameters]");
      case ParseError::kUnknownParameter:
        return error(out, 555, "5.5.4", "Unsupported MAIL parameter");
      case ParseError::kConflict:
        return error(out, 501, "5.5.4", "Syntax: conflicting values of the " + core::ascii_uppercase(m.conflict) +
                                            " parameter");
    }
    if (m.address_utf8 && !m.smtputf8) return error(out, 553, "5.6.7", "Non-ASCII address requires SMTPUTF8");
    if (m.has_size && m.size > options.limits.max_message_size) {
      return error(out, 552, "5.3.4", "Message size exceeds fixed maximum message size");
    }
    env.mail_from = std::move(m.address);
    env.mail_params.assign(m.params);
    env.smtputf8 = m.smtputf8;
    PolicyOutcome po = ask_policy(Stage::kMail, env.mail_from, {}, out);
    if (po == PolicyOutcome::kRejected) {
      reset_transaction();
      return;
    }
    in_transaction = true;
    binarymime = m.body == Body::kBinaryMime;
    declared_size = m.has_size ? static_cast<std::size_t>(m.size) : 0;
    if (po == PolicyOutcome::kNone) send_line(out, 250, "2.1.0", "Ok");
  }

  void do_rcpt(std::string_view arg, std::vector<Action>& out) {
    if (!in_transaction) return error(out, 503, "5.5.1", "Error: need MAIL command");
    RcptTo r;
    switch (parse_rcpt_to(arg, r)) {
      case ParseError::kNone:
        break;
      case ParseError::kSyntax:
        return error(out, 501, "5.5.4", "Syntax: RCPT TO:<address> [parameters]");
      case ParseError::kUnknownParameter:
        return error(out, 555, "5.5.4", "Unsupported RCPT parameter");
      case ParseError::kConflict:
        return error(out, 501, "5.5.4", "Syntax: conflicting values of the " + core::ascii_uppercase(r.conflict) +
                                            " parameter");
    }
    if (env.rcpts.size() >= options.limits.max_recipients) {
      return send_line(out, 452, "4.5.3", "Error: too many recipients");  // not counted: see the top
    }
    if (r.address_utf8 && !env.smtputf8)
      return error(out, 553, "5.6.7", "Non-ASCII address requires SMTPUTF8");
    PolicyOutcome po = ask_policy(Stage::kRcpt, r.address, {}, out);
    if (po == PolicyOutcome::kRejected) return;
    env.rcpts.push_back(core::Recipient{std::move(r.address), std::string(r.params)});
    if (po == PolicyOutcome::kNone) send_line(out, 250, "2.1.5", "Ok");
  }

  void do_data(std::string_view arg, std::vector<Action>& out) {
    if (!in_transaction) return error(out, 503, "5.5.1", "Error: need MAIL command");
    if (bdat_used) return error(out, 503, "5.5.1", "Error: DATA not allowed after BDAT");
    if (env.rcpts.empty()) return error(out, 503, "5.5.1", "Error: No valid recipients");
    if (binarymime) return error(out, 503, "5.5.1", "Error: BODY=BINARYMIME requires BDAT");
    if (!arg.empty()) return error(out, 501, "5.5.4", "Syntax: DATA");
    if (!begin_message()) {
      reset_transaction();
      return send_line(out, 452, "4.3.1", "Insufficient system storage, try again later");  // not counted
    }
    send_line(out, 354, "", "End data with <CR><LF>.<CR><LF>");
    mode = Mode::kData;
  }

  void do_bdat(std::string_view arg, std::vector<Action>& out) {
    std::uint64_t size = 0;
    bool last = false;
    // Without a valid size the chunk cannot be delimited: answer and read the next bytes as commands.
    if (!parse_bdat(arg, size, last)) return error(out, 501, "5.5.4", "Syntax: BDAT size [LAST]");
    chunk_remaining = size;
    chunk_size = size;
    chunk_last = last;
    chunk_discard = true;
    chunk_reject = Reply{};
    if (!in_transaction) {
      chunk_reject = Reply{503, "5.5.1", {"Error: need MAIL command"}};
    } else if (env.rcpts.empty()) {
      chunk_reject = Reply{503, "5.5.1", {"Error: No valid recipients"}};
    } else {
      if (!bdat_used) {
        bdat_used = true;
        env.chunked = true;
        if (!begin_message()) over_budget = true;
      }
      if (oversize ||
          size > options.limits.max_message_size - std::min(msg_size, options.limits.max_message_size)) {
        oversize = true;
        drop_bytes();
      } else if (!over_budget) {
        msg_size += static_cast<std::size_t>(size);
        // Room for the whole chunk (bounded by the size check above), growing geometrically.
        if (grow(msg_size)) {
          chunk_discard = false;
        } else {
          over_budget = true;
          drop_bytes();
        }
      }
    }
    mode = Mode::kChunk;
    if (chunk_remaining == 0) finish_chunk(out);
  }

  void finish_chunk(std::vector<Action>& out) {
    mode = Mode::kCommand;
    if (chunk_reject.code != 0) {
      Reply r = std::move(chunk_reject);
      chunk_reject = Reply{};
      return error(out, r.code, r.enhanced, r.lines.front());
    }
    if (oversize) {
      reset_transaction();
      return error(out, 552, "5.3.4", "Message size exceeds fixed maximum message size");
    }
    if (over_budget) {
      reset_transaction();
      return send_line(out, 452, "4.3.1", "Insufficient system storage, try again later");  // not counted
    }
    if (!chunk_last) return send_line(out, 250, "2.0.0", std::to_string(chunk_size) + " octets received");
    deliver(out);
  }

  void do_starttls(std::string_view arg, std::vector<Action>& out) {
    if (tls_active) return error(out, 503, "5.5.1", "Error: TLS already active");
    if (!options.tls_available) return error(out, 503, "5.5.1", "Error: STARTTLS not available");
    if (!arg.empty()) return error(out, 501, "5.5.4", "Syntax: STARTTLS");
    send_line(out, 220, "2.0.0", "Ready to start TLS");
    out.emplace_back(StartTls{});
    mode = Mode::kWaitTls;
  }

  // ---- AUTH -------------------------------------------------------------------------------------

  void do_auth(std::string_view arg, std::vector<Action>& out) {
    if (options.auth == AuthMode::kOff) return error(out, 503, "5.5.1", "Error: authentication not enabled");
    if (!helo) return error(out, 503, "5.5.1", "Error: send EHLO first");
    if (authenticated) return error(out, 503, "5.5.1", "Error: already authenticated");
    if (in_transaction)
      return error(out, 503, "5.5.1", "Error: AUTH not permitted during a mail transaction");
    std::string_view mech, initial;
    if (!parse_auth(arg, mech, initial))
      return error(out, 501, "5.5.4", "Syntax: AUTH mechanism [initial-response]");
    Mechanism m = core::ascii_iequals(mech, "PLAIN")      ? Mechanism::kPlain
                  : core::ascii_iequals(mech, "LOGIN")    ? Mechanism::kLogin
                  : core::ascii_iequals(mech, "CRAM-MD5") ? Mechanism::kCramMd5
                                              : Mechanism::kNone;
    if (m == Mechanism::kNone) return error(out, 504, "5.5.4", "Unrecognized authentication mechanism");
    if (!auth_offered()) {
      return error(out, 538, "5.7.11", "Encryption required for requested authentication mechanism");
    }
    mechanism = m;
    bool has_initial = !initial.empty();
    std::string decoded;
    if (has_initial) {
      if (m == Mechanism::kCramMd5) {
        end_auth();
        return error(out, 501, "5.5.4", "Syntax: CRAM-MD5 takes no initial response");
      }
      if (initial != "=") {  // "=" is an empty initial response (RFC 4954 4)
        auto d = core::base64_decode(initial, core::Base64::kStrict);
        if (!d) {
          end_auth();
          return error(out, 501, "5.5.2", "Error: invalid base64 data");
        }
        decoded = std::move(*d);
      }
    }
    switch (m) {
      case Mechanism::kPlain:
        if (has_initial) return plain_response(decoded, out);
        mode = Mode::kAuthLine;
        return send_line(out, 334, "", "");
      case Mechanism::kLogin:
        mode = Mode::kAuthLine;
        if (has_initial) {
          auth_user = std::move(decoded);
          login_have_user = true;
          return send_line(out, 334, "", kLoginPassPrompt);
        }
        return send_line(out, 334, "", kLoginUserPrompt);
      case Mechanism::kCramMd5:
        challenge = "<" + client.nonce + "@" + options.hostname + ">";
        mode = Mode::kAuthLine;
        return send_line(out, 334, "", core::base64_encode(challenge));
      case Mechanism::kNone:
        break;
    }
  }

  void auth_line(std::string_view line, std::vector<Action>& out) {
    if (line == "*") {
      end_auth();
      return error(out, 501, "5.0.0", "Authentication cancelled");
    }
    auto decoded = core::base64_decode(line, core::Base64::kStrict);
    if (!decoded) {
      end_auth();
      return error(out, 501, "5.5.2", "Error: invalid base64 data");
    }
    switch (mechanism) {
      case Mechanism::kPlain:
        mode = Mode::kCommand;
        return plain_response(*decoded, out);
      case Mechanism::kLogin:
        if (!login_have_user) {
          auth_user = std::move(*decoded);
          login_have_user = true;
          return send_line(out, 334, "", kLoginPassPrompt);
        }
        mode = Mode::kCommand;
        return check_auth(out, "LOGIN", std::move(auth_user), std::move(*decoded), {}, {});
      case Mechanism::kCramMd5: {
        mode = Mode::kCommand;
        // "username SP digest": the digest is 32 hex digits; the user name may itself contain spaces.
        std::string_view s = *decoded;
        std::size_t sp = s.rfind(' ');
        if (sp == std::string_view::npos || sp == 0 || s.size() - sp - 1 != 32) return auth_malformed(out);
        for (char c : s.substr(sp + 1)) {
          if (!std::isxdigit(static_cast<unsigned char>(c))) return auth_malformed(out);
        }
        return check_auth(out, "CRAM-MD5", std::string(s.substr(0, sp)), {}, std::move(challenge),
                          std::string(s.substr(sp + 1)));
      }
      case Mechanism::kNone:
        break;
    }
    end_auth();
  }

  // RFC 4616: [authzid] NUL authcid NUL passwd.
  void plain_response(std::string_view msg_view, std::vector<Action>& out) {
    std::size_t a = msg_view.find('\0');
    std::size_t b = a == std::string_view::npos ? a : msg_view.find('\0', a + 1);
    if (b == std::string_view::npos || msg_view.find('\0', b + 1) != std::string_view::npos) {
      return auth_malformed(out);
    }
    std::string_view authzid = msg_view.substr(0, a);
    std::string_view authcid = msg_view.substr(a + 1, b - a - 1);
    std::string_view passwd = msg_view.substr(b + 1);
    if (authcid.empty() || (!authzid.empty() && authzid != authcid)) return auth_malformed(out);
    check_auth(out, "PLAIN", std::string(authcid), std::string(passwd), {}, {});
  }

  void auth_malformed(std::vector<Action>& out) {
    end_auth();
    error(out, 535, "5.7.8", "Authentication credentials invalid");
  }

  void check_auth(std::vector<Action>& out, const char* mech, std::string user, std::string password,
                  std::string chal, std::string response) {
    end_auth();
    auth_user = user;
    out.emplace_back(
        CheckAuth{mech, std::move(user), std::move(password), std::move(chal), std::move(response)});
    mode = Mode::kWaitAuth;
  }

  // ---- DATA -------------------------------------------------------------------------------------

  void append(const char* p, std::size_t n) {
    msg_size += n;
    if (oversize || line_too_long || over_budget) return;
    if (msg_size > options.limits.max_message_size) {
      oversize = true;
      drop_bytes();  // keep reading to the end of data, storing nothing
      return;
    }
    if (!grow(msg.size() + n)) {
      over_budget = true;
      drop_bytes();
      return;
    }
    msg.append(p, n);
  }

  void add_line_bytes(std::size_t n) {
    line_len += n;
    if (line_len > options.limits.max_text_line && !line_too_long) {
      line_too_long = true;
      drop_bytes();
    }
  }

  // Consumes DATA content from `in`; returns the bytes consumed (all of them unless the end of data
  // was reached). Lines are delimited by CRLF only; a CR or LF alone is content.
  std::size_t scan_data(std::string_view input, std::vector<Action>& out) {
    const char* p = input.data();
    const char* end = p + input.size();
    while (p < end) {
      switch (ds) {
        case DataState::kLineStart:
          line_len = 0;
          if (*p == '.') {
            ++p;
            add_line_bytes(1);
            ds = DataState::kDot;
          } else {
            ds = DataState::kMid;
          }
          break;
        case DataState::kDot:
          if (*p == '\r') {
            ++p;
            add_line_bytes(1);
            ds = DataState::kDotCr;
          } else {
            ds = DataState::kMid;  // RFC 5321 4.5.2: the leading dot is dropped
          }
          break;
        case DataState::kDotCr:
          if (*p == '\n') {
            ++p;
            finish_data(out);
            return static_cast<std::size_t>(p - input.data());
          }
          bare = true;  // ".\r" then not LF: the CR is content
          append("\r", 1);
          ds = DataState::kMid;
          break;
        case DataState::kCr:
          if (*p == '\n') {
            append(p, 1);
            ++p;
            add_line_bytes(1);
            ds = DataState::kLineStart;
          } else {
            bare = true;  // the CR already appended was bare
            ds = DataState::kMid;
          }
          break;
        case DataState::kMid: {
          const char* lf = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
          const char* seg_end = lf != nullptr ? lf : end;
          if (!bare) {
            // A CR anywhere but right before the LF (or at the end of the input, pending) is bare.
            const char* cr_end = (seg_end > p && seg_end[-1] == '\r') ? seg_end - 1 : seg_end;
            if (cr_end > p && std::memchr(p, '\r', static_cast<std::size_t>(cr_end - p)) != nullptr)
              bare = true;
          }
          if (lf == nullptr) {
            auto n = static_cast<std::size_t>(end - p);
            append(p, n);
            add_line_bytes(n);
            ds = end[-1] == '\r' ? DataState::kCr : DataState::kMid;
            p = end;
            break;
          }
          auto n = static_cast<std::size_t>(lf + 1 - p);
          bool crlf = lf > p && lf[-1] == '\r';
          append(p, n);
          add_line_bytes(n);
          p = lf + 1;
          if (crlf) {
            ds = DataState::kLineStart;
          } else {
            bare = true;  // a bare LF is content, not a line end
          }
          break;
        }
      }
    }
    return input.size();
  }

  void finish_data(std::vector<Action>& out) {
    mode = Mode::kCommand;
    if (line_too_long) {
      reset_transaction();
      return error(out, 500, "5.5.2", "Error: line too long");
    }
    if (oversize) {
      reset_transaction();
      return error(out, 552, "5.3.4", "Message size exceeds fixed maximum message size");
    }
    if (over_budget) {
      reset_transaction();
      return send_line(out, 452, "4.3.1", "Insufficient system storage, try again later");  // not counted
    }
    if (bare && options.bare_newline == BareNewlinePolicy::kReject) {
      reset_transaction();
      return error(out, 554, "5.6.0", "Message contains bare CR or LF");
    }
    env.bare_newline = bare;
    deliver(out);
  }

  // The message is complete: the policy's last word, then Deliver (the transaction's data moves out).
  void deliver(std::vector<Action>& out) {
    mode = Mode::kCommand;
    if (ask_policy(Stage::kData, {}, msg, out) != PolicyOutcome::kNone) {
      reset_transaction();
      return;
    }
    core::Envelope next;
    next.helo = env.helo;
    next.esmtp = env.esmtp;
    next.client_ip = env.client_ip;
    next.client_port = env.client_port;
    next.tls_version = env.tls_version;
    next.tls_cipher = env.tls_cipher;
    next.auth_user = env.auth_user;
    out.emplace_back(Deliver{std::move(env), std::move(msg)});
    msg = std::string();
    delivered_reserved = reserved;  // the message still takes its room until it is stored
    reserved = 0;
    env = std::move(next);
    reset_transaction();
    mode = Mode::kWaitDeliver;
  }

  // ---- resumption -------------------------------------------------------------------------------

  // Processes buffered input after an asynchronous outcome (or when feed() appended to it).
  void run(std::vector<Action>& out) {
    std::size_t n = process(std::string_view(in).substr(pos), out);
    pos += n;
    if (mode == Mode::kClosed || mode == Mode::kWaitTls || pos >= in.size()) {
      in.clear();
      pos = 0;
    } else if (pos >= kCompactThreshold && pos * 2 >= in.size()) {
      in.erase(0, pos);
      pos = 0;
    }
  }
};

Session::Session(const SessionOptions& options, ReplyPolicy& policy, ClientInfo client)
    : impl_(std::make_unique<Impl>(options, policy, std::move(client))) {}

Session::~Session() {
  const Impl& s = *impl_;
  if (s.options.budget) s.options.budget->release(s.reserved + s.delivered_reserved);
}

void Session::start(std::vector<Action>& out) {
  Impl& s = *impl_;
  if (s.started) return;
  s.started = true;
  std::optional<Reply> r = s.policy.decide(PolicyInput{Stage::kConnect, s.env, {}, {}});
  if (r) {
    Impl::out_buffer(out) += r->wire();
    if (r->code >= 400) s.close(out);
    return;
  }
  Impl::send_line(out, 220, "", s.options.hostname + " ESMTP mailjar");
}

void Session::feed(std::string_view bytes, std::vector<Action>& out) {
  Impl& s = *impl_;
  switch (s.mode) {
    case Mode::kClosed:
    case Mode::kWaitTls:  // sent before the handshake: never processed (CVE-2011-0411)
      return;
    case Mode::kWaitAuth:
    case Mode::kWaitDeliver:
      s.in.append(bytes);
      return;
    default:
      break;
  }
  if (s.pos < s.in.size()) {
    s.in.append(bytes);
    s.run(out);
    return;
  }
  // Nothing buffered: work on the caller's bytes directly and keep only what is left over.
  s.in.clear();
  s.pos = 0;
  std::size_t n = s.process(bytes, out);
  if (n < bytes.size() && s.mode != Mode::kClosed && s.mode != Mode::kWaitTls) s.in.assign(bytes.substr(n));
}

void Session::on_auth_result(bool ok, std::vector<Action>& out) {
  Impl& s = *impl_;
  if (s.mode != Mode::kWaitAuth) return;
  s.mode = Mode::kCommand;
  std::string user = std::move(s.auth_user);
  s.auth_user.clear();
  if (!ok) {
    s.error(out, 535, "5.7.8", "Authentication credentials invalid");
  } else {
    PolicyOutcome po = s.ask_policy(Stage::kAuth, user, {}, out);
    if (po != PolicyOutcome::kRejected) {
      s.authenticated = true;
      s.env.auth_user = std::move(user);
      if (po == PolicyOutcome::kNone) Impl::send_line(out, 235, "2.7.0", "Authentication successful");
    }
  }
  s.run(out);
}

void Session::on_delivered(bool ok, const std::string& id, const Reply& failure, std::vector<Action>& out) {
  Impl& s = *impl_;
  if (s.mode != Mode::kWaitDeliver) return;
  s.mode = Mode::kCommand;
  if (s.options.budget) s.options.budget->release(s.delivered_reserved);
  s.delivered_reserved = 0;
  if (ok) {
    s.errors = 0;
    Impl::send_line(out, 250, "2.0.0", "Ok: queued as " + id);
  } else if (failure.code != 0) {
    Impl::out_buffer(out) += failure.wire();
  } else {
    Impl::send_line(out, 451, "4.3.0", "Error: message not stored, try again later");
  }
  s.run(out);
}

void Session::on_tls_established(std::string version, std::string cipher, std::vector<Action>& out) {
  Impl& s = *impl_;
  if (s.mode != Mode::kWaitTls) return;
  // RFC 3207 4.2: discard all knowledge obtained from the client; it must EHLO again.
  s.mode = Mode::kCommand;
  s.tls_active = true;
  s.helo = false;
  s.authenticated = false;
  s.end_auth();
  s.reset_transaction();
  s.reset_envelope();
  s.env.tls_version = std::move(version);
  s.env.tls_cipher = std::move(cipher);
  s.in.clear();
  s.pos = 0;
  s.scanned = 0;
  s.discard_line = false;
}

void Session::on_tls_failed(std::vector<Action>& out) {
  Impl& s = *impl_;
  if (s.mode == Mode::kClosed) return;
  s.close(out);
  s.in.clear();
  s.pos = 0;
}

void Session::on_timeout(std::vector<Action>& out) {
  Impl& s = *impl_;
  if (s.mode == Mode::kClosed) return;
  Impl::send_line(out, 421, "4.4.2", s.options.hostname + " Error: timeout exceeded");
  s.close(out);
  s.in.clear();
  s.pos = 0;
}

bool Session::in_data() const { return impl_->mode == Mode::kData || impl_->mode == Mode::kChunk; }

bool Session::closed() const { return impl_->mode == Mode::kClosed; }

bool Session::mid_command() const {
  const Impl& s = *impl_;
  return (s.mode == Mode::kCommand || s.mode == Mode::kAuthLine) && (s.pos < s.in.size() || s.discard_line);
}

}  // namespace mailjar::smtp
