// smtp::Session message content: DATA (dot-unstuffing, the CRLF.CRLF terminator at every split
// position, bare CR/LF in both policies, size and line limits) and BDAT (RFC 3030 chunks).
#include <gtest/gtest.h>
#include <malloc.h>

#include <string>
#include <vector>

#include "core/byte_budget.h"
#include "harness.h"
#include "smtp/session.h"

namespace mailjar::smtp {
namespace {

using testing::find_action;
using testing::Harness;
using testing::kinds;
using testing::lines_of;
using testing::sent;

// ---- DATA: dot-unstuffing ------------------------------------------------------------------------

struct UnstuffCase {
  const char* name;
  std::string content;   // what the client sends after 354, terminator included
  std::string expected;  // Deliver::data
  bool bare;             // Envelope::bare_newline
};

const std::vector<UnstuffCase>& unstuff_cases() {
  static const std::vector<UnstuffCase> cases = {
      {"simple", "Subject: x\r\n\r\nbody\r\n.\r\n", "Subject: x\r\n\r\nbody\r\n", false},
      {"empty message", ".\r\n", "", false},
      {"one empty line", "\r\n.\r\n", "\r\n", false},
      {"stuffed dot line", "a\r\n..\r\n.\r\n", "a\r\n.\r\n", false},
      {"stuffed first line", "..\r\n.\r\n", ".\r\n", false},
      {"stuffed text", "..foo\r\n.\r\n", ".foo\r\n", false},
      {"three dots", "...\r\n.\r\n", "..\r\n", false},
      {"dot inside a line", "a.b\r\nc .\r\n.\r\n", "a.b\r\nc .\r\n", false},
      {"dot space", ". \r\n.\r\n", " \r\n", false},
      {"unstuffed dot text (lenient)", ".x\r\n.\r\n", "x\r\n", false},
      {"dot CR LF inside a line", "a.\r\n.\r\n", "a.\r\n", false},
      {"terminator-like text", "x\r\n.\r\ny", "x\r\n", false},  // "y" is the next command
      {"binary-ish 8 bit", "caf\xc3\xa9 \x01\x7f\r\n.\r\n", "caf\xc3\xa9 \x01\x7f\r\n", false},
      // Bare LF and CR never end the data and are kept as they are (accept-and-flag policy).
      {"bare LF", "a\nb\r\n.\r\n", "a\nb\r\n", true},
      {"bare CR", "a\rb\r\n.\r\n", "a\rb\r\n", true},
      {"LF dot LF", "a\n.\nb\r\n.\r\n", "a\n.\nb\r\n", true},
      {"CRLF dot LF", "a\r\n.\nb\r\n.\r\n", "a\r\n\nb\r\n", true},  // the line ".\nb" is unstuffed
      {"LF dot CRLF", "a\n.\r\nb\r\n.\r\n", "a\n.\r\nb\r\n", true},
      {"CR dot CR", "a\r.\rb\r\n.\r\n", "a\r.\rb\r\n", true},
      {"CRLF dot CR x", "a\r\n.\rb\r\n.\r\n", "a\r\n\rb\r\n", true},
      {"dot CR CR LF", "a\r\n.\r\r\n.\r\n", "a\r\n\r\r\n", true},
      {"bare CR before CRLF", "a\r\r\n.\r\n", "a\r\r\n", true},
      {"only bare LFs before dot CRLF", "\n.\n.\r\n.\r\n", "\n.\n.\r\n", true},
  };
  return cases;
}

TEST(DataUnstuffing, Table) {
  for (const auto& c : unstuff_cases()) {
    Harness h;
    h.to_rcpt();
    auto a = h.feed("DATA\r\n");
    auto b = h.feed(c.content);
    const Deliver* d = find_action<Deliver>(b);
    ASSERT_NE(d, nullptr) << c.name;
    EXPECT_EQ(d->data, c.expected) << c.name;
    EXPECT_EQ(d->envelope.bare_newline, c.bare) << c.name;
    EXPECT_FALSE(d->envelope.chunked);
  }
}

TEST(DataUnstuffing, EverySplitPositionGivesTheSameResult) {
  for (const auto& c : unstuff_cases()) {
    // Two feeds split at every position, then one byte per feed.
    for (std::size_t split = 0; split <= c.content.size(); ++split) {
      Harness h;
      h.to_rcpt();
      h.feed("DATA\r\n");
      auto a = h.feed(c.content.substr(0, split));
      auto b = h.feed(c.content.substr(split));
      a.insert(a.end(), b.begin(), b.end());
      const Deliver* d = find_action<Deliver>(a);
      ASSERT_NE(d, nullptr) << c.name << " split at " << split;
      EXPECT_EQ(d->data, c.expected) << c.name << " split at " << split;
      EXPECT_EQ(d->envelope.bare_newline, c.bare) << c.name << " split at " << split;
    }
    Harness h;
    h.to_rcpt();
    h.feed("DATA\r\n");
    std::vector<Action> all;
    for (std::size_t i = 0; i < c.content.size(); ++i) {
      auto a = h.feed(c.content.substr(i, 1));
      // The Deliver comes with the very last byte of the terminator, not before.
      if (find_action<Deliver>(a) != nullptr) {
        EXPECT_EQ(i, c.content.rfind(".\r\n") + 2) << c.name;
        EXPECT_TRUE(all.empty()) << c.name;
      }
      all.insert(all.end(), a.begin(), a.end());
    }
    const Deliver* d = find_action<Deliver>(all);
    ASSERT_NE(d, nullptr) << c.name << " byte by byte";
    EXPECT_EQ(d->data, c.expected) << c.name << " byte by byte";
  }
}

TEST(DataUnstuffing, TerminatorNotEndedEarly) {
  // Each prefix of "\r\n.\r\n" leaves the session in DATA.
  const std::string term = "\r\n.\r\n";
  for (std::size_t n = 0; n < term.size(); ++n) {
    Harness h;
    h.to_rcpt();
    h.feed("DATA\r\nbody");
    auto a = h.feed(term.substr(0, n));
    EXPECT_TRUE(a.empty()) << n;
    EXPECT_TRUE(h.session().in_data()) << n;
    a = h.feed(term.substr(n));
    ASSERT_EQ(kinds(a), "D") << n;
    EXPECT_EQ(std::get<Deliver>(a[0]).data, "body\r\n");
  }
}

TEST(DataBareNewline, RejectPolicy) {
  for (const auto& c : unstuff_cases()) {
    SessionOptions o;
    o.bare_newline = BareNewlinePolicy::kReject;
    Harness h(o);
    h.to_rcpt();
    h.feed("DATA\r\n");
    auto a = h.feed(c.content);
    if (c.bare) {
      EXPECT_EQ(find_action<Deliver>(a), nullptr) << c.name;
      EXPECT_EQ(sent(a).substr(0, sent(a).find("\r\n") + 2), "554 5.6.0 Message contains bare CR or LF\r\n")
          << c.name;
      // The transaction is over; the session goes on.
      EXPECT_EQ(h.say("RCPT TO:<x@y.example>\r\n"), "503 5.5.1 Error: need MAIL command\r\n") << c.name;
    } else {
      const Deliver* d = find_action<Deliver>(a);
      ASSERT_NE(d, nullptr) << c.name;
      EXPECT_EQ(d->data, c.expected);
      EXPECT_FALSE(d->envelope.bare_newline);
    }
  }
}

TEST(DataBareNewline, CrLfSplitAcrossFeedsIsNotBare) {
  Harness h;
  h.to_rcpt();
  h.feed("DATA\r\nline one\r");
  h.feed("\nline two\r");
  auto a = h.feed("\n.\r\n");
  const Deliver* d = find_action<Deliver>(a);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->data, "line one\r\nline two\r\n");
  EXPECT_FALSE(d->envelope.bare_newline);
}

TEST(DataBareNewline, CrAtFeedEndFollowedByTextIsBare) {
  Harness h;
  h.to_rcpt();
  h.feed("DATA\r\nline one\r");
  auto a = h.feed("x\r\n.\r\n");
  const Deliver* d = find_action<Deliver>(a);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->data, "line one\rx\r\n");
  EXPECT_TRUE(d->envelope.bare_newline);
}

