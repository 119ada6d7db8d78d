// MailHog API v2 (GET /api/v2/messages, /api/v2/search) against a real Store in a temporary directory:
// the item shape and values, paging, the three search kinds, errors, Unicode and hostile bytes.
#include "http/mailhog.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "core/id.h"
#include "mime/mime.h"
#include "store/store.h"

namespace mailjar::http {
namespace {

using nlohmann::json;

// 2026-11-23T10:00:00.123Z
constexpr int64_t kBaseMs = 1795428000123;

core::Envelope envelope(std::string mail_from, std::vector<std::string> rcpts,
                        std::string helo = "client.test") {
  core::Envelope e;
  e.mail_from = std::move(mail_from);
  for (std::string& r : rcpts) e.rcpts.push_back(core::Recipient{std::move(r), ""});
  e.helo = std::move(helo);
  e.esmtp = true;
  return e;
}

class MailHogTest : public testing::Test {
 protected:
  void SetUp() override {
    mime::init();
    char pattern[] = "/tmp/mailjar-mailhog-test-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    store::StoreOptions options;
    options.data_dir = dir_;
    options.sync_full = false;
    auto opened = store::Store::open(options);
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    store_ = std::move(opened).value();
    auto inbox = store_->default_inbox();
    ASSERT_TRUE(inbox.ok()) << inbox.error().message;
    inbox_ = inbox.value();
  }

