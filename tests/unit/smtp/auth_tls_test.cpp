// smtp::Session AUTH (PLAIN, LOGIN, CRAM-MD5; RFC 4954) and STARTTLS (RFC 3207) exchanges.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "harness.h"
#include "core/base64.h"
#include "smtp/auth.h"
#include "smtp/session.h"

namespace mailjar::smtp {
namespace {

using testing::find_action;
using testing::Harness;
using testing::kinds;
using testing::lines_of;
using testing::sent;

std::string b64(std::string_view s) { return core::base64_encode(s); }
std::string plain(std::string_view authz, std::string_view user, std::string_view pass) {
  std::string s(authz);
  s += '\0';
  s += user;
  s += '\0';
  s += pass;
  return b64(s);
}

// ---- AUTH PLAIN / LOGIN / CRAM-MD5 -------------------------------------------------------------------

struct AuthCase {
  const char* name;
  std::vector<std::string> client;  // lines the client sends (the first is the AUTH command)
  std::vector<std::string> server;  // the reply to each line ("" = no reply, a CheckAuth instead)
  std::string mechanism;            // expected CheckAuth
  std::string username;
  std::string password;
};

TEST(Auth, Exchanges) {
  const AuthCase cases[] = {
      {"PLAIN with initial response",
       {"AUTH PLAIN " + plain("", "alice", "s3cret")},
       {""},
       "PLAIN",
       "alice",
       "s3cret"},
      {"PLAIN with authzid = authcid",
       {"AUTH PLAIN " + plain("alice", "alice", "pw")},
       {""},
       "PLAIN",
       "alice",
       "pw"},
      {"plain lower-case mechanism", {"auth plain " + plain("", "bob", "pw")}, {""}, "PLAIN", "bob", "pw"},
      {"PLAIN without initial response",
       {"AUTH PLAIN", plain("", "carol", "pw pw")},
       {"334 ", ""},
       "PLAIN",
       "carol",
       "pw pw"},
      {"PLAIN empty password", {"AUTH PLAIN " + plain("", "dave", "")}, {""}, "PLAIN", "dave", ""},
      {"LOGIN",
       {"AUTH LOGIN", b64("erin"), b64("letmein")},
       {"334 VXNlcm5hbWU6", "334 UGFzc3dvcmQ6", ""},
       "LOGIN",
       "erin",
       "letmein"},
      {"LOGIN with initial username",
       {"AUTH LOGIN " + b64("frank"), b64("pw")},
       {"334 UGFzc3dvcmQ6", ""},
       "LOGIN",
       "frank",
       "pw"},
      {"LOGIN with '=' (empty username)",
       {"AUTH LOGIN =", b64("pw")},
       {"334 UGFzc3dvcmQ6", ""},
       "LOGIN",
       "",
       "pw"},
      {"LOGIN empty password line",
       {"AUTH LOGIN", b64("gina"), ""},
       {"334 VXNlcm5hbWU6", "334 UGFzc3dvcmQ6", ""},
       "LOGIN",
       "gina",
       ""},
  };
  for (const auto& c : cases) {
    Harness h;
    h.ehlo();
    std::vector<Action> last;
    for (std::size_t i = 0; i < c.client.size(); ++i) {
      last = h.feed(c.client[i] + "\r\n");
      if (c.server[i].empty()) {
        EXPECT_EQ(kinds(last), "A") << c.name << " step " << i;
      } else {
        EXPECT_EQ(sent(last), c.server[i] + "\r\n") << c.name << " step " << i;
      }
    }
    const CheckAuth* check = find_action<CheckAuth>(last);
    ASSERT_NE(check, nullptr) << c.name;
    EXPECT_EQ(check->mechanism, c.mechanism) << c.name;
    EXPECT_EQ(check->username, c.username) << c.name;
    EXPECT_EQ(check->password, c.password) << c.name;
    auto a = h.auth_result(true);
    EXPECT_EQ(sent(a), "235 2.7.0 Authentication successful\r\n") << c.name;
  }
}

TEST(Auth, CramMd5UsesTheConnectionNonce) {
  SessionOptions o;
  o.hostname = "postoffice.reston.mci.net";
  Harness h(o);  // nonce "1896.697170952": the RFC 2195 example
  h.ehlo();
  EXPECT_EQ(h.say("AUTH CRAM-MD5\r\n"), "334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n");
  auto a = h.feed("dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n");
  ASSERT_EQ(kinds(a), "A");
  const auto& check = std::get<CheckAuth>(a[0]);
  EXPECT_EQ(check.mechanism, "CRAM-MD5");
  EXPECT_EQ(check.username, "tim");
  EXPECT_EQ(check.challenge, "<1896.697170952@postoffice.reston.mci.net>");
  EXPECT_EQ(check.response, "b913a602c7eda7a495b4e6e7334d3890");
  EXPECT_TRUE(check.password.empty());
  // What the adapter does with it.
  EXPECT_TRUE(cram_md5_matches("tanstaaftanstaaf", check.challenge, check.response));
  EXPECT_EQ(sent(h.auth_result(true)), "235 2.7.0 Authentication successful\r\n");
}

TEST(Auth, FailuresAndCancels) {
  struct Case {
    const char* name;
    std::vector<std::string> client;
    std::string last_reply;
  };
  const Case cases[] = {
      {"cancel PLAIN", {"AUTH PLAIN", "*"}, "501 5.0.0 Authentication cancelled"},
      {"cancel LOGIN user", {"AUTH LOGIN", "*"}, "501 5.0.0 Authentication cancelled"},
      {"cancel LOGIN password", {"AUTH LOGIN", b64("u"), "*"}, "501 5.0.0 Authentication cancelled"},
      {"cancel CRAM-MD5", {"AUTH CRAM-MD5", "*"}, "501 5.0.0 Authentication cancelled"},
      {"bad base64 initial", {"AUTH PLAIN AHU@cA=="}, "501 5.5.2 Error: invalid base64 data"},
      {"bad base64 line", {"AUTH LOGIN", "dXNlcg"}, "501 5.5.2 Error: invalid base64 data"},
      {"bad base64 password",
       {"AUTH LOGIN", b64("u"), "cGFz c3dvcmQ="},
       "501 5.5.2 Error: invalid base64 data"},
      {"PLAIN one field", {"AUTH PLAIN " + b64("alice")}, "535 5.7.8 Authentication credentials invalid"},
      {"PLAIN four fields",
       {"AUTH PLAIN " + b64(std::string("a\0b\0c\0d", 7))},
       "535 5.7.8 Authentication credentials invalid"},
      {"PLAIN empty authcid",
       {"AUTH PLAIN " + plain("", "", "pw")},
       "535 5.7.8 Authentication credentials invalid"},
      {"PLAIN other authzid",
       {"AUTH PLAIN " + plain("root", "alice", "pw")},
       "535 5.7.8 Authentication credentials invalid"},
      {"PLAIN '='", {"AUTH PLAIN ="}, "535 5.7.8 Authentication credentials invalid"},
      {"CRAM-MD5 no digest", {"AUTH CRAM-MD5", b64("tim")}, "535 5.7.8 Authentication credentials invalid"},
      {"CRAM-MD5 short digest",
       {"AUTH CRAM-MD5", b64("tim b913a602")},
       "535 5.7.8 Authentication credentials invalid"},
      {"CRAM-MD5 non-hex",
       {"AUTH CRAM-MD5", b64("tim zz13a602c7eda7a495b4e6e7334d3890")},
       "535 5.7.8 Authentication credentials invalid"},
      {"CRAM-MD5 initial response",
       {"AUTH CRAM-MD5 " + b64("x")},
       "501 5.5.4 Syntax: CRAM-MD5 takes no initial response"},
      {"unknown mechanism", {"AUTH GSSAPI"}, "504 5.5.4 Unrecognized authentication mechanism"},
      {"no mechanism", {"AUTH"}, "501 5.5.4 Syntax: AUTH mechanism [initial-response]"},
      {"extra argument", {"AUTH PLAIN a b"}, "501 5.5.4 Syntax: AUTH mechanism [initial-response]"},
  };
  for (const auto& c : cases) {
    Harness h;
    h.ehlo();
    std::string reply;
    for (const auto& line : c.client) reply = h.say(line + "\r\n");
    EXPECT_EQ(reply, c.last_reply + "\r\n") << c.name;
    // Back to commands, not authenticated.
    EXPECT_EQ(h.say("NOOP\r\n"), "250 2.0.0 Ok\r\n") << c.name;
    EXPECT_EQ(h.say("AUTH PLAIN " + plain("", "u", "p") + "\r\n"), "") << c.name;  // a CheckAuth
  }
}

TEST(Auth, ResultFalseIs535AndCountsAsError) {
  SessionOptions o;
  o.limits.max_errors = 2;
  Harness h(o);
  h.ehlo();
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(kinds(h.feed("AUTH PLAIN " + plain("", "u", "wrong") + "\r\n")), "A");
    EXPECT_EQ(sent(h.auth_result(false)), "535 5.7.8 Authentication credentials invalid\r\n");
  }
  EXPECT_FALSE(h.session().closed());
  ASSERT_EQ(kinds(h.feed("AUTH PLAIN " + plain("", "u", "wrong") + "\r\n")), "A");
  auto a = h.auth_result(false);
  EXPECT_EQ(kinds(a), "SC");
  EXPECT_EQ(lines_of(sent(a)).back(), "421 4.7.0 mailjar Error: too many errors");
}

TEST(Auth, SuccessSetsEnvelopeAndForbidsSecondAuth) {
  Harness h;
  h.ehlo();
  h.feed("AUTH PLAIN " + plain("", "alice", "pw") + "\r\n");
  EXPECT_EQ(sent(h.auth_result(true)), "235 2.7.0 Authentication successful\r\n");
  EXPECT_EQ(h.say("AUTH PLAIN " + plain("", "bob", "pw") + "\r\n"),
            "503 5.5.1 Error: already authenticated\r\n");
  // EHLO again keeps the authentication.
  h.say("EHLO again.example\r\n");
  h.say("MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n");
  auto d = h.data("x\r\n.\r\n");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->envelope.auth_user, "alice");
  EXPECT_EQ(h.policy.seen[1].stage, Stage::kAuth);
  EXPECT_EQ(h.policy.seen[1].argument, "alice");
}

