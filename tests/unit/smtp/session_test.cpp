// smtp::Session: greeting, EHLO, every command in every state, limits, error counting, policy,
// timeouts, pipelining. Driven through harness.h; no sockets.
#include "smtp/session.h"

#include <gtest/gtest.h>
#include <malloc.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "harness.h"

namespace mailjar::smtp {
namespace {

using testing::find_action;
using testing::Harness;
using testing::kinds;
using testing::lines_of;
using testing::sent;

TEST(Reply, WireFormat) {
  EXPECT_EQ((Reply{250, "2.0.0", {"Ok"}}.wire()), "250 2.0.0 Ok\r\n");
  EXPECT_EQ((Reply{354, "", {"Go ahead"}}.wire()), "354 Go ahead\r\n");
  EXPECT_EQ((Reply{550, "5.7.1", {"first", "second", "third"}}.wire()),
            "550-5.7.1 first\r\n550-5.7.1 second\r\n550 5.7.1 third\r\n");
  EXPECT_EQ((Reply{250, "", {"a", "b"}}.wire()), "250-a\r\n250 b\r\n");
  EXPECT_EQ((Reply{334, "", {""}}.wire()), "334 \r\n");
  EXPECT_EQ((Reply{421, "4.3.2", {}}.wire()), "421 4.3.2\r\n");
  // A configured text cannot inject a line break.
  EXPECT_EQ((Reply{550, "5.0.0", {"bad\r\n250 ok"}}.wire()), "550 5.0.0 bad  250 ok\r\n");
}

TEST(Greeting, BannerNamesTheHost) {
  SessionOptions o;
  o.hostname = "mx.test";
  Harness h(o);
  auto a = h.start();
  EXPECT_EQ(kinds(a), "S");
  EXPECT_EQ(sent(a), "220 mx.test ESMTP mailjar\r\n");
  EXPECT_FALSE(h.session().closed());
  EXPECT_FALSE(h.session().in_data());
}

// mid_command() tells the listener a request is in progress (its deadline must not restart).
TEST(MidCommand, TrueOnlyWhilePartOfACommandLineIsBuffered) {
  Harness h;
  h.start();
  EXPECT_FALSE(h.session().mid_command());
  h.say("NO");
  EXPECT_TRUE(h.session().mid_command());
  h.say("OP\r\n");
  EXPECT_FALSE(h.session().mid_command());
  h.say("NOOP\r\nEH");  // one whole command, then part of the next
  EXPECT_TRUE(h.session().mid_command());
  h.say("LO client.example\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n");
  EXPECT_TRUE(h.session().in_data());
  h.say("Subject: x\r\n\r\npartial");
  EXPECT_FALSE(h.session().mid_command());  // content, not a command: the data deadline applies
  h.say(std::string(5000, 'x'));             // an over-long command line being skipped counts too
  h.say("\r\n.\r\n");
  h.delivered();
  h.say(std::string(5000, 'z'));
  EXPECT_TRUE(h.session().mid_command());
}

TEST(Ehlo, AdvertisesExtensionsByOptions) {
  struct Case {
    const char* name;
    bool tls_available;
    bool client_tls;
    AuthMode auth;
    bool cleartext;
    bool starttls_line;
    bool auth_line;
  };
  const Case cases[] = {
      {"plain, no cert", false, false, AuthMode::kOptional, true, false, true},
      {"plain, cert", true, false, AuthMode::kOptional, true, true, true},
      {"auth off", true, false, AuthMode::kOff, true, true, false},
      {"no cleartext auth before TLS", true, false, AuthMode::kRequired, false, true, false},
      {"implicit TLS", true, true, AuthMode::kOptional, false, false, true},
  };
  for (const auto& c : cases) {
    SessionOptions o;
    o.hostname = "mx.test";
    o.tls_available = c.tls_available;
    o.auth = c.auth;
    o.allow_cleartext_auth = c.cleartext;
    o.limits.max_message_size = 12345;
    ClientInfo ci = Harness::default_client();
    ci.tls = c.client_tls;
    Harness h(o, ci);
    h.start();
    auto lines = lines_of(h.say("EHLO client.example\r\n"));
    std::vector<std::string> want = {"250-mx.test Hello client.example",
                                     "250-PIPELINING",
                                     "250-SIZE 12345",
                                     "250-8BITMIME",
                                     "250-SMTPUTF8",
                                     "250-ENHANCEDSTATUSCODES",
                                     "250-CHUNKING",
                                     "250-DSN"};
    if (c.starttls_line) want.push_back("250-STARTTLS");
    if (c.auth_line) want.push_back("250-AUTH PLAIN LOGIN CRAM-MD5");
    want.push_back("250 HELP");
    EXPECT_EQ(lines, want) << c.name;
  }
}

TEST(Helo, PlainReplyAndArgumentRequired) {
  Harness h;
  h.start();
  EXPECT_EQ(h.say("HELO\r\n"), "501 5.5.4 Syntax: HELO hostname\r\n");
  EXPECT_EQ(h.say("EHLO\r\n"), "501 5.5.4 Syntax: EHLO hostname\r\n");
  EXPECT_EQ(h.say("HELO client.example\r\n"), "250 mailjar\r\n");
  // The envelope remembers HELO (not EHLO).
  h.say("MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n");
  auto d = h.data("x\r\n.\r\n");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->envelope.helo, "client.example");
  EXPECT_FALSE(d->envelope.esmtp);
  EXPECT_EQ(d->envelope.client_ip, "192.0.2.7");
  EXPECT_EQ(d->envelope.client_port, 40000);
}

// ---- every command in every state ------------------------------------------------------------

enum class State { kFresh, kHelo, kMail, kRcpt, kAuthExchange, kAfterStartTls };

const char* state_name(State s) {
  switch (s) {
    case State::kFresh:
      return "before HELO";
    case State::kHelo:
      return "after EHLO";
    case State::kMail:
      return "after MAIL";
    case State::kRcpt:
      return "after RCPT";
    case State::kAuthExchange:
      return "during AUTH LOGIN";
    case State::kAfterStartTls:
      return "after STARTTLS";
  }
  return "?";
}

void enter(Harness& h, State s) {
  h.start();
  switch (s) {
    case State::kFresh:
      break;
    case State::kHelo:
      h.say("EHLO c.example\r\n");
      break;
    case State::kMail:
      h.say("EHLO c.example\r\nMAIL FROM:<a@b.example>\r\n");
      break;
    case State::kRcpt:
      h.say("EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n");
      break;
    case State::kAuthExchange:
      h.say("EHLO c.example\r\n");
      EXPECT_EQ(h.say("AUTH LOGIN\r\n"), "334 VXNlcm5hbWU6\r\n");
      break;
    case State::kAfterStartTls:
      h.say("EHLO c.example\r\n");
      EXPECT_EQ(h.say("STARTTLS\r\n"), "220 2.0.0 Ready to start TLS\r\n");
      h.tls_established();
      break;
  }
}

TEST(CommandMatrix, EveryCommandInEveryState) {
  // Expected: the first reply line's start (code and enhanced code) and the action kinds.
  struct Expect {
    const char* reply;
    const char* kinds;
  };
  struct Row {
    const char* command;
    Expect e[6];  // indexed by State
  };
  // Columns: before HELO | after EHLO | after MAIL | after RCPT | during AUTH LOGIN | after STARTTLS.
  // During AUTH LOGIN every line is a base64 response: "NOOP" is valid base64 (a user name), "EHLO x" not.
  // clang-format off
  const Row rows[] = {
      {"EHLO x.example", {{"250-", "S"}, {"250-", "S"}, {"250-", "S"}, {"250-", "S"}, {"501 5.5.2", "S"}, {"250-", "S"}}},
      {"HELO x.example", {{"250 mailjar", "S"}, {"250 mailjar", "S"}, {"250 mailjar", "S"}, {"250 mailjar", "S"}, {"501 5.5.2", "S"}, {"250 mailjar", "S"}}},
      {"MAIL FROM:<m@x.example>", {{"503 5.5.1", "S"}, {"250 2.1.0", "S"}, {"503 5.5.1", "S"}, {"503 5.5.1", "S"}, {"501 5.5.2", "S"}, {"503 5.5.1", "S"}}},
      {"RCPT TO:<r@x.example>", {{"503 5.5.1", "S"}, {"503 5.5.1", "S"}, {"250 2.1.5", "S"}, {"250 2.1.5", "S"}, {"501 5.5.2", "S"}, {"503 5.5.1", "S"}}},
      {"DATA", {{"503 5.5.1", "S"}, {"503 5.5.1", "S"}, {"503 5.5.1 Error: No valid recipients", "S"}, {"354 ", "S"}, {"334 UGFzc3dvcmQ6", "S"}, {"503 5.5.1", "S"}}},
      {"BDAT 0 LAST", {{"503 5.5.1", "S"}, {"503 5.5.1", "S"}, {"503 5.5.1", "S"}, {"", "D"}, {"501 5.5.2", "S"}, {"503 5.5.1", "S"}}},
      {"RSET", {{"250 2.0.0", "S"}, {"250 2.0.0", "S"}, {"250 2.0.0", "S"}, {"250 2.0.0", "S"}, {"334 UGFzc3dvcmQ6", "S"}, {"250 2.0.0", "S"}}},
      {"NOOP", {{"250 2.0.0", "S"}, {"250 2.0.0", "S"}, {"250 2.0.0", "S"}, {"250 2.0.0", "S"}, {"334 UGFzc3dvcmQ6", "S"}, {"250 2.0.0", "S"}}},
      {"QUIT", {{"221 2.0.0", "SC"}, {"221 2.0.0", "SC"}, {"221 2.0.0", "SC"}, {"221 2.0.0", "SC"}, {"334 UGFzc3dvcmQ6", "S"}, {"221 2.0.0", "SC"}}},
      {"VRFY someone", {{"252 2.1.5", "S"}, {"252 2.1.5", "S"}, {"252 2.1.5", "S"}, {"252 2.1.5", "S"}, {"501 5.5.2", "S"}, {"252 2.1.5", "S"}}},
      {"HELP", {{"214 2.0.0", "S"}, {"214 2.0.0", "S"}, {"214 2.0.0", "S"}, {"214 2.0.0", "S"}, {"334 UGFzc3dvcmQ6", "S"}, {"214 2.0.0", "S"}}},
      {"STARTTLS", {{"220 2.0.0", "ST"}, {"220 2.0.0", "ST"}, {"220 2.0.0", "ST"}, {"220 2.0.0", "ST"}, {"334 UGFzc3dvcmQ6", "S"}, {"503 5.5.1", "S"}}},
      {"AUTH PLAIN AHUAcA==", {{"503 5.5.1", "S"}, {"", "A"}, {"503 5.5.1", "S"}, {"503 5.5.1", "S"}, {"501 5.5.2", "S"}, {"503 5.5.1", "S"}}},
      {"XYZZY", {{"500 5.5.2", "S"}, {"500 5.5.2", "S"}, {"500 5.5.2", "S"}, {"500 5.5.2", "S"}, {"501 5.5.2", "S"}, {"500 5.5.2", "S"}}},
      {"GET / HTTP/1.1", {{"421 4.7.0", "SC"}, {"421 4.7.0", "SC"}, {"421 4.7.0", "SC"}, {"421 4.7.0", "SC"}, {"501 5.5.2", "S"}, {"421 4.7.0", "SC"}}},
  };
  // clang-format on
  for (const auto& row : rows) {
    for (int si = 0; si < 6; ++si) {
      auto st = static_cast<State>(si);
      SessionOptions o;
      o.tls_available = true;
      Harness h(o);
      enter(h, st);
      auto a = h.feed(std::string(row.command) + "\r\n");
      const Expect& e = row.e[si];
      std::string where = std::string(row.command) + " " + state_name(st);
      EXPECT_EQ(kinds(a), e.kinds) << where;
      EXPECT_EQ(sent(a).rfind(e.reply, 0), 0u) << where << ": got " << sent(a);
      EXPECT_EQ(h.session().closed(), std::string(e.kinds).find('C') != std::string::npos) << where;
    }
  }
}

TEST(CommandMatrix, InDataEveryCommandIsContent) {
  const char* commands[] = {"EHLO x",
                            "HELO x",
                            "MAIL FROM:<a@b>",
                            "RCPT TO:<c@d>",
                            "DATA",
                            "BDAT 3 LAST",
                            "RSET",
                            "NOOP",
                            "QUIT",
                            "VRFY x",
                            "HELP",
                            "STARTTLS",
                            "AUTH PLAIN AHUAcA==",
                            "GET / HTTP/1.1"};
  for (const char* c : commands) {
    Harness h;
    h.to_rcpt();
    EXPECT_EQ(h.say("DATA\r\n"), "354 End data with <CR><LF>.<CR><LF>\r\n");
    EXPECT_TRUE(h.session().in_data());
    auto a = h.feed(std::string(c) + "\r\n");
    EXPECT_TRUE(a.empty()) << c;
    a = h.feed(".\r\n");
    ASSERT_EQ(kinds(a), "D") << c;
    EXPECT_EQ(std::get<Deliver>(a[0]).data, std::string(c) + "\r\n");
    EXPECT_FALSE(h.session().in_data());
  }
}

TEST(CommandMatrix, ClosedSessionIgnoresEverything) {
  Harness h;
  h.ehlo();
  auto a = h.feed("QUIT\r\nNOOP\r\n");
  EXPECT_EQ(kinds(a), "SC");
  EXPECT_EQ(sent(a), "221 2.0.0 Bye\r\n");  // NOOP after QUIT is not answered
  EXPECT_TRUE(h.session().closed());
  EXPECT_TRUE(h.feed("NOOP\r\nEHLO x\r\n").empty());
  EXPECT_TRUE(h.auth_result(true).empty());
  EXPECT_TRUE(h.delivered().empty());
  EXPECT_TRUE(h.tls_established().empty());
  std::vector<Action> out;
  h.session().on_timeout(out);
  EXPECT_TRUE(out.empty());
}

TEST(CommandMatrix, EhloResetsTransactionButKeepsSession) {
  Harness h;
  h.to_rcpt();
  EXPECT_EQ(h.say("EHLO again.example\r\n").substr(0, 4), "250-");
  EXPECT_EQ(h.say("RCPT TO:<x@y.example>\r\n"), "503 5.5.1 Error: need MAIL command\r\n");
  EXPECT_EQ(h.say("MAIL FROM:<a@b.example>\r\n"), "250 2.1.0 Ok\r\n");
}

TEST(CommandMatrix, RsetResetsTransaction) {
  Harness h;
  h.to_rcpt();
  EXPECT_EQ(h.say("RSET\r\n"), "250 2.0.0 Ok\r\n");
  EXPECT_EQ(h.say("DATA\r\n"), "503 5.5.1 Error: need MAIL command\r\n");
  EXPECT_EQ(h.say("RSET now\r\n"), "501 5.5.4 Syntax: RSET\r\n");
  EXPECT_EQ(h.say("MAIL FROM:<a@b.example>\r\n"), "250 2.1.0 Ok\r\n");  // HELO kept
}

TEST(Commands, MiscReplies) {
  Harness h;
  h.ehlo();
  EXPECT_EQ(h.say("noop\r\n"), "250 2.0.0 Ok\r\n");
  EXPECT_EQ(h.say("NOOP with args\r\n"), "250 2.0.0 Ok\r\n");
  EXPECT_EQ(h.say("VRFY\r\n"), "501 5.5.4 Syntax: VRFY address\r\n");
  EXPECT_EQ(h.say("vrfy bob\r\n"),
            "252 2.1.5 Cannot VRFY user, but will accept message and attempt delivery\r\n");
  EXPECT_EQ(h.say("HELP\r\n").substr(0, 10), "214 2.0.0 ");
  EXPECT_EQ(h.say("EXPN list\r\n"), "500 5.5.2 Error: command not recognized\r\n");
  EXPECT_EQ(h.say("DATA now\r\n"), "503 5.5.1 Error: need MAIL command\r\n");
  // Bare LF ends a command line too (lenient).
  EXPECT_EQ(h.say("NOOP\n"), "250 2.0.0 Ok\r\n");
}

TEST(Commands, HttpLinesCloseTheConnection) {
  const char* lines[] = {"GET / HTTP/1.1", "POST /api HTTP/1.1", "CONNECT mx.example:25 HTTP/1.1",
                         "get /favicon.ico HTTP/1.1", "HEAD / HTTP/1.0"};
  for (const char* l : lines) {
    Harness h;
    h.start();
    auto a = h.feed(std::string(l) + "\r\nHost: localhost\r\n\r\n");
    EXPECT_EQ(kinds(a), "SC") << l;
    EXPECT_EQ(sent(a).substr(0, 10), "421 4.7.0 ") << l;
    EXPECT_TRUE(h.session().closed());
  }
}

TEST(Commands, BadBytesInCommands) {
  struct Case {
    std::string line;
    std::string reply;
  };
  const Case cases[] = {
      {std::string("NOOP\0", 5), "500 5.5.2"},
      {std::string("NO\0OP", 5), "500 5.5.2"},
      {"NO\rOP", "500 5.5.2"},
      {"NOOP \xc3\xa9", "500 5.5.2"},
      {"\xc3\xa9HLO x", "500 5.5.2"},
      {"EHLO \xc3\xa9xample.com", "500 5.5.2"},
      {"MAIL FROM:<a@b\xff>", "500 5.5.2"},
      {"HELP\x1b", "500 5.5.2"},
  };
  for (const auto& c : cases) {
    Harness h;
    h.ehlo();
    EXPECT_EQ(h.say(c.line + "\r\n").substr(0, 9), c.reply) << c.line;
    EXPECT_EQ(h.say("NOOP\r\n"), "250 2.0.0 Ok\r\n");  // the session goes on
  }
}

// ---- MAIL / RCPT ---------------------------------------------------------------------------------

TEST(MailRcpt, RepliesAndEnvelope) {
  struct Case {
    std::string mail;
    std::string rcpt;
    std::string mail_reply;
    std::string rcpt_reply;
  };
  const Case cases[] = {
      {"MAIL FROM:<a@b.example>", "RCPT TO:<c@d.example>", "250 2.1.0", "250 2.1.5"},
      {"MAIL FROM: <a@b.example>", "RCPT TO: <c@d.example>", "250 2.1.0", "250 2.1.5"},
      {"MAIL FROM:<>", "RCPT TO:<Postmaster>", "250 2.1.0", "250 2.1.5"},
      {"MAIL FROM:a@b.example", "", "501 5.5.4", ""},
      {"MAIL FROM:<a@b.example> FOO=BAR", "", "555 5.5.4", ""},
      {"MAIL FROM:<a@b.example> SIZE=x", "", "501 5.5.4", ""},
      {"MAIL FROM:<a@b.example> SIZE=1001", "", "552 5.3.4", ""},
      {"MAIL FROM:<a@b.example> SIZE=1000", "RCPT TO:<c@d.example> FOO=1", "250 2.1.0", "555 5.5.4"},
      {"MAIL FROM:<a@b.example>", "RCPT TO:c@d.example", "250 2.1.0", "501 5.5.4"},
      {"MAIL FROM:<a@b.example>", "RCPT TO:<>", "250 2.1.0", "501 5.5.4"},
      {"MAIL FROM:<a@b.example>", "RCPT TO:<c@d.example> NOTIFY=NEVER,DELAY", "250 2.1.0", "501 5.5.4"},
      // SMTPUTF8 rules (RFC 6531 3.4).
      {"MAIL FROM:<\xc3\xbc@b.example>", "", "553 5.6.7", ""},
      {"MAIL FROM:<\xc3\xbc@b.example> SMTPUTF8", "RCPT TO:<\xc3\xa9@d.example>", "250 2.1.0", "250 2.1.5"},
      {"MAIL FROM:<a@b.example>", "RCPT TO:<\xc3\xa9@d.example>", "250 2.1.0", "553 5.6.7"},
      {"MAIL FROM:<a@b.example> SMTPUTF8", "RCPT TO:<c@\xc3\xa9.example>", "250 2.1.0", "250 2.1.5"},
  };
  for (const auto& c : cases) {
    SessionOptions o;
    o.limits.max_message_size = 1000;
    Harness h(o);
    h.ehlo();
    EXPECT_EQ(h.say(c.mail + "\r\n").substr(0, 9), c.mail_reply) << c.mail;
    if (!c.rcpt.empty()) {
      EXPECT_EQ(h.say(c.rcpt + "\r\n").substr(0, 9), c.rcpt_reply) << c.rcpt;
    }
  }
}

TEST(MailRcpt, RawParametersKeptAsSent) {
  Harness h;
  h.ehlo();
  h.say("MAIL FROM:<\xc3\xbc@b.example> SIZE=10 BODY=8BITMIME  RET=HDRS ENVID=abc+2B SMTPUTF8\r\n");
  h.say("RCPT TO:<c@d.example> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;c+40d.example\r\n");
  h.say("RCPT TO:<@relay.example:e@f.example>\r\n");
  auto d = h.data("hi\r\n.\r\n");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->envelope.mail_from, "\xc3\xbc@b.example");
  EXPECT_EQ(d->envelope.mail_params, "SIZE=10 BODY=8BITMIME  RET=HDRS ENVID=abc+2B SMTPUTF8");
  EXPECT_TRUE(d->envelope.smtputf8);
  ASSERT_EQ(d->envelope.rcpts.size(), 2u);
  EXPECT_EQ(d->envelope.rcpts[0].address, "c@d.example");
  EXPECT_EQ(d->envelope.rcpts[0].params, "NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;c+40d.example");
  EXPECT_EQ(d->envelope.rcpts[1].address, "e@f.example");  // source route stripped
  EXPECT_EQ(d->envelope.rcpts[1].params, "");
  EXPECT_FALSE(d->envelope.chunked);
  EXPECT_FALSE(d->envelope.bare_newline);
}

