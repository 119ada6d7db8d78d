// Table-driven tests of the pure SMTP command parser (smtp/command.h).
#include "smtp/command.h"

#include <gtest/gtest.h>

#include <string>

namespace mailjar::smtp {
namespace {

TEST(ParseCommandLine, VerbsAreCaseInsensitiveAndArgumentsTrimmed) {
  struct Case {
    std::string line;
    Verb verb;
    std::string arg;
  };
  const Case cases[] = {
      {"EHLO client.example", Verb::kEhlo, "client.example"},
      {"ehlo client.example", Verb::kEhlo, "client.example"},
      {"HeLo x", Verb::kHelo, "x"},
      {"MAIL FROM:<a@b>", Verb::kMail, "FROM:<a@b>"},
      {"mail  FROM:<a@b>  ", Verb::kMail, "FROM:<a@b>"},
      {"RCPT TO:<a@b>", Verb::kRcpt, "TO:<a@b>"},
      {"DATA", Verb::kData, ""},
      {"bdat 10 LAST", Verb::kBdat, "10 LAST"},
      {"RSET", Verb::kRset, ""},
      {"NOOP anything", Verb::kNoop, "anything"},
      {"QUIT", Verb::kQuit, ""},
      {"VRFY bob", Verb::kVrfy, "bob"},
      {"HELP", Verb::kHelp, ""},
      {"StartTLS", Verb::kStartTls, ""},
      {"AUTH PLAIN AGEAYg==", Verb::kAuth, "PLAIN AGEAYg=="},
      {"GET / HTTP/1.1", Verb::kHttp, "/ HTTP/1.1"},
      {"POST /submit HTTP/1.1", Verb::kHttp, "/submit HTTP/1.1"},
      {"CONNECT mx.example:25 HTTP/1.1", Verb::kHttp, "mx.example:25 HTTP/1.1"},
      {"HEAD / HTTP/1.0", Verb::kHttp, "/ HTTP/1.0"},
      {"EXPN list", Verb::kUnknown, "list"},
      {"", Verb::kUnknown, ""},
      {"MAILFROM:<a@b>", Verb::kUnknown, ""},
      {"EHLOx", Verb::kUnknown, ""},
  };
  for (const auto& c : cases) {
    CommandLine cmd = parse_command_line(c.line);
    EXPECT_EQ(cmd.verb, c.verb) << c.line;
    EXPECT_EQ(cmd.arg, c.arg) << c.line;
  }
}

TEST(ClassifyLine, AsciiUtf8AndInvalidBytes) {
  struct Case {
    std::string line;
    LineBytes expected;
  };
  const Case cases[] = {
      {"NOOP", LineBytes::kAscii},
      {"NOOP\tx", LineBytes::kAscii},
      {"", LineBytes::kAscii},
      {"RCPT TO:<\xc3\xbc@example.com>", LineBytes::kUtf8},  // ü
      {"x \xe2\x82\xac", LineBytes::kUtf8},                  // €
      {"x \xf0\x9f\x98\x80", LineBytes::kUtf8},              // U+1F600
      {std::string("NO\0OP", 5), LineBytes::kInvalid},       // NUL
      {"NO\rOP", LineBytes::kInvalid},                       // bare CR
      {"NOOP\x7f", LineBytes::kInvalid},                     // DEL
      {"NOOP\x01", LineBytes::kInvalid},
      {"x \xc0\x80", LineBytes::kInvalid},          // overlong NUL
      {"x \xc3", LineBytes::kInvalid},              // truncated
      {"x \xed\xa0\x80", LineBytes::kInvalid},      // surrogate
      {"x \xf4\x90\x80\x80", LineBytes::kInvalid},  // above U+10FFFF
      {"x \xe0\x80\xaf", LineBytes::kInvalid},      // overlong 3-byte
      {"x \xff", LineBytes::kInvalid},
      {"x \x80", LineBytes::kInvalid},  // lone continuation
  };
  for (const auto& c : cases) EXPECT_EQ(classify_line(c.line), c.expected) << c.line;
}

TEST(ParseMailFrom, PathsAndParameters) {
  struct Case {
    std::string arg;
    ParseError error;
    std::string address = {};
    std::string params = {};
    bool utf8 = false;
    bool smtputf8 = false;
    bool has_size = false;
    std::uint64_t size = 0;
    Body body = Body::kUnspecified;
  };
  const Case cases[] = {
      {"FROM:<a@example.com>", ParseError::kNone, "a@example.com", ""},
      {"from:<a@example.com>", ParseError::kNone, "a@example.com", ""},
      {"FROM: <a@example.com>", ParseError::kNone, "a@example.com", ""},  // lenient space
      {"FROM:<>", ParseError::kNone, "", ""},                             // null sender
      {"FROM:<> SIZE=10", ParseError::kNone, "", "SIZE=10", false, false, true, 10},
      {"FROM:<\"john doe\"@example.com>", ParseError::kNone, "\"john doe\"@example.com", ""},
      {"FROM:<\"a>b\\\"c\"@example.com>", ParseError::kNone, "\"a>b\\\"c\"@example.com", ""},
      {"FROM:<@relay1.example,@relay2.example:user@d.example>", ParseError::kNone, "user@d.example", ""},
      {"FROM:<user@[192.0.2.1]>", ParseError::kNone, "user@[192.0.2.1]", ""},
      {"FROM:<user@[IPv6:2001:db8::1]>", ParseError::kNone, "user@[IPv6:2001:db8::1]", ""},
      {"FROM:<first.last+tag@sub.example.com>", ParseError::kNone, "first.last+tag@sub.example.com", ""},
      {"FROM:<\xc3\xbcser@ex\xc3\xa4mple.de> SMTPUTF8", ParseError::kNone, "\xc3\xbcser@ex\xc3\xa4mple.de",
       "SMTPUTF8", true, true},
      {"FROM:<a@b.example> SIZE=1000 BODY=8BITMIME", ParseError::kNone, "a@b.example",
       "SIZE=1000 BODY=8BITMIME", false, false, true, 1000, Body::k8BitMime},
      {"FROM:<a@b.example>  BODY=7bit  RET=HDRS ENVID=QQ+2B1 AUTH=<>", ParseError::kNone, "a@b.example",
       "BODY=7bit  RET=HDRS ENVID=QQ+2B1 AUTH=<>", false, false, false, 0, Body::k7Bit},
      {"FROM:<a@b.example> BODY=BINARYMIME", ParseError::kNone, "a@b.example", "BODY=BINARYMIME", false,
       false, false, 0, Body::kBinaryMime},
      {"FROM:<a@b.example> AUTH=user+40example.com", ParseError::kNone, "a@b.example",
       "AUTH=user+40example.com"},
      {"FROM:<a@b.example> SIZE=99999999999999999999", ParseError::kNone, "a@b.example",
       "SIZE=99999999999999999999", false, false, true, UINT64_MAX},
      // A repeat with the same value is accepted (smtplib.send_message(..., mail_options=["SMTPUTF8"])
      // sends SMTPUTF8 twice).
      {"FROM:<j\xc3\xbcrgen@ex\xc3\xa4mple.org> SMTPUTF8 SMTPUTF8 BODY=8BITMIME", ParseError::kNone,
       "j\xc3\xbcrgen@ex\xc3\xa4mple.org", "SMTPUTF8 SMTPUTF8 BODY=8BITMIME", true, true, false, 0,
       Body::k8BitMime},
      {"FROM:<a@b.example> SIZE=10 size=10 BODY=8BITMIME body=8bitmime", ParseError::kNone, "a@b.example",
       "SIZE=10 size=10 BODY=8BITMIME body=8bitmime", false, false, true, 10, Body::k8BitMime},
      // Syntax errors.
      {"FROM:a@example.com", ParseError::kSyntax},
      {"FROM:<a@example.com", ParseError::kSyntax},
      {"FROM <a@example.com>", ParseError::kSyntax},
      {"TO:<a@example.com>", ParseError::kSyntax},
      {"FROM:<a@example.com>SIZE=1", ParseError::kSyntax},
      {"FROM:<a>", ParseError::kSyntax},
      {"FROM:<@example.com>", ParseError::kSyntax},
      {"FROM:<a@>", ParseError::kSyntax},
      {"FROM:<a@b..c>", ParseError::kSyntax},
      {"FROM:<a b@c>", ParseError::kSyntax},
      {"FROM:<\"unterminated@c>", ParseError::kSyntax},
      {"FROM:<@relay:>", ParseError::kSyntax},
      {"FROM:<a@[unterminated>", ParseError::kSyntax},
      {"FROM:<a@b> SIZE=", ParseError::kSyntax},
      {"FROM:<a@b> SIZE=abc", ParseError::kSyntax},
      {"FROM:<a@b> SIZE=1 SIZE=2", ParseError::kConflict},
      {"FROM:<a@b> BODY=7BIT BODY=8BITMIME", ParseError::kConflict},
      {"FROM:<a@b> RET=FULL RET=HDRS", ParseError::kConflict},
      {"FROM:<a@b> ENVID=x ENVID=y", ParseError::kConflict},
      {"FROM:<a@b> SIZE", ParseError::kSyntax},
      {"FROM:<a@b> BODY=9BIT", ParseError::kSyntax},
      {"FROM:<a@b> SMTPUTF8=yes", ParseError::kSyntax},
      {"FROM:<a@b> RET=ALL", ParseError::kSyntax},
      {"FROM:<a@b> ENVID=a=b", ParseError::kSyntax},
      {"FROM:<a@b> ENVID=a+zz", ParseError::kSyntax},
      {"FROM:<a@b> =x", ParseError::kSyntax},
      {"FROM:<a@b> -X=1", ParseError::kSyntax},
      // Unknown parameters.
      {"FROM:<a@b> XFOO=1", ParseError::kUnknownParameter},
      {"FROM:<a@b> NOTIFY=NEVER", ParseError::kUnknownParameter},
  };
  for (const auto& c : cases) {
    MailFrom m;
    ParseError e = parse_mail_from(c.arg, m);
    EXPECT_EQ(e, c.error) << c.arg;
    if (e != ParseError::kNone || c.error != ParseError::kNone) continue;
    EXPECT_EQ(m.address, c.address) << c.arg;
    EXPECT_EQ(m.params, c.params) << c.arg;
    EXPECT_EQ(m.address_utf8, c.utf8) << c.arg;
    EXPECT_EQ(m.smtputf8, c.smtputf8) << c.arg;
    EXPECT_EQ(m.has_size, c.has_size) << c.arg;
    EXPECT_EQ(m.size, c.size) << c.arg;
    EXPECT_EQ(m.body, c.body) << c.arg;
  }
}

TEST(ParseRcptTo, PathsAndDsnParameters) {
  struct Case {
    std::string arg;
    ParseError error;
    std::string address = {};
    std::string params = {};
    bool utf8 = false;
  };
  const Case cases[] = {
      {"TO:<b@example.com>", ParseError::kNone, "b@example.com", ""},
      {"to: <b@example.com>", ParseError::kNone, "b@example.com", ""},
      {"TO:<Postmaster>", ParseError::kNone, "Postmaster", ""},
      {"TO:<@a.example,@b.example:b@c.example>", ParseError::kNone, "b@c.example", ""},
      {"TO:<b@example.com> NOTIFY=NEVER", ParseError::kNone, "b@example.com", "NOTIFY=NEVER"},
      {"TO:<b@example.com> NOTIFY=SUCCESS,FAILURE,DELAY ORCPT=rfc822;b+40example.com", ParseError::kNone,
       "b@example.com", "NOTIFY=SUCCESS,FAILURE,DELAY ORCPT=rfc822;b+40example.com"},
      {"TO:<b@example.com> notify=delay", ParseError::kNone, "b@example.com", "notify=delay"},
      {"TO:<\xc3\xbc@example.com> ORCPT=utf-8;\xc3\xbc@example.com", ParseError::kNone,
       "\xc3\xbc@example.com", "ORCPT=utf-8;\xc3\xbc@example.com", true},
      {"TO:<>", ParseError::kSyntax},
      {"TO:<bob>", ParseError::kSyntax},
      {"TO:b@example.com", ParseError::kSyntax},
      {"FROM:<b@example.com>", ParseError::kSyntax},
      {"TO:<b@example.com> NOTIFY=NEVER,SUCCESS", ParseError::kSyntax},
      {"TO:<b@example.com> NOTIFY=SUCCESS,SUCCESS", ParseError::kSyntax},
      {"TO:<b@example.com> NOTIFY=SOMETIMES", ParseError::kSyntax},
      {"TO:<b@example.com> NOTIFY=", ParseError::kSyntax},
      {"TO:<b@example.com> NOTIFY=SUCCESS,", ParseError::kSyntax},
      {"TO:<b@example.com> ORCPT=b@example.com", ParseError::kSyntax},
      {"TO:<b@example.com> ORCPT=rfc822;", ParseError::kSyntax},
      {"TO:<b@example.com> ORCPT=;b", ParseError::kSyntax},
      {"TO:<b@example.com> ORCPT=rfc822;b+4", ParseError::kSyntax},
      {"TO:<b@example.com> NOTIFY=NEVER NOTIFY=SUCCESS", ParseError::kConflict},
      {"TO:<b@example.com> NOTIFY=never NOTIFY=NEVER", ParseError::kNone, "b@example.com",
       "NOTIFY=never NOTIFY=NEVER"},
      {"TO:<b@example.com> SIZE=10", ParseError::kUnknownParameter},
      {"TO:<b@example.com> X-FOO", ParseError::kUnknownParameter},
  };
  for (const auto& c : cases) {
    RcptTo r;
    ParseError e = parse_rcpt_to(c.arg, r);
    EXPECT_EQ(e, c.error) << c.arg;
    if (e != ParseError::kNone || c.error != ParseError::kNone) continue;
    EXPECT_EQ(r.address, c.address) << c.arg;
    EXPECT_EQ(r.params, c.params) << c.arg;
    EXPECT_EQ(r.address_utf8, c.utf8) << c.arg;
  }
}

TEST(ParseBdat, SizeAndLast) {
  struct Case {
    std::string arg;
    bool ok;
    std::uint64_t size = 0;
    bool last = false;
  };
  const Case cases[] = {
      {"0", true, 0, false},
      {"0 LAST", true, 0, true},
      {"4096", true, 4096, false},
      {"12 last", true, 12, true},
      {"12  LAST", true, 12, true},
      {"", false},
      {"LAST", false},
      {"-1", false},
      {"1x", false},
      {"12 FIRST", false},
      {"12 LAST now", false},
      {"123456789012345678901", false},
  };
  for (const auto& c : cases) {
    std::uint64_t size = 99;
    bool last = false;
    EXPECT_EQ(parse_bdat(c.arg, size, last), c.ok) << c.arg;
    if (!c.ok) continue;
    EXPECT_EQ(size, c.size) << c.arg;
    EXPECT_EQ(last, c.last) << c.arg;
  }
}

TEST(ParseAuth, MechanismAndInitialResponse) {
  struct Case {
    std::string arg;
    bool ok;
    std::string mechanism = {};
    std::string initial = {};
  };
  const Case cases[] = {
      {"PLAIN", true, "PLAIN", ""},
      {"plain AGEAYg==", true, "plain", "AGEAYg=="},
      {"LOGIN =", true, "LOGIN", "="},
      {"CRAM-MD5", true, "CRAM-MD5", ""},
      {"", false},
      {"PLAIN a b", false},
      {"PL@IN", false},
  };
  for (const auto& c : cases) {
    std::string_view mech, initial;
    EXPECT_EQ(parse_auth(c.arg, mech, initial), c.ok) << c.arg;
    if (!c.ok) continue;
    EXPECT_EQ(mech, c.mechanism);
    EXPECT_EQ(initial, c.initial);
  }
}

TEST(Xtext, Rfc3461Encoding) {
  EXPECT_TRUE(is_xtext(""));
  EXPECT_TRUE(is_xtext("abc"));
  EXPECT_TRUE(is_xtext("a+2Bb"));
  EXPECT_TRUE(is_xtext("+3D"));
  EXPECT_FALSE(is_xtext("a+"));
  EXPECT_FALSE(is_xtext("a+2"));
  EXPECT_FALSE(is_xtext("a+2b"));  // hex must be uppercase
  EXPECT_FALSE(is_xtext("a=b"));
  EXPECT_FALSE(is_xtext("a b"));
  EXPECT_FALSE(is_xtext("\xc3\xbc"));
}

}  // namespace
}  // namespace mailjar::smtp