TEST(Auth, StateRules) {
  {  // Before EHLO.
    Harness h;
    h.start();
    EXPECT_EQ(h.say("AUTH PLAIN\r\n"), "503 5.5.1 Error: send EHLO first\r\n");
  }
  {  // Inside a transaction.
    Harness h;
    h.ehlo();
    h.say("MAIL FROM:<a@b.example>\r\n");
    EXPECT_EQ(h.say("AUTH PLAIN\r\n"), "503 5.5.1 Error: AUTH not permitted during a mail transaction\r\n");
  }
  {  // Auth off: not advertised and refused.
    SessionOptions o;
    o.auth = AuthMode::kOff;
    Harness h(o);
    h.start();
    EXPECT_EQ(h.say("EHLO c\r\n").find("AUTH"), std::string::npos);
    EXPECT_EQ(h.say("AUTH PLAIN " + plain("", "u", "p") + "\r\n"),
              "503 5.5.1 Error: authentication not enabled\r\n");
  }
}

TEST(Auth, RequiredAuthGatesMail) {
  SessionOptions o;
  o.auth = AuthMode::kRequired;
  Harness h(o);
  h.ehlo();
  EXPECT_EQ(h.say("MAIL FROM:<a@b.example>\r\n"), "530 5.7.0 Authentication required\r\n");
  EXPECT_EQ(h.say("RCPT TO:<c@d.example>\r\n"), "503 5.5.1 Error: need MAIL command\r\n");
  h.feed("AUTH LOGIN " + b64("u") + "\r\n");
  h.feed(b64("p") + "\r\n");
  EXPECT_EQ(sent(h.auth_result(true)), "235 2.7.0 Authentication successful\r\n");
  EXPECT_EQ(h.say("MAIL FROM:<a@b.example>\r\n"), "250 2.1.0 Ok\r\n");
}