// ---- DATA: state and limits ------------------------------------------------------------------------

TEST(Data, TransactionResetsAfterDataButHeloKept) {
  Harness h;
  h.to_rcpt();
  std::string replies;
  auto d = h.data("x\r\n.\r\n", &replies);
  ASSERT_TRUE(d);
  EXPECT_EQ(replies, "354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 Ok: queued as ID1\r\n");
  EXPECT_EQ(h.say("RCPT TO:<c@d.example>\r\n"), "503 5.5.1 Error: need MAIL command\r\n");
  EXPECT_EQ(h.say("DATA\r\n"), "503 5.5.1 Error: need MAIL command\r\n");
  EXPECT_EQ(h.say("MAIL FROM:<a@b.example>\r\n"), "250 2.1.0 Ok\r\n");
  h.say("RCPT TO:<c@d.example>\r\n");
  d = h.data("y\r\n.\r\n");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->envelope.helo, "client.example");
  EXPECT_EQ(d->envelope.rcpts.size(), 1u);
  EXPECT_EQ(d->data, "y\r\n");
}

TEST(Data, MessageSizeLimit) {
  SessionOptions o;
  o.limits.max_message_size = 100;
  {  // Exactly at the limit (after unstuffing: the stuffed dot does not count).
    Harness h(o);
    h.to_rcpt();
    std::string content = "." + std::string(98, 'a') + "\r\n.\r\n";  // 99 + 2 - 1 = 100 bytes delivered
    auto d = h.data(content);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->data.size(), 100u);
  }
  {  // One byte over.
    Harness h(o);
    h.to_rcpt();
    std::string replies;
    auto d = h.data(std::string(99, 'a') + "\r\n.\r\n", &replies);
    EXPECT_FALSE(d);
    EXPECT_EQ(replies,
              "354 End data with <CR><LF>.<CR><LF>\r\n552 5.3.4 Message size exceeds fixed maximum "
              "message size\r\n");
    EXPECT_EQ(h.say("RCPT TO:<c@d.example>\r\n"), "503 5.5.1 Error: need MAIL command\r\n");
    EXPECT_EQ(h.say("MAIL FROM:<a@b.example>\r\n"), "250 2.1.0 Ok\r\n");
  }
}