  void TearDown() override {
    store_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  // Stores `raw` as SMTP mail is stored (summary parsed from the bytes) and returns its ID.
  std::string insert(const std::string& raw, core::Envelope env, int64_t received_ms) {
    store::NewMessage m;
    m.id = ids_.next(received_ms);
    m.inbox_id = inbox_.id;
    m.received_ms = received_ms;
    m.envelope = std::move(env);
    m.raw = raw;
    m.summary = mime::parse_summary(raw);
    auto prepared = store::prepare_message(std::move(m));
    EXPECT_TRUE(prepared.ok()) << prepared.error().message;
    if (!prepared.ok()) return "";
    auto done = store_->insert_prepared({&prepared.value()});
    EXPECT_TRUE(done.ok()) << done.error().message;
    return prepared->message.id;
  }

  Response call(const std::string& target_text) {
    auto target = parse_target(target_text);
    EXPECT_TRUE(target.ok()) << target_text;
    if (!target.ok()) return {};
    if (target->raw_path == "/api/v2/search") return mailhog_search(*target, inbox_, *store_, limits_);
    return mailhog_messages(*target, inbox_, *store_, limits_);
  }

  // The JSON body of a call, checking its status and content type.
  json get(const std::string& target, int status = 200) {
    const Response r = call(target);
    EXPECT_EQ(r.status, status) << target << ": " << r.body;
    EXPECT_EQ(r.content_type, "application/json") << target;
    json body = json::parse(r.body, nullptr, false);
    EXPECT_FALSE(body.is_discarded()) << target << ": " << r.body;
    return body;
  }

  // The subjects (first Subject header) of the items of a call, in order.
  std::vector<std::string> subjects(const std::string& target) {
    const json body = get(target);
    std::vector<std::string> out;
    for (const json& item : body.at("items"))
      out.push_back(item.at("Content").at("Headers").at("Subject").at(0));
    return out;
  }

  std::string dir_;
  std::unique_ptr<store::Store> store_;
  store::Inbox inbox_;
  core::IdGenerator ids_;
  MailHogLimits limits_;
};

std::string simple_raw(const std::string& subject, const std::string& from = "Sender <sender@example.com>",
                       const std::string& to = "rcpt@example.com", const std::string& body = "hello") {
  return "From: " + from + "\r\nTo: " + to + "\r\nSubject: " + subject + "\r\n\r\n" + body + "\r\n";
}

TEST_F(MailHogTest, ItemHasMailHogShapeAndValues) {
  const std::string raw =
      "Received: from a.example by mx\r\n"
      "Received: from b.example by a.example\r\n"
      "From: Alice <alice@example.com>\r\n"
      "To: Bob <bob@example.org>\r\n"
      "Subject: a folded\r\n"
      "\tsubject line\r\n"
      "X-Empty:\r\n"
      "\r\n"
      "First line\r\n"
      "\r\n"
      "Subject: not a header\r\n";
  const std::string id = insert(
      raw,
      envelope("bounce+tag@lists.example.com",
               {"bob@example.org", "carol@sub.example.net", "@relay:odd@x@y.example"}, "client.example"),
      kBaseMs);
  const json body = get("/api/v2/messages");
  EXPECT_EQ(body.at("total"), 1);
  EXPECT_EQ(body.at("count"), 1);
  EXPECT_EQ(body.at("start"), 0);
  ASSERT_EQ(body.at("items").size(), 1u);
  const json& item = body.at("items").at(0);

  const json expected_from = {
      {"Relays", nullptr}, {"Mailbox", "bounce+tag"}, {"Domain", "lists.example.com"}, {"Params", ""}};
  EXPECT_EQ(item.at("ID"), id);
  EXPECT_EQ(item.at("From"), expected_from);
  ASSERT_EQ(item.at("To").size(), 3u);
  EXPECT_EQ(item.at("To").at(0).at("Mailbox"), "bob");
  EXPECT_EQ(item.at("To").at(0).at("Domain"), "example.org");
  EXPECT_EQ(item.at("To").at(1).at("Domain"), "sub.example.net");
  EXPECT_EQ(item.at("To").at(2).at("Mailbox"), "@relay:odd@x");  // split at the LAST '@'
  EXPECT_EQ(item.at("To").at(2).at("Domain"), "y.example");
  EXPECT_TRUE(item.at("To").at(2).at("Relays").is_null());

  const json& content = item.at("Content");
  EXPECT_EQ(content.at("Headers").at("Received"),
            json::array({"from a.example by mx", "from b.example by a.example"}));
  EXPECT_EQ(content.at("Headers").at("Subject"), json::array({"a folded\tsubject line"}));
  EXPECT_EQ(content.at("Headers").at("X-Empty"), json::array({""}));
  EXPECT_EQ(content.at("Headers").at("From"), json::array({"Alice <alice@example.com>"}));
  EXPECT_EQ(content.at("Headers").size(), 5u);
  EXPECT_EQ(content.at("Body"), "First line\r\n\r\nSubject: not a header\r\n");
  EXPECT_EQ(content.at("Size"), raw.size());
  EXPECT_TRUE(content.at("MIME").is_null());

  EXPECT_EQ(item.at("Created"), "2026-11-23T10:00:00.123Z");
  EXPECT_TRUE(item.at("MIME").is_null());
  const json expected_raw = {
      {"From", "bounce+tag@lists.example.com"},
      {"To", json::array({"bob@example.org", "carol@sub.example.net", "@relay:odd@x@y.example"})},
      {"Data", raw},
      {"Helo", "client.example"}};
  EXPECT_EQ(item.at("Raw"), expected_raw);
}

TEST_F(MailHogTest, NullSenderAndLfOnlyAndHeaderOnlyMessages) {
  struct Case {
    std::string raw;
    json headers;
    std::string body;
  };
  const std::vector<Case> cases = {
      {"Subject: lf\nX-A: 1\n 2\n\nbody\n", {{"Subject", {"lf"}}, {"X-A", {"1 2"}}}, "body\n"},
      {"Subject: no body\r\nX-B: b", {{"Subject", {"no body"}}, {"X-B", {"b"}}}, ""},
      {"Subject: empty body\r\n\r\n", {{"Subject", {"empty body"}}}, ""},
      {"Subject: junk\r\nnot a field\r\n continuation of junk\r\n\r\nx", {{"Subject", {"junk"}}}, "x"},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    insert(cases[i].raw, envelope("", {"a@b.example"}), kBaseMs + static_cast<int64_t>(i));
  }
  const json body = get("/api/v2/messages");
  ASSERT_EQ(body.at("items").size(), cases.size());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const json& item = body.at("items").at(cases.size() - 1 - i);  // newest first
    EXPECT_EQ(item.at("Content").at("Headers"), cases[i].headers) << cases[i].raw;
    EXPECT_EQ(item.at("Content").at("Body"), cases[i].body) << cases[i].raw;
    EXPECT_EQ(item.at("Raw").at("Data"), cases[i].raw);
    const json null_sender = {{"Relays", nullptr}, {"Mailbox", ""}, {"Domain", ""}, {"Params", ""}};
    EXPECT_EQ(item.at("From"), null_sender);
    EXPECT_EQ(item.at("Raw").at("From"), "");
  }
}

TEST_F(MailHogTest, ListPagesNewestFirst) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(insert(simple_raw("m" + std::to_string(i)), envelope("s@example.com", {"r@example.com"}),
                         kBaseMs + i * 1000));
  }
  struct Case {
    std::string query;
    int start;
    std::vector<std::string> subjects;
  };
  const std::vector<Case> cases = {
      {"", 0, {"m4", "m3", "m2", "m1", "m0"}},
      {"?start=1&limit=2", 1, {"m3", "m2"}},
      {"?start=4&limit=2", 4, {"m0"}},
      {"?start=5", 5, {}},
      {"?start=100&limit=1", 100, {}},
      {"?limit=1", 0, {"m4"}},
      {"?limit=100000", 0, {"m4", "m3", "m2", "m1", "m0"}},   // lowered to 5000
      {"?start=&limit=", 0, {"m4", "m3", "m2", "m1", "m0"}},  // empty values are the defaults
  };
  for (const Case& c : cases) {
    const json body = get("/api/v2/messages" + c.query);
    EXPECT_EQ(body.at("total"), 5) << c.query;
    EXPECT_EQ(body.at("start"), c.start) << c.query;
    EXPECT_EQ(body.at("count"), c.subjects.size()) << c.query;
    EXPECT_EQ(subjects("/api/v2/messages" + c.query), c.subjects) << c.query;
  }
  EXPECT_EQ(get("/api/v2/messages?limit=1").at("items").at(0).at("ID"), ids.back());
}