TEST(Auth, CleartextRefusedUntilTls) {
  SessionOptions o;
  o.allow_cleartext_auth = false;
  o.tls_available = true;
  Harness h(o);
  h.ehlo();
  EXPECT_EQ(h.say("AUTH PLAIN " + plain("", "u", "p") + "\r\n"),
            "538 5.7.11 Encryption required for requested authentication mechanism\r\n");
  EXPECT_EQ(h.say("AUTH CRAM-MD5\r\n"),
            "538 5.7.11 Encryption required for requested authentication mechanism\r\n");
  h.feed("STARTTLS\r\n");
  h.tls_established();
  auto ehlo = h.say("EHLO c\r\n");
  EXPECT_NE(ehlo.find("250-AUTH PLAIN LOGIN CRAM-MD5\r\n"), std::string::npos);
  EXPECT_EQ(kinds(h.feed("AUTH PLAIN " + plain("", "u", "p") + "\r\n")), "A");
}

TEST(Auth, PipelinedCommandsWaitForTheCheck) {
  Harness h;
  h.ehlo();
  auto a = h.feed("AUTH PLAIN " + plain("", "u", "p") +
                  "\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n");
  ASSERT_EQ(kinds(a), "A");
  EXPECT_TRUE(h.feed("NOOP\r\n").empty());
  a = h.auth_result(true);
  ASSERT_EQ(kinds(a), "S");
  EXPECT_EQ(sent(a),
            "235 2.7.0 Authentication successful\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.0.0 Ok\r\n");
}