TEST(MailRcpt, RepeatedParameters) {
  Harness h;
  h.ehlo();
  EXPECT_EQ(h.say("MAIL FROM:<\xc3\xbc@b.example> SMTPUTF8 SMTPUTF8 BODY=8BITMIME\r\n"), "250 2.1.0 Ok\r\n");
  EXPECT_EQ(h.say("RCPT TO:<c@d.example> NOTIFY=never ORCPT=rfc822;x ORCPT=rfc822;y\r\n"),
            "501 5.5.4 Syntax: conflicting values of the ORCPT parameter\r\n");
  h.say("RSET\r\n");
  EXPECT_EQ(h.say("MAIL FROM:<a@b.example> body=7BIT Body=8bitmime\r\n"),
            "501 5.5.4 Syntax: conflicting values of the BODY parameter\r\n");
}

TEST(MailRcpt, NullSenderAndNestedMail) {
  Harness h;
  h.ehlo();
  EXPECT_EQ(h.say("MAIL FROM:<>\r\n"), "250 2.1.0 Ok\r\n");
  EXPECT_EQ(h.say("MAIL FROM:<a@b.example>\r\n"), "503 5.5.1 Error: nested MAIL command\r\n");
  h.say("RCPT TO:<c@d.example>\r\n");
  auto d = h.data(".\r\n");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->envelope.mail_from, "");
  EXPECT_EQ(d->data, "");
}