TEST(Data, OversizeMessageIsConsumedWithBoundedMemory) {
  SessionOptions o;
  o.limits.max_message_size = 64 * 1024;
  Harness h(o);
  h.to_rcpt();
  h.feed("DATA\r\n");
  std::string chunk;
  while (chunk.size() < 256 * 1024) chunk += std::string(78, 'x') + "\r\n";
  struct mallinfo2 before = mallinfo2();
  for (int i = 0; i < 128; ++i) EXPECT_TRUE(h.feed(chunk).empty());  // 32 MiB
  struct mallinfo2 after = mallinfo2();
  EXPECT_LT(after.uordblks, before.uordblks + 1024 * 1024);
  EXPECT_TRUE(h.session().in_data());
  auto a = h.feed(".\r\nNOOP\r\n");
  EXPECT_EQ(sent(a), "552 5.3.4 Message size exceeds fixed maximum message size\r\n250 2.0.0 Ok\r\n");
  EXPECT_EQ(find_action<Deliver>(a), nullptr);
}

TEST(Data, SizeParameterOverLimitRefusedAtMail) {
  SessionOptions o;
  o.limits.max_message_size = 1000;
  Harness h(o);
  h.ehlo();
  EXPECT_EQ(h.say("MAIL FROM:<a@b.example> SIZE=1001\r\n"),
            "552 5.3.4 Message size exceeds fixed maximum message size\r\n");
  EXPECT_EQ(h.say("MAIL FROM:<a@b.example> SIZE=999\r\n"), "250 2.1.0 Ok\r\n");
}