TEST_F(MailHogTest, BadPagingIs400) {
  insert(simple_raw("x"), envelope("s@example.com", {"r@example.com"}), kBaseMs);
  for (const std::string path : {"/api/v2/messages", "/api/v2/search?kind=containing&query=x&"}) {
    const std::string sep = path.find('?') == std::string::npos ? "?" : "";
    for (const char* bad : {"start=-1", "start=abc", "start=1x", "limit=0", "limit=-5", "limit=ten",
                            "limit=99999999999999999999"}) {
      const json body = get(path + sep + bad, 400);
      EXPECT_EQ(body.at("Code"), "invalid_parameter") << path << bad;
      EXPECT_FALSE(body.at("Error").get<std::string>().empty()) << path << bad;
    }
  }
}

class MailHogSearchTest : public MailHogTest {
 protected:
  void SetUp() override {
    MailHogTest::SetUp();
    insert(
        simple_raw("Invoice March", "Alice Smith <alice@example.com>", "Bob <bob@example.org>", "please pay"),
        envelope("alice@example.com", {"bob@example.org"}), kBaseMs);
    insert(
        "From: Carol <carol@example.net>\r\nTo: dave@example.com\r\nCc: Erin <erin@example.com>\r\n"
        "Subject: Welcome\r\n\r\nhello there, see the invoice\r\n",
        envelope("carol@example.net", {"dave@example.com", "erin@example.com"}), kBaseMs + 1000);
    insert(simple_raw("Newsletter", "News <news@lists.example.com>", "alice@example.com", "weekly digest"),
           envelope("bounce@lists.example.com", {"alice@example.com"}), kBaseMs + 2000);
  }
};