// ---- limits --------------------------------------------------------------------------------------

TEST(Limits, CommandLineLength) {
  SessionOptions o;
  o.limits.max_command_line = 64;
  Harness h(o);
  h.ehlo();
  std::string fits = "NOOP " + std::string(64 - 7, 'x') + "\r\n";  // exactly 64 with CRLF
  ASSERT_EQ(fits.size(), 64u);
  EXPECT_EQ(h.say(fits), "250 2.0.0 Ok\r\n");
  std::string over = "NOOP " + std::string(64 - 6, 'x') + "\r\n";  // 65
  EXPECT_EQ(h.say(over), "500 5.5.2 Error: line too long\r\n");
  // A long line in one feed with a command after it.
  EXPECT_EQ(h.say("NOOP " + std::string(1000, 'y') + "\r\nNOOP\r\n"),
            "500 5.5.2 Error: line too long\r\n250 2.0.0 Ok\r\n");
  EXPECT_EQ(h.say("NOOP\r\n"), "250 2.0.0 Ok\r\n");
}

TEST(Limits, LongCommandLineIsSkippedWithoutBuffering) {
  SessionOptions o;
  o.limits.max_command_line = 512;
  o.limits.max_errors = 100;
  Harness h(o);
  h.ehlo();
  std::string chunk(64 * 1024, 'z');
  struct mallinfo2 before = mallinfo2();
  for (int i = 0; i < 256; ++i) EXPECT_TRUE(h.feed(chunk).empty());  // 16 MiB without LF: no reply yet
  struct mallinfo2 after = mallinfo2();
  EXPECT_LT(after.uordblks, before.uordblks + 1024 * 1024) << "the over-long line was buffered";
  EXPECT_EQ(h.say("zzz\r\nNOOP\r\n"), "500 5.5.2 Error: line too long\r\n250 2.0.0 Ok\r\n");
}