TEST(Data, TextLineLimit) {
  SessionOptions o;
  o.limits.max_text_line = 100;
  {  // Exactly 100 bytes with CRLF.
    Harness h(o);
    h.to_rcpt();
    auto d = h.data(std::string(98, 'a') + "\r\n.\r\n");
    ASSERT_TRUE(d);
  }
  {  // 101: consumed to the end, then 500 5.5.2.
    Harness h(o);
    h.to_rcpt();
    std::string replies;
    auto d = h.data("short\r\n" + std::string(99, 'a') + "\r\nshort\r\n.\r\n", &replies);
    EXPECT_FALSE(d);
    EXPECT_EQ(replies, "354 End data with <CR><LF>.<CR><LF>\r\n500 5.5.2 Error: line too long\r\n");
    EXPECT_EQ(h.say("RCPT TO:<c@d.example>\r\n"), "503 5.5.1 Error: need MAIL command\r\n");
  }
  {  // A very long line split over many feeds, with bare LFs (which do not end lines).
    Harness h(o);
    h.to_rcpt();
    h.feed("DATA\r\n");
    for (int i = 0; i < 100; ++i) EXPECT_TRUE(h.feed("0123456789\n").empty());
    auto a = h.feed("\r\n.\r\n");
    EXPECT_EQ(sent(a), "500 5.5.2 Error: line too long\r\n");
  }
}

TEST(Data, NeedsRecipients) {
  Harness h;
  h.ehlo();
  h.say("MAIL FROM:<a@b.example>\r\n");
  EXPECT_EQ(h.say("DATA\r\n"), "503 5.5.1 Error: No valid recipients\r\n");
  h.say("RCPT TO:<c@d.example>\r\n");
  EXPECT_EQ(h.say("DATA x\r\n"), "501 5.5.4 Syntax: DATA\r\n");
  EXPECT_EQ(h.say("DATA\r\n").substr(0, 4), "354 ");
}

TEST(Data, BinaryMimeNeedsBdat) {
  Harness h;
  h.ehlo();
  h.say("MAIL FROM:<a@b.example> BODY=BINARYMIME\r\nRCPT TO:<c@d.example>\r\n");
  EXPECT_EQ(h.say("DATA\r\n"), "503 5.5.1 Error: BODY=BINARYMIME requires BDAT\r\n");
  EXPECT_EQ(kinds(h.feed("BDAT 3 LAST\r\nabc")), "D");
}

TEST(Data, ContentInTheSameFeedAsData) {
  Harness h;
  h.to_rcpt();
  auto a = h.feed("DATA\r\nSubject: x\r\n\r\nhi\r\n.\r\nQUIT\r\n");
  ASSERT_EQ(kinds(a), "SD");
  EXPECT_EQ(std::get<Deliver>(a[1]).data, "Subject: x\r\n\r\nhi\r\n");
  a = h.delivered("Q1");
  EXPECT_EQ(kinds(a), "SC");
  EXPECT_EQ(sent(a), "250 2.0.0 Ok: queued as Q1\r\n221 2.0.0 Bye\r\n");
}

TEST(Data, ReservesFromSizeAndMovesData) {
  Harness h;
  h.ehlo();
  h.say("MAIL FROM:<a@b.example> SIZE=50000\r\nRCPT TO:<c@d.example>\r\n");
  h.feed("DATA\r\n");
  auto a = h.feed("x\r\n.\r\n");
  const Deliver* d = find_action<Deliver>(a);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->data, "x\r\n");
  EXPECT_GE(d->data.capacity(), 50000u);  // the buffer reserved from SIZE= was moved, not copied
}

// ---- the server-wide budget of unstored message content -----------------------------------------------

// About `bytes` of message content in lines of 1000 bytes.
std::string lines(std::size_t bytes) {
  std::string out;
  while (out.size() < bytes) out += std::string(998, 'x') + "\r\n";
  return out;
}

TEST(DataBudget, AMessageTakesItsRoomUntilStoredThenGivesItBack) {
  core::ByteBudget budget(1 << 20);
  SessionOptions o;
  o.budget = &budget;
  Harness h(o);
  h.to_rcpt();
  h.feed("DATA\r\n");
  EXPECT_EQ(budget.used(), 16u * 1024);  // the default room
  h.feed(lines(100000));
  EXPECT_GE(budget.used(), 100000u);
  auto a = h.feed(".\r\n");
  const Deliver* d = find_action<Deliver>(a);
  ASSERT_NE(d, nullptr);
  EXPECT_GE(budget.used(), d->data.size());   // handed over, not yet stored
  EXPECT_EQ(budget.used(), d->data.capacity());
  h.delivered();
  EXPECT_EQ(budget.used(), 0u);
}