TEST_F(MailHogSearchTest, KindsMatchTheirFields) {
  struct Case {
    std::string query;
    std::vector<std::string> subjects;  // newest first
  };
  const std::vector<Case> cases = {
      {"kind=from&query=alice@example.com", {"Invoice March"}},
      {"kind=from&query=ALICE", {"Invoice March"}},                      // case-insensitive
      {"kind=from&query=Alice+Smith", {"Invoice March"}},                // the display name
      {"kind=from&query=alice@exa", {"Invoice March"}},                  // the last token is a prefix
      {"kind=from&query=example.com", {"Newsletter", "Invoice March"}},  // not carol@example.net
      {"kind=from&query=nobody@example.com", {}},
      {"kind=to&query=alice@example.com", {"Newsletter"}},
      {"kind=to&query=bob@example.org", {"Invoice March"}},
      {"kind=to&query=erin@example.com", {"Welcome"}},                  // Cc counts as a recipient
      {"kind=to&query=carol", {}},                                      // a sender, not a recipient
      {"kind=containing&query=invoice", {"Welcome", "Invoice March"}},  // subject or body
      {"kind=containing&query=hello+invoice", {"Welcome"}},             // every word
      {"kind=containing&query=%20weekly%20%20digest%20", {"Newsletter"}},
      {"kind=containing&query=foo:bar", {}},  // text, not an operator
      {"kind=containing&query=is:unread", {}},
      {"kind=containing&query=missing", {}},
  };
  for (const Case& c : cases) {
    const std::string target = "/api/v2/search?" + c.query;
    const json body = get(target);
    EXPECT_EQ(body.at("total"), c.subjects.size()) << c.query;
    EXPECT_EQ(body.at("count"), c.subjects.size()) << c.query;
    EXPECT_EQ(body.at("start"), 0) << c.query;
    EXPECT_EQ(subjects(target), c.subjects) << c.query;
  }
}

TEST_F(MailHogSearchTest, SearchPagesAndTotalCountsMatches) {
  const json body = get("/api/v2/search?kind=containing&query=example&start=1&limit=1");
  EXPECT_EQ(body.at("total"), 3);
  EXPECT_EQ(body.at("count"), 1);
  EXPECT_EQ(body.at("start"), 1);
  EXPECT_EQ(body.at("items").at(0).at("Content").at("Headers").at("Subject").at(0), "Welcome");
  EXPECT_EQ(body.at("items").at(0).at("Raw").at("To"), json::array({"dave@example.com", "erin@example.com"}));
}

TEST_F(MailHogSearchTest, BadKindOrMissingQueryIs400) {
  struct Case {
    std::string query;
    std::string code;
  };
  const std::vector<Case> cases = {
      {"query=alice", "invalid_parameter"},  // no kind
      {"kind=&query=alice", "invalid_parameter"},
      {"kind=subject&query=alice", "invalid_parameter"},
      {"kind=FROM&query=alice", "invalid_parameter"},
      {"kind=from", "invalid_query"},  // no query
      {"kind=to&query=", "invalid_query"},
      {"kind=containing&query=+++", "invalid_query"},  // only spaces
      {"kind=containing&query=" + std::string(4097, 'a'), "invalid_query"},
      {"kind=containing&query=" +
           [] {
             std::string words;
             for (int i = 0; i < 65; ++i) words += "w" + std::to_string(i) + "+";
             return words;
           }(),
       "invalid_query"},
  };
  for (const Case& c : cases) {
    const json body = get("/api/v2/search?" + c.query, 400);
    EXPECT_EQ(body.at("Code"), c.code) << c.query.substr(0, 60);
    EXPECT_FALSE(body.at("Error").get<std::string>().empty());
  }
  // 64 words is still accepted.
  std::string words;
  for (int i = 0; i < 64; ++i) words += "w" + std::to_string(i) + "+";
  EXPECT_EQ(get("/api/v2/search?kind=containing&query=" + words).at("total"), 0);
}