TEST(Limits, LongCommandLineTrickledByteByByte) {
  SessionOptions o;
  o.limits.max_command_line = 32;
  Harness h(o);
  h.ehlo();
  std::string out;
  for (char c : std::string(100, 'a') + "\r\n") out += h.say(std::string(1, c));
  EXPECT_EQ(out, "500 5.5.2 Error: line too long\r\n");
  out.clear();
  for (char c : std::string("NOOP\r\n")) out += h.say(std::string(1, c));
  EXPECT_EQ(out, "250 2.0.0 Ok\r\n");
}

TEST(Limits, MaxErrorsClosesWith421) {
  SessionOptions o;
  o.limits.max_errors = 3;
  Harness h(o);
  h.start();
  EXPECT_EQ(h.say("FOO\r\n"), "500 5.5.2 Error: command not recognized\r\n");
  EXPECT_EQ(h.say("MAIL FROM:<a@b>\r\n"), "503 5.5.1 Error: send HELO/EHLO first\r\n");
  EXPECT_EQ(h.say("HELO\r\n"), "501 5.5.4 Syntax: HELO hostname\r\n");
  EXPECT_EQ(h.say("NOOP\r\n"), "250 2.0.0 Ok\r\n");  // successes do not count
  auto a = h.feed("BAR\r\nNOOP\r\n");
  EXPECT_EQ(kinds(a), "SC");
  EXPECT_EQ(sent(a),
            "500 5.5.2 Error: command not recognized\r\n421 4.7.0 mailjar Error: too many errors\r\n");
  EXPECT_TRUE(h.session().closed());
}