TEST(Auth, ContinuationLineBoundedByCommandLimit) {
  SessionOptions o;
  o.limits.max_command_line = 64;
  Harness h(o);
  h.ehlo();
  EXPECT_EQ(h.say("AUTH PLAIN\r\n"), "334 \r\n");
  EXPECT_EQ(h.say(std::string(200, 'A') + "\r\n"), "500 5.5.2 Error: line too long\r\n");
  EXPECT_EQ(h.say("NOOP\r\n"), "250 2.0.0 Ok\r\n");  // the exchange was abandoned
}

TEST(Auth, PolicyCanRefuseAnAuthenticatedUser) {
  Harness h;
  h.policy.replies[Stage::kAuth] = Reply{535, "5.7.8", {"Account disabled"}};
  h.ehlo();
  h.feed("AUTH PLAIN " + plain("", "mallory", "pw") + "\r\n");
  EXPECT_EQ(sent(h.auth_result(true)), "535 5.7.8 Account disabled\r\n");
  // Not authenticated: AUTH is allowed again.
  EXPECT_EQ(kinds(h.feed("AUTH PLAIN " + plain("", "mallory", "pw") + "\r\n")), "A");
}

// ---- STARTTLS ------------------------------------------------------------------------------------------

TEST(StartTls, HandshakeResetsSessionAndFillsEnvelope) {
  SessionOptions o;
  o.tls_available = true;
  Harness h(o);
  h.start();
  EXPECT_NE(h.say("EHLO c.example\r\n").find("250-STARTTLS\r\n"), std::string::npos);
  h.say("MAIL FROM:<a@b.example>\r\n");
  auto a = h.feed("STARTTLS\r\n");
  EXPECT_EQ(kinds(a), "ST");
  EXPECT_EQ(sent(a), "220 2.0.0 Ready to start TLS\r\n");
  EXPECT_FALSE(h.session().closed());
  EXPECT_TRUE(h.tls_established("TLSv1.3", "TLS_AES_128_GCM_SHA256").empty());
  // Everything known before is forgotten: EHLO first, no transaction.
  EXPECT_EQ(h.say("MAIL FROM:<a@b.example>\r\n"), "503 5.5.1 Error: send HELO/EHLO first\r\n");
  auto ehlo = h.say("EHLO c.example\r\n");
  EXPECT_EQ(ehlo.find("STARTTLS"), std::string::npos);
  EXPECT_EQ(h.say("STARTTLS\r\n"), "503 5.5.1 Error: TLS already active\r\n");
  h.say("MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n");
  auto d = h.data("x\r\n.\r\n");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->envelope.tls_version, "TLSv1.3");
  EXPECT_EQ(d->envelope.tls_cipher, "TLS_AES_128_GCM_SHA256");
  EXPECT_EQ(d->envelope.helo, "c.example");
}