TEST(DataBudget, WhenItIsSpentDataGets452AndOtherSessionsGoOn) {
  core::ByteBudget budget(64 * 1024);
  SessionOptions o;
  o.budget = &budget;
  o.limits.max_message_size = 1 << 20;
  Harness a(o);
  a.to_rcpt();
  a.feed("DATA\r\n");
  a.feed(lines(40000));  // holds 64 KiB now (16K, 32K, then 64K of room)
  Harness b(o);
  b.to_rcpt();
  EXPECT_EQ(b.say("DATA\r\n"), "452 4.3.1 Insufficient system storage, try again later\r\n");
  EXPECT_EQ(b.say("RCPT TO:<c@d.example>\r\n"), "503 5.5.1 Error: need MAIL command\r\n");  // reset
  // a's message grows beyond the budget: the rest is read and dropped, its end answered 452.
  EXPECT_TRUE(a.feed(lines(100000)).empty());
  EXPECT_EQ(a.say(".\r\n"), "452 4.3.1 Insufficient system storage, try again later\r\n");
  EXPECT_EQ(budget.used(), 0u);
  // With the room back, b's next message goes through.
  b.say("MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n");
  auto d = b.data("Subject: fits\r\n\r\nok\r\n.\r\n");
  ASSERT_TRUE(d);
  EXPECT_EQ(budget.used(), 0u);
}

TEST(DataBudget, ADeclaredSizeBeyondTheBudgetStartsSmall) {
  core::ByteBudget budget(64 * 1024);
  SessionOptions o;
  o.budget = &budget;
  Harness h(o);
  h.ehlo();
  h.say("MAIL FROM:<a@b.example> SIZE=1000000\r\nRCPT TO:<c@d.example>\r\n");
  EXPECT_EQ(h.say("DATA\r\n"), "354 End data with <CR><LF>.<CR><LF>\r\n");
  EXPECT_EQ(budget.used(), 16u * 1024);
}

TEST(DataBudget, BdatChunksCountToo) {
  core::ByteBudget budget(64 * 1024);
  SessionOptions o;
  o.budget = &budget;
  o.limits.max_message_size = 1 << 20;
  Harness h(o);
  h.to_rcpt();
  EXPECT_EQ(h.say("BDAT 30000\r\n" + std::string(30000, 'x')), "250 2.0.0 30000 octets received\r\n");
  EXPECT_EQ(h.say("BDAT 50000 LAST\r\n" + std::string(50000, 'y')),
            "452 4.3.1 Insufficient system storage, try again later\r\n");
  EXPECT_EQ(budget.used(), 0u);
  EXPECT_EQ(h.say("NOOP\r\n"), "250 2.0.0 Ok\r\n");
}

TEST(DataBudget, ASessionThatEndsGivesEverythingBack) {
  core::ByteBudget budget(1 << 20);
  SessionOptions o;
  o.budget = &budget;
  {
    Harness h(o);
    h.to_rcpt();
    h.feed("DATA\r\n");
    h.feed(lines(50000) + ".\r\n");  // handed over, never answered
    EXPECT_GT(budget.used(), 0u);
  }
  EXPECT_EQ(budget.used(), 0u);
}

// ---- BDAT ------------------------------------------------------------------------------------------

TEST(Bdat, ChunksThenLast) {
  Harness h;
  h.to_rcpt();
  EXPECT_EQ(h.say("BDAT 5\r\nhello"), "250 2.0.0 5 octets received\r\n");
  EXPECT_EQ(h.say("BDAT 8\r\n world\r\n"), "250 2.0.0 8 octets received\r\n");
  auto a = h.feed("BDAT 0 LAST\r\n");
  ASSERT_EQ(kinds(a), "D");
  const auto& d = std::get<Deliver>(a[0]);
  EXPECT_EQ(d.data, "hello world\r\n");
  EXPECT_TRUE(d.envelope.chunked);
  EXPECT_EQ(d.envelope.rcpts.size(), 1u);
  EXPECT_EQ(sent(h.delivered("B1")), "250 2.0.0 Ok: queued as B1\r\n");
  EXPECT_EQ(h.say("RCPT TO:<c@d.example>\r\n"), "503 5.5.1 Error: need MAIL command\r\n");
}