TEST(Limits, ErrorCountRestartsAfterDelivery) {
  SessionOptions o;
  o.limits.max_errors = 2;
  Harness h(o);
  h.to_rcpt();
  h.say("FOO\r\nFOO\r\n");
  ASSERT_TRUE(h.data("x\r\n.\r\n"));
  h.say("FOO\r\nFOO\r\n");
  EXPECT_FALSE(h.session().closed());
  auto a = h.feed("FOO\r\n");
  EXPECT_EQ(kinds(a), "SC");
}

TEST(Limits, TooManyRecipientsIsNotAnErrorAndKeepsTheConnection) {
  SessionOptions o;
  o.limits.max_recipients = 2;
  o.limits.max_errors = 3;
  Harness h(o);
  h.ehlo();
  h.say("MAIL FROM:<a@b.example>\r\n");
  std::string rcpts;
  for (int i = 0; i < 10; ++i) rcpts += "RCPT TO:<r" + std::to_string(i) + "@x.example>\r\n";
  auto lines = lines_of(h.say(rcpts));
  ASSERT_EQ(lines.size(), 10u);
  EXPECT_EQ(lines[0], "250 2.1.5 Ok");
  EXPECT_EQ(lines[1], "250 2.1.5 Ok");
  for (int i = 2; i < 10; ++i) EXPECT_EQ(lines[i], "452 4.5.3 Error: too many recipients");
  EXPECT_FALSE(h.session().closed());
  auto d = h.data("x\r\n.\r\n");
  ASSERT_TRUE(d);
  ASSERT_EQ(d->envelope.rcpts.size(), 2u);
  EXPECT_EQ(d->envelope.rcpts[1].address, "r1@x.example");
}