TEST_F(MailHogTest, UnicodeAddressesSubjectAndSearch) {
  const std::string raw =
      "From: =?UTF-8?Q?J=C3=B6rg?= <jörg@bücher.example>\r\n"
      "To: Zoë <zoë@例え.jp>\r\n"
      "Subject: Grüße aus dem Café ☕\r\n"
      "Content-Type: text/plain; charset=utf-8\r\n"
      "\r\n"
      "Schöne Grüße, 日本語のテキスト\r\n";
  core::Envelope env = envelope("jörg@bücher.example", {"zoë@例え.jp"});
  env.smtputf8 = true;
  insert(raw, env, kBaseMs);
  insert(simple_raw("plain ascii"), envelope("s@example.com", {"r@example.com"}), kBaseMs + 1);

  const json body = get("/api/v2/search?kind=from&query=j%C3%B6rg");
  ASSERT_EQ(body.at("total"), 1);
  const json& item = body.at("items").at(0);
  EXPECT_EQ(item.at("From").at("Mailbox"), "jörg");
  EXPECT_EQ(item.at("From").at("Domain"), "bücher.example");
  EXPECT_EQ(item.at("To").at(0).at("Mailbox"), "zoë");
  EXPECT_EQ(item.at("To").at(0).at("Domain"), "例え.jp");
  EXPECT_EQ(item.at("Raw").at("Data"), raw);
  EXPECT_EQ(item.at("Content").at("Headers").at("Subject"), json::array({"Grüße aus dem Café ☕"}));
  EXPECT_EQ(item.at("Content").at("Headers").at("From"),
            json::array({"=?UTF-8?Q?J=C3=B6rg?= <jörg@bücher.example>"}));
  EXPECT_EQ(item.at("Content").at("Body"), "Schöne Grüße, 日本語のテキスト\r\n");
  EXPECT_EQ(item.at("Content").at("Size"), raw.size());

  struct Case {
    std::string query;
    int64_t total;
  };
  const std::vector<Case> cases = {
      {"kind=containing&query=Gr%C3%BC%C3%9Fe", 1},  // Grüße
      {"kind=containing&query=GR%C3%9C%C3%9FE", 1},  // GRÜßE: Unicode case folding
      {"kind=containing&query=cafe", 1},             // diacritic-insensitive
      {"kind=containing&query=sch%C3%B6ne", 1},      // schöne, in the body
      {"kind=from&query=J%C3%B6rg", 1},              // the decoded display name
      {"kind=to&query=zo%C3%AB", 1},                 // zoë
      {"kind=to&query=zoe", 1},
      {"kind=containing&query=%C3%A9t%C3%A9", 0},  // été
  };
  for (const Case& c : cases) EXPECT_EQ(get("/api/v2/search?" + c.query).at("total"), c.total) << c.query;
}

TEST_F(MailHogTest, InvalidUtf8IsReplacedNotAnError) {
  const std::string raw =
      std::string("Subject: bad \xff\xfe bytes\r\n\r\nbody \xc3\x28 end\r\n") + '\0' + "\r\n";
  insert(raw, envelope("s@example.com", {"r@example.com"}), kBaseMs);
  const Response r = call("/api/v2/messages");
  ASSERT_EQ(r.status, 200);
  const json body = json::parse(r.body, nullptr, false);
  ASSERT_FALSE(body.is_discarded());
  const json& item = body.at("items").at(0);
  EXPECT_EQ(item.at("Content").at("Headers").at("Subject").at(0), "bad \xef\xbf\xbd\xef\xbf\xbd bytes");
  const std::string data = item.at("Raw").at("Data");
  EXPECT_NE(data.find("\xef\xbf\xbd("), std::string::npos);
  EXPECT_EQ(item.at("Content").at("Size"), raw.size());
}