TEST(Bdat, ZeroLastAlone) {
  Harness h;
  h.to_rcpt();
  auto a = h.feed("BDAT 0 LAST\r\n");
  ASSERT_EQ(kinds(a), "D");
  EXPECT_EQ(std::get<Deliver>(a[0]).data, "");
}

TEST(Bdat, ContentIsVerbatim) {
  Harness h;
  h.to_rcpt();
  std::string chunk("a\r\n.\r\n..b\nc\rd\0e", 15);
  auto a = h.feed("BDAT " + std::to_string(chunk.size()) + " LAST\r\n" + chunk);
  ASSERT_EQ(kinds(a), "D");
  EXPECT_EQ(std::get<Deliver>(a[0]).data, chunk);
  EXPECT_FALSE(std::get<Deliver>(a[0]).envelope.bare_newline);
}

TEST(Bdat, PipelinedWithRecipientsInOneFeed) {
  Harness h;
  h.ehlo();
  auto a = h.feed(
      "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nRCPT TO:<e@f.example>\r\nBDAT 6\r\nhello\nBDAT 7 "
      "LAST\r\nworld\r\nNOOP\r\n");
  ASSERT_EQ(kinds(a), "SD");
  EXPECT_EQ(sent(a), "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n250 2.0.0 6 octets received\r\n");
  EXPECT_EQ(std::get<Deliver>(a[1]).data, "hello\nworld\r\n");
  EXPECT_EQ(std::get<Deliver>(a[1]).envelope.rcpts.size(), 2u);
  EXPECT_EQ(sent(h.delivered("P")), "250 2.0.0 Ok: queued as P\r\n250 2.0.0 Ok\r\n");
}

TEST(Bdat, ChunkSplitAcrossFeedsAtEveryPosition) {
  const std::string stream = "BDAT 10\r\n0123456789BDAT 4 LAST\r\nabcd";
  for (std::size_t split = 0; split <= stream.size(); ++split) {
    Harness h;
    h.to_rcpt();
    auto a = h.feed(stream.substr(0, split));
    if (split < stream.size()) {
      EXPECT_EQ(find_action<Deliver>(a), nullptr) << split;
    }
    bool mid_chunk = (split >= 9 && split < 19) || (split >= 32 && split < 36);
    EXPECT_EQ(h.session().in_data(), mid_chunk) << split;
    auto b = h.feed(stream.substr(split));
    a.insert(a.end(), b.begin(), b.end());
    EXPECT_EQ(sent(a), "250 2.0.0 10 octets received\r\n") << split;
    const Deliver* d = find_action<Deliver>(a);
    ASSERT_NE(d, nullptr) << split;
    EXPECT_EQ(d->data, "0123456789abcd") << split;
  }
}

TEST(Bdat, RejectedChunksAreStillConsumed) {
  struct Case {
    const char* name;
    std::string setup;
    std::string reply;
  };
  const Case cases[] = {
      {"before MAIL", "", "503 5.5.1 Error: need MAIL command\r\n"},
      {"without RCPT", "MAIL FROM:<a@b.example>\r\n", "503 5.5.1 Error: No valid recipients\r\n"},
  };
  for (const auto& c : cases) {
    Harness h;
    h.ehlo();
    h.say(c.setup);
    // The 8 bytes look like a command; they must be skipped, not executed.
    auto a = h.feed("BDAT 8\r\nQUIT\r\n\r\nNOOP\r\n");
    EXPECT_EQ(sent(a), c.reply + "250 2.0.0 Ok\r\n") << c.name;
    EXPECT_FALSE(h.session().closed()) << c.name;
  }
  {  // The chunk arriving later, in pieces.
    Harness h;
    h.ehlo();
    EXPECT_EQ(h.say("BDAT 6 LAST\r\n"), "");
    EXPECT_TRUE(h.session().in_data());
    EXPECT_EQ(h.say("QUI"), "");
    EXPECT_EQ(h.say("T\r\nNOOP\r\n"), "503 5.5.1 Error: need MAIL command\r\n250 2.0.0 Ok\r\n");
  }
  {  // A malformed size cannot be skipped: it is answered and the next bytes are commands.
    Harness h;
    h.to_rcpt();
    EXPECT_EQ(h.say("BDAT ten\r\nNOOP\r\n"), "501 5.5.4 Syntax: BDAT size [LAST]\r\n250 2.0.0 Ok\r\n");
  }
}