TEST(Limits, TenThousandRecipients) {
  Harness h;  // default max_recipients = 1000
  h.ehlo();
  h.say("MAIL FROM:<a@b.example>\r\n");
  std::string batch;
  for (int i = 0; i < 10000; ++i) batch += "RCPT TO:<recipient" + std::to_string(i) + "@example.com>\r\n";
  struct mallinfo2 before = mallinfo2();
  auto a = h.feed(batch);
  struct mallinfo2 after = mallinfo2();
  ASSERT_EQ(kinds(a), "S");  // one coalesced write
  auto lines = lines_of(sent(a));
  ASSERT_EQ(lines.size(), 10000u);
  EXPECT_EQ(lines[999], "250 2.1.5 Ok");
  EXPECT_EQ(lines[1000], "452 4.5.3 Error: too many recipients");
  EXPECT_EQ(lines[9999], "452 4.5.3 Error: too many recipients");
  // The reply text itself is ~370 KB; recipients beyond the limit are not stored.
  EXPECT_LT(after.uordblks, before.uordblks + 2 * 1024 * 1024);
  EXPECT_FALSE(h.session().closed());
  auto d = h.data("x\r\n.\r\n");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->envelope.rcpts.size(), 1000u);
}

TEST(Timeout, Answers421AndCloses) {
  for (bool in_data : {false, true}) {
    Harness h;
    h.to_rcpt();
    if (in_data) {
      h.say("DATA\r\npartial line");
      EXPECT_TRUE(h.session().in_data());
    }
    std::vector<Action> out;
    h.session().on_timeout(out);
    EXPECT_EQ(kinds(out), "SC");
    EXPECT_EQ(sent(out), "421 4.4.2 mailjar Error: timeout exceeded\r\n");
    EXPECT_TRUE(h.session().closed());
    EXPECT_TRUE(h.feed("NOOP\r\n").empty());
  }
}

// ---- pipelining ------------------------------------------------------------------------------------

TEST(Pipelining, RepliesAreCoalescedIntoOneWrite) {
  Harness h;
  h.start();
  auto a = h.feed(
      "EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nRCPT TO:<bad>\r\n"
      "RCPT TO:<e@f.example>\r\nDATA\r\n");
  ASSERT_EQ(kinds(a), "S");
  auto lines = lines_of(sent(a));
  ASSERT_EQ(lines.size(), 15u);
  EXPECT_EQ(lines[10], "250 2.1.0 Ok");
  EXPECT_EQ(lines[11], "250 2.1.5 Ok");
  EXPECT_EQ(lines[12], "501 5.5.4 Syntax: RCPT TO:<address> [parameters]");
  EXPECT_EQ(lines[13], "250 2.1.5 Ok");
  EXPECT_EQ(lines[14], "354 End data with <CR><LF>.<CR><LF>");
}

TEST(Pipelining, WholeTransactionInOneFeedWaitsForDelivery) {
  Harness h;
  h.ehlo();
  auto a = h.feed(
      "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\nSubject: 1\r\n\r\none\r\n.\r\n"
      "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\nSubject: 2\r\n\r\ntwo\r\n.\r\nQUIT\r\n");
  ASSERT_EQ(kinds(a), "SD");
  EXPECT_EQ(sent(a), "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n");
  EXPECT_EQ(std::get<Deliver>(a[1]).data, "Subject: 1\r\n\r\none\r\n");
  // While the delivery is outstanding, more input is only buffered.
  EXPECT_TRUE(h.feed("NOOP\r\n").empty());
  a = h.delivered("ONE");
  ASSERT_EQ(kinds(a), "SD");
  EXPECT_EQ(sent(a),
            "250 2.0.0 Ok: queued as ONE\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with "
            "<CR><LF>.<CR><LF>\r\n");
  EXPECT_EQ(std::get<Deliver>(a[1]).data, "Subject: 2\r\n\r\ntwo\r\n");
  a = h.delivered("TWO");
  EXPECT_EQ(kinds(a), "SC");
  EXPECT_EQ(sent(a), "250 2.0.0 Ok: queued as TWO\r\n221 2.0.0 Bye\r\n");
}

TEST(Pipelining, CommandSplitAcrossFeeds) {
  Harness h;
  h.start();
  std::string script = "EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nNOOP\r\n";
  std::string whole;
  {
    Harness ref;
    ref.start();
    whole = ref.say(script);
  }
  std::string got;
  for (char c : script) got += h.say(std::string(1, c));
  EXPECT_EQ(got, whole);
}

TEST(Delivery, FailureReplyIsSentAndTransactionReset) {
  Harness h;
  h.to_rcpt();
  auto a = h.feed("DATA\r\nx\r\n.\r\n");
  ASSERT_EQ(kinds(a), "SD");
  a = h.delivery_failed(Reply{451, "4.3.0", {"Error: storage unavailable"}});
  EXPECT_EQ(sent(a), "451 4.3.0 Error: storage unavailable\r\n");
  EXPECT_EQ(h.say("RCPT TO:<c@d.example>\r\n"), "503 5.5.1 Error: need MAIL command\r\n");
  EXPECT_EQ(h.say("MAIL FROM:<a@b.example>\r\n"), "250 2.1.0 Ok\r\n");
  // A failure without a reply still answers.
  h.say("RCPT TO:<c@d.example>\r\n");
  h.feed("DATA\r\nx\r\n.\r\n");
  EXPECT_EQ(sent(h.delivery_failed(Reply{})).substr(0, 10), "451 4.3.0 ");
}