TEST_F(MailHogTest, OtherInboxesAreNotListed) {
  auto other = store_->create_inbox("default", "other");
  ASSERT_TRUE(other.ok()) << other.error().message;
  store::NewMessage m;
  m.id = ids_.next(kBaseMs);
  m.inbox_id = other->id;
  m.received_ms = kBaseMs;
  m.raw = simple_raw("elsewhere");
  m.summary = mime::parse_summary(m.raw);
  ASSERT_TRUE(store_->insert_messages({&m}).ok());
  insert(simple_raw("here"), envelope("s@example.com", {"r@example.com"}), kBaseMs + 1);

  EXPECT_EQ(subjects("/api/v2/messages"), std::vector<std::string>{"here"});
  EXPECT_EQ(get("/api/v2/search?kind=containing&query=elsewhere").at("total"), 0);
  auto target = parse_target("/api/v2/messages");
  ASSERT_TRUE(target.ok());
  const json in_other = json::parse(mailhog_messages(target.value(), other.value(), *store_).body);
  EXPECT_EQ(in_other.at("total"), 1);
  EXPECT_EQ(in_other.at("items").at(0).at("Content").at("Headers").at("Subject").at(0), "elsewhere");
}

TEST_F(MailHogTest, LargeBodiesAreCutWithTheMarker) {
  limits_.max_body = 1000;
  const std::string body(5000, 'b');
  const std::string raw = simple_raw("big", "s@example.com", "r@example.com", body);
  const std::string id = insert(raw, envelope("s@example.com", {"r@example.com"}), kBaseMs);
  insert(simple_raw("small"), envelope("s@example.com", {"r@example.com"}), kBaseMs + 1);
  const json page = get("/api/v2/messages");
  ASSERT_EQ(page.at("count"), 2);
  const json& big = page.at("items").at(1);
  const std::string marker = "\r\n[mailjar: truncated at 1000 of " + std::to_string(raw.size()) +
                             " bytes; GET /api/v1/message/" + id + "/raw for the whole message]";
  EXPECT_EQ(big.at("Content").at("Body"), std::string(1000, 'b') + marker);
  EXPECT_EQ(big.at("Raw").at("Data"), raw.substr(0, 1000) + marker);
  EXPECT_EQ(big.at("Content").at("Size"), raw.size());  // the whole size
  const json& small = page.at("items").at(0);
  EXPECT_EQ(small.at("Content").at("Body"), "hello\r\n");  // under the limit: as stored
}

TEST_F(MailHogTest, AHeaderBlockBeyondTheLimitIsCut) {
  limits_.max_body = 1000;
  const std::string raw = "Subject: s\r\nX-Long: " + std::string(100000, 'h') + "\r\n\r\nbody\r\n";
  insert(raw, envelope("s@example.com", {"r@example.com"}), kBaseMs);
  const json item = get("/api/v2/messages").at("items").at(0);
  EXPECT_EQ(item.at("Content").at("Headers").at("Subject").at(0), "s");
  EXPECT_LT(item.at("Content").at("Headers").at("X-Long").at(0).get<std::string>().size(), 1000u);
}

TEST_F(MailHogTest, APageEndsEarlyAtTheReplyLimitButHoldsAtLeastOneItem) {
  limits_.max_body = 1 << 20;
  limits_.max_reply = 100000;
  for (int i = 0; i < 5; ++i) {
    insert(simple_raw("m" + std::to_string(i), "s@example.com", "r@example.com", std::string(30000, 'x')),
           envelope("s@example.com", {"r@example.com"}), kBaseMs + i);
  }
  const Response r = call("/api/v2/messages?limit=5");
  EXPECT_LE(r.body.size(), 100000u);
  const json page = json::parse(r.body);
  EXPECT_EQ(page.at("total"), 5);
  EXPECT_EQ(page.at("count"), page.at("items").size());
  EXPECT_EQ(page.at("count"), 1);  // each item holds the body twice (Body, Raw.Data): 60 KB
  // Paging by count reaches every message.
  std::set<std::string> seen;
  for (int start = 0; start < 5;) {
    const json next = get("/api/v2/messages?limit=5&start=" + std::to_string(start));
    ASSERT_GE(next.at("count").get<int>(), 1);
    for (const json& item : next.at("items")) seen.insert(item.at("ID"));
    start += next.at("count").get<int>();
  }
  EXPECT_EQ(seen.size(), 5u);
  limits_.max_reply = 10;  // smaller than any item: still one
  EXPECT_EQ(get("/api/v2/messages").at("count"), 1);
}

}  // namespace
}  // namespace mailjar::http