TEST(Bdat, DataAfterBdatRefused) {
  Harness h;
  h.to_rcpt();
  EXPECT_EQ(h.say("BDAT 3\r\nabc"), "250 2.0.0 3 octets received\r\n");
  EXPECT_EQ(h.say("DATA\r\n"), "503 5.5.1 Error: DATA not allowed after BDAT\r\n");
  auto a = h.feed("BDAT 3 LAST\r\ndef");
  ASSERT_EQ(kinds(a), "D");
  EXPECT_EQ(std::get<Deliver>(a[0]).data, "abcdef");
}

TEST(Bdat, OversizeConsumesAndResets) {
  SessionOptions o;
  o.limits.max_message_size = 10;
  Harness h(o);
  h.to_rcpt();
  EXPECT_EQ(h.say("BDAT 8\r\n12345678"), "250 2.0.0 8 octets received\r\n");
  auto a = h.feed("BDAT 8\r\n12345678BDAT 2 LAST\r\nxyNOOP\r\n");
  EXPECT_EQ(sent(a),
            "552 5.3.4 Message size exceeds fixed maximum message size\r\n"
            "503 5.5.1 Error: need MAIL command\r\n250 2.0.0 Ok\r\n");
  EXPECT_EQ(find_action<Deliver>(a), nullptr);
  // A fresh transaction works, and exactly the limit fits.
  h.say("MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n");
  a = h.feed("BDAT 10 LAST\r\n0123456789");
  ASSERT_EQ(kinds(a), "D");
}

TEST(Bdat, HugeChunkIsSkippedNotStored) {
  SessionOptions o;
  o.limits.max_message_size = 1024;
  Harness h(o);
  h.to_rcpt();
  EXPECT_EQ(h.say("BDAT 33554432 LAST\r\n"), "");
  std::string piece(1024 * 1024, 'q');
  struct mallinfo2 before = mallinfo2();
  for (int i = 0; i < 31; ++i) EXPECT_TRUE(h.feed(piece).empty());
  struct mallinfo2 after = mallinfo2();
  EXPECT_LT(after.uordblks, before.uordblks + 256 * 1024);
  EXPECT_EQ(h.say(piece), "552 5.3.4 Message size exceeds fixed maximum message size\r\n");
  EXPECT_FALSE(h.session().in_data());
  EXPECT_EQ(h.say("NOOP\r\n"), "250 2.0.0 Ok\r\n");
}

TEST(Bdat, BinaryChunkWithBinaryMime) {
  Harness h;
  h.ehlo();
  h.say("MAIL FROM:<a@b.example> BODY=BINARYMIME\r\nRCPT TO:<c@d.example>\r\n");
  std::string chunk("\x00\x01\x02\xff", 4);
  auto a = h.feed("BDAT 4 LAST\r\n" + chunk);
  ASSERT_EQ(kinds(a), "D");
  EXPECT_EQ(std::get<Deliver>(a[0]).data, chunk);
}

TEST(Bdat, PolicyRejectsAtLast) {
  Harness h;
  h.policy.replies[Stage::kData] = Reply{550, "5.7.1", {"No"}};
  h.to_rcpt();
  EXPECT_EQ(h.say("BDAT 2\r\nab"), "250 2.0.0 2 octets received\r\n");
  auto a = h.feed("BDAT 2 LAST\r\ncd");
  EXPECT_EQ(kinds(a), "S");
  EXPECT_EQ(sent(a), "550 5.7.1 No\r\n");
  EXPECT_EQ(h.policy.seen.back().message, "abcd");
  EXPECT_EQ(h.say("BDAT 0 LAST\r\n"), "503 5.5.1 Error: need MAIL command\r\n");
}

}  // namespace
}  // namespace mailjar::smtp