TEST(Delivery, OutcomesWithoutAnOutstandingActionAreIgnored) {
  Harness h;
  h.ehlo();
  EXPECT_TRUE(h.delivered().empty());
  EXPECT_TRUE(h.auth_result(true).empty());
  EXPECT_TRUE(h.tls_established().empty());
  EXPECT_EQ(h.say("NOOP\r\n"), "250 2.0.0 Ok\r\n");
}

// ---- policy ----------------------------------------------------------------------------------------

TEST(Policy, AskedAtEachStageWithTheEnvelopeSoFar) {
  Harness h;
  h.to_rcpt();
  h.say("RCPT TO:<e@f.example>\r\n");
  auto d = h.data("body\r\n.\r\n");
  ASSERT_TRUE(d);
  const auto& seen = h.policy.seen;
  ASSERT_EQ(seen.size(), 5u);
  EXPECT_EQ(seen[0].stage, Stage::kConnect);
  EXPECT_EQ(seen[1].stage, Stage::kMail);
  EXPECT_EQ(seen[1].argument, "a@example.com");
  EXPECT_EQ(seen[1].helo, "client.example");
  EXPECT_EQ(seen[2].stage, Stage::kRcpt);
  EXPECT_EQ(seen[2].argument, "b@example.com");
  EXPECT_EQ(seen[2].mail_from, "a@example.com");
  EXPECT_EQ(seen[2].rcpts, 0u);
  EXPECT_EQ(seen[3].argument, "e@f.example");
  EXPECT_EQ(seen[3].rcpts, 1u);
  EXPECT_EQ(seen[4].stage, Stage::kData);
  EXPECT_EQ(seen[4].message, "body\r\n");
  EXPECT_EQ(seen[4].rcpts, 2u);
}

TEST(Policy, RejectionAtEachStage) {
  const Reply reject{550, "5.7.1", {"Rejected by rule"}};
  {  // kConnect: banner replaced, then Close.
    Harness h;
    h.policy.replies[Stage::kConnect] = Reply{554, "5.7.1", {"No service"}};
    auto a = h.start();
    EXPECT_EQ(kinds(a), "SC");
    EXPECT_EQ(sent(a), "554 5.7.1 No service\r\n");
    EXPECT_TRUE(h.session().closed());
  }
  {  // kConnect with a 2xx: a custom banner, session open.
    Harness h;
    h.policy.replies[Stage::kConnect] = Reply{220, "", {"custom banner"}};
    EXPECT_EQ(sent(h.start()), "220 custom banner\r\n");
    EXPECT_FALSE(h.session().closed());
  }
  {  // kMail: no transaction starts.
    Harness h;
    h.policy.replies[Stage::kMail] = reject;
    h.ehlo();
    EXPECT_EQ(h.say("MAIL FROM:<a@b.example>\r\n"), "550 5.7.1 Rejected by rule\r\n");
    EXPECT_EQ(h.say("RCPT TO:<c@d.example>\r\n"), "503 5.5.1 Error: need MAIL command\r\n");
  }
  {  // kRcpt: that recipient is not added.
    Harness h;
    h.policy.replies[Stage::kRcpt] = reject;
    h.ehlo();
    h.say("MAIL FROM:<a@b.example>\r\n");
    EXPECT_EQ(h.say("RCPT TO:<c@d.example>\r\n"), "550 5.7.1 Rejected by rule\r\n");
    EXPECT_EQ(h.say("DATA\r\n"), "503 5.5.1 Error: No valid recipients\r\n");
  }
  {  // kRcpt with a 2xx: accepted with the policy's text.
    Harness h;
    h.policy.replies[Stage::kRcpt] = Reply{250, "2.1.5", {"Recipient ok (simulated)"}};
    h.ehlo();
    h.say("MAIL FROM:<a@b.example>\r\n");
    EXPECT_EQ(h.say("RCPT TO:<c@d.example>\r\n"), "250 2.1.5 Recipient ok (simulated)\r\n");
    EXPECT_EQ(h.say("DATA\r\n").substr(0, 4), "354 ");
  }
  {  // kData: the message is refused without Deliver; the transaction resets.
    Harness h;
    h.policy.replies[Stage::kData] = Reply{554, "5.6.0", {"Content rejected", "see rule 7"}};
    h.to_rcpt();
    auto a = h.feed("DATA\r\nbody\r\n.\r\n");
    EXPECT_EQ(kinds(a), "S");
    EXPECT_EQ(sent(a),
              "354 End data with <CR><LF>.<CR><LF>\r\n554-5.6.0 Content rejected\r\n"
              "554 5.6.0 see rule 7\r\n");
    EXPECT_EQ(h.say("RCPT TO:<c@d.example>\r\n"), "503 5.5.1 Error: need MAIL command\r\n");
  }
  {  // Policy rejections count as errors.
    SessionOptions o;
    o.limits.max_errors = 1;
    Harness h(o);
    h.policy.replies[Stage::kMail] = reject;
    h.ehlo();
    h.say("MAIL FROM:<a@b.example>\r\n");
    auto a = h.feed("MAIL FROM:<a@b.example>\r\n");
    EXPECT_EQ(kinds(a), "SC");
  }
}

// ---- robustness ------------------------------------------------------------------------------------