TEST(StartTls, PipelinedBytesAfterStartTlsAreDiscarded) {
  SessionOptions o;
  o.tls_available = true;
  Harness h(o);
  h.ehlo();
  // CVE-2011-0411: a man in the middle appends commands to the cleartext STARTTLS.
  auto a = h.feed("STARTTLS\r\nMAIL FROM:<evil@example.com>\r\nRCPT TO:<victim@example.com>\r\n");
  EXPECT_EQ(kinds(a), "ST");
  EXPECT_EQ(sent(a), "220 2.0.0 Ready to start TLS\r\n");
  // Bytes before the handshake completes are dropped as well.
  EXPECT_TRUE(h.feed("DATA\r\n").empty());
  EXPECT_TRUE(h.tls_established().empty());
  EXPECT_EQ(h.say("EHLO c\r\n").substr(0, 4), "250-");
  EXPECT_EQ(h.say("RCPT TO:<victim@example.com>\r\n"), "503 5.5.1 Error: need MAIL command\r\n");
}

TEST(StartTls, PartialLineBeforeStartTlsIsNotCarriedOver) {
  SessionOptions o;
  o.tls_available = true;
  Harness h(o);
  h.ehlo();
  h.feed("STARTTLS\r\nMAIL FR");
  h.tls_established();
  EXPECT_EQ(h.say("NOOP\r\n"), "250 2.0.0 Ok\r\n");  // not "MAIL FRNOOP"
}

TEST(StartTls, HandshakeFailureCloses) {
  SessionOptions o;
  o.tls_available = true;
  Harness h(o);
  h.ehlo();
  h.feed("STARTTLS\r\n");
  std::vector<Action> out;
  h.session().on_tls_failed(out);
  EXPECT_EQ(kinds(out), "C");
  EXPECT_TRUE(h.session().closed());
}

TEST(StartTls, NotAvailableOrWithArguments) {
  {
    Harness h;  // no certificate
    h.ehlo();
    EXPECT_EQ(h.say("STARTTLS\r\n"), "503 5.5.1 Error: STARTTLS not available\r\n");
  }
  {
    SessionOptions o;
    o.tls_available = true;
    Harness h(o);
    h.ehlo();
    EXPECT_EQ(h.say("STARTTLS now\r\n"), "501 5.5.4 Syntax: STARTTLS\r\n");
  }
}

TEST(StartTls, ImplicitTlsFromTheStart) {
  SessionOptions o;
  o.tls_available = true;
  o.implicit_tls = true;
  o.allow_cleartext_auth = false;
  ClientInfo ci = Harness::default_client();
  ci.tls = true;
  ci.tls_version = "TLSv1.2";
  ci.tls_cipher = "ECDHE-RSA-AES128-GCM-SHA256";
  Harness h(o, ci);
  h.start();
  auto ehlo = h.say("EHLO c\r\n");
  EXPECT_EQ(ehlo.find("STARTTLS"), std::string::npos);
  EXPECT_NE(ehlo.find("AUTH PLAIN LOGIN CRAM-MD5"), std::string::npos);  // TLS is active
  EXPECT_EQ(h.say("STARTTLS\r\n"), "503 5.5.1 Error: TLS already active\r\n");
  h.say("MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n");
  auto d = h.data("x\r\n.\r\n");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->envelope.tls_version, "TLSv1.2");
  EXPECT_EQ(d->envelope.tls_cipher, "ECDHE-RSA-AES128-GCM-SHA256");
}

}  // namespace
}  // namespace mailjar::smtp