// Random mixtures of protocol fragments and noise, split at random points, with the asynchronous
// outcomes answered at random. Whatever the input: every write is whole reply lines, nothing follows
// Close, and the session never asks for two outstanding things at once.
TEST(Robustness, RandomInputKeepsInvariants) {
  const std::vector<std::string> fragments = {
      "EHLO x\r\n",
      "HELO x\r\n",
      "MAIL FROM:<a@b.example>\r\n",
      "MAIL FROM:<> SIZE=20\r\n",
      "RCPT TO:<c@d.example>\r\n",
      "DATA\r\n",
      "BDAT 5\r\n",
      "BDAT 3 LAST\r\n",
      "BDAT 0 LAST\r\n",
      ".\r\n",
      "\r\n.\r\n",
      "..\r\n",
      "\n.\n",
      "\r",
      "\n",
      "RSET\r\n",
      "NOOP\r\n",
      "STARTTLS\r\n",
      "AUTH PLAIN\r\n",
      "AUTH LOGIN\r\n",
      "AUTH CRAM-MD5\r\n",
      "AHUAcA==\r\n",
      "*\r\n",
      "dQ==\r\n",
      "VRFY x\r\n",
      "HELP\r\n",
      "hello world",
      std::string("\0\xff\xc3", 3),
      std::string(300, 'x'),
  };
  std::mt19937 rng(12345);
  for (int round = 0; round < 3000; ++round) {
    SessionOptions o;
    o.tls_available = rng() % 2 == 0;
    o.auth = static_cast<AuthMode>(rng() % 3);
    o.bare_newline = rng() % 2 ? BareNewlinePolicy::kReject : BareNewlinePolicy::kAcceptAndFlag;
    o.limits.max_command_line = 64 + rng() % 256;
    o.limits.max_text_line = 16 + rng() % 128;
    o.limits.max_message_size = 16 + rng() % 512;
    o.limits.max_recipients = 1 + rng() % 3;
    o.limits.max_errors = 5 + static_cast<int>(rng() % 30);
    AcceptAllPolicy policy;
    Session session(o, policy, Harness::default_client());
    std::vector<Action> out;
    session.start(out);
    std::string input;
    int pieces = 5 + static_cast<int>(rng() % 40);
    for (int i = 0; i < pieces; ++i) input += fragments[rng() % fragments.size()];
    bool closed = false;
    enum { kNone, kAuth, kDeliver, kTls } pending = kNone;
    std::size_t p = 0;
    while (p < input.size() || pending != kNone) {
      out.clear();
      if (pending != kNone && rng() % 2 == 0) {
        switch (pending) {
          case kAuth:
            session.on_auth_result(rng() % 2 == 0, out);
            break;
          case kDeliver:
            session.on_delivered(rng() % 4 != 0, "ID", Reply{451, "4.3.0", {"x"}}, out);
            break;
          case kTls:
            if (rng() % 4 == 0) {
              session.on_tls_failed(out);
            } else {
              session.on_tls_established("TLSv1.3", "C", out);
            }
            break;
          case kNone:
            break;
        }
        pending = kNone;
      } else if (p < input.size()) {
        std::size_t n = 1 + rng() % 40;
        session.feed(std::string_view(input).substr(p, n), out);
        p += std::min(n, input.size() - p);
      } else {
        continue;
      }
      for (const auto& a : out) {
        ASSERT_FALSE(closed) << "action after Close, round " << round;
        if (const auto* b = std::get_if<SendBytes>(&a)) {
          ASSERT_GE(b->bytes.size(), 2u);
          ASSERT_EQ(b->bytes.substr(b->bytes.size() - 2), "\r\n");
          for (const auto& line : lines_of(b->bytes)) {
            ASSERT_GE(line.size(), 4u) << line;
            ASSERT_TRUE(std::isdigit(static_cast<unsigned char>(line[0])) &&
                        (line[3] == ' ' || line[3] == '-'))
                << line;
          }
        } else if (std::holds_alternative<Close>(a)) {
          closed = true;
        } else {
          ASSERT_EQ(pending, kNone) << "two outstanding actions, round " << round;
          pending = std::holds_alternative<CheckAuth>(a) ? kAuth
                    : std::holds_alternative<Deliver>(a) ? kDeliver
                                                         : kTls;
          if (const auto* d = std::get_if<Deliver>(&a)) {
            ASSERT_LE(d->data.size(), o.limits.max_message_size);
            ASSERT_LE(d->envelope.rcpts.size(), o.limits.max_recipients);
            ASSERT_FALSE(d->envelope.rcpts.empty());
          }
        }
      }
      ASSERT_EQ(session.closed(), closed);
      if (closed) break;
    }
  }
}

// ---- performance -------------------------------------------------------------------------------------

TEST(Performance, FourKibMessagesAreCheap) {
  // A 4 KiB message of 76-column lines, the whole transaction in one feed as a pipelining client sends it.
  std::string body;
  while (body.size() < 4096) body += std::string(74, 'a') + "\r\n";
  std::string txn =
      "MAIL FROM:<a@b.example> SIZE=4200\r\nRCPT TO:<c@d.example>\r\nDATA\r\nSubject: perf\r\n\r\n" + body +
      ".\r\n";
  AcceptAllPolicy policy;  // the recording test policy would dominate the measurement
  Session session(SessionOptions{}, policy, Harness::default_client());
  std::vector<Action> out;
  session.start(out);
  session.feed("EHLO client.example\r\n", out);
  constexpr int kMessages = 20000;
  std::size_t delivered = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kMessages; ++i) {
    out.clear();
    session.feed(txn, out);
    if (out.size() == 2) delivered += std::get<Deliver>(out[1]).data.size();
    out.clear();
    session.on_delivered(true, "01HZX3Y4Z5A6B7C8D9E0F1G2H3", Reply{}, out);
  }
  auto us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(delivered, static_cast<std::size_t>(kMessages) * (body.size() + 17));
  double per_message = us / kMessages;
  RecordProperty("us_per_4k_message", std::to_string(per_message));
  std::printf("[ perf     ] %.2f us per 4 KiB message (session only)\n", per_message);
  // A loose bound for optimised builds on shared cores; the target is well under 20 us. Unoptimised and
  // sanitizer builds only report the figure.
#if defined(NDEBUG) && !defined(__SANITIZE_ADDRESS__)
  EXPECT_LT(per_message, 100.0);
#endif
}

}  // namespace
}  // namespace mailjar::smtp
