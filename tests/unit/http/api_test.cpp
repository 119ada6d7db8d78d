// http::Api against a real Store in a temporary directory: probes, the Mailpit message list, raw
// download, inbox prefixes, and the error shapes. The last test serves the Api through a real Server.
#include "http/api.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "core/id.h"
#include "http/server.h"
#include "store/store.h"
#include "tests/unit/testing.h"

namespace mailjar::http {
namespace {

using nlohmann::json;

// 2026-11-23T10:00:00.123Z
constexpr int64_t kBaseMs = 1795428000123;

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::StoreOptions options;
    options.data_dir = dir_.str();
    auto opened = store::Store::open(options);
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    store_ = std::move(opened).value();
    auto inbox = store_->default_inbox();
    ASSERT_TRUE(inbox.ok()) << inbox.error().message;
    default_inbox_ = inbox.value();
  }

  // Inserts one message and returns its ID.
  std::string insert(int64_t inbox_id, int64_t received_ms, const std::string& subject,
                     const std::string& raw = "Subject: x\r\n\r\nbody\r\n",
                     const std::string& auth_user = "") {
    store::NewMessage m;
    m.id = ids_.next(received_ms);
    m.inbox_id = inbox_id;
    m.received_ms = received_ms;
    m.envelope.mail_from = "sender@example.com";
    m.envelope.rcpts = {{"rcpt@example.com", ""}};
    m.envelope.auth_user = auth_user;
    m.raw = raw;
    m.summary.subject = subject;
    m.summary.from = {{"Alice", "alice@example.com"}};
    m.summary.to = {{"Bob", "bob@example.com"}, {"", "carol@example.com"}};
    m.summary.message_id = "id-" + subject + "@example.com";
    m.summary.snippet = "snippet of " + subject;
    m.summary.attachments = 1;
    m.summary.tags = {"tag-a"};
    auto result = store_->insert_messages({&m});
    EXPECT_TRUE(result.ok()) << result.error().message;
    return m.id;
  }

  Response call(const std::string& target, const std::string& method = "GET") {
    Request request;
    request.method = method;
    request.target = target;
    return api_.handle(request, *store_);
  }

  static json body_json(const Response& response) {
    EXPECT_EQ(response.content_type, "application/json");
    return json::parse(response.body);
  }

  static void expect_error(const Response& response, int status, const std::string& code) {
    EXPECT_EQ(response.status, status) << response.body;
    const json body = body_json(response);
    EXPECT_EQ(body.value("Code", ""), code) << response.body;
    EXPECT_TRUE(body.contains("Error") && body["Error"].is_string() &&
                !body["Error"].get<std::string>().empty())
        << response.body;
  }

  static std::string header(const Response& response, const std::string& name) {
    for (const auto& [n, v] : response.headers) {
      if (n == name) return v;
    }
    return "";
  }

  std::size_t pending_ = 0;
  static ApiContext context(std::function<std::size_t()> pending) {
    ApiContext c;
    c.version = "test";
    c.pending_writes = std::move(pending);
    c.overload_pending = 100;
    return c;
  }
  Api api_{context([this] { return pending_; })};
  mailjar::testing::TempDir dir_{"mailjar-http-test"};  // declared first: removed after the store closes
  std::unique_ptr<store::Store> store_;
  store::Inbox default_inbox_;
  core::IdGenerator ids_;
};

TEST_F(ApiTest, Livez) {
  const Response r = call("/livez");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(body_json(r), json({{"status", "ok"}}));
}

TEST_F(ApiTest, ReadyzReportsPendingAndOverload) {
  pending_ = 7;
  Response ready = call("/readyz");
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(body_json(ready), json({{"status", "ready"}, {"pending", 7}}));

  pending_ = 100;  // at the threshold: still ready
  EXPECT_EQ(call("/readyz").status, 200);

  pending_ = 101;
  Response overloaded = call("/readyz");
  expect_error(overloaded, 503, "overloaded");
  EXPECT_EQ(body_json(overloaded)["pending"], 101);
}

TEST_F(ApiTest, ReadyzWithoutPendingCallback) {
  Api api(ApiContext{});
  Request request;
  request.method = "GET";
  request.target = "/readyz";
  const Response r = api.handle(request, *store_);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body)["pending"], 0);
}

TEST_F(ApiTest, EmptyListHasMailpitShape) {
  const Response r = call("/api/v1/messages");
  EXPECT_EQ(r.status, 200);
  const json expected = {{"total", 0},
                         {"unread", 0},
                         {"count", 0},
                         {"messages_count", 0},
                         {"messages_unread", 0},
                         {"start", 0},
                         {"tags", json::array()},
                         {"messages", json::array()}};
  EXPECT_EQ(body_json(r), expected);
}

TEST_F(ApiTest, ListShowsMessagesNewestFirstWithEveryField) {
  const std::string older = insert(default_inbox_.id, kBaseMs, "older");
  const std::string newer = insert(default_inbox_.id, kBaseMs + 60000, "newer", "raw", "smtp-user");

  const Response r = call("/api/v1/messages");
  ASSERT_EQ(r.status, 200) << r.body;
  const json body = body_json(r);
  EXPECT_EQ(body["total"], 2);
  EXPECT_EQ(body["unread"], 2);
  EXPECT_EQ(body["count"], 2);
  EXPECT_EQ(body["messages_count"], 2);
  EXPECT_EQ(body["messages_unread"], 2);
  EXPECT_EQ(body["start"], 0);
  EXPECT_EQ(body["tags"], json::array({"tag-a"}));  // every tag of the inbox
  ASSERT_EQ(body["messages"].size(), 2u);
  EXPECT_EQ(body["messages"][0]["ID"], newer);
  EXPECT_EQ(body["messages"][1]["ID"], older);

  const json expected = {
      {"ID", newer},
      {"MessageID", "id-newer@example.com"},
      {"Read", false},
      {"From", {{"Name", "Alice"}, {"Address", "alice@example.com"}}},
      {"To", json::array({{{"Name", "Bob"}, {"Address", "bob@example.com"}},
                          {{"Name", ""}, {"Address", "carol@example.com"}}})},
      {"Cc", json::array()},
      {"Bcc", json::array()},
      {"ReplyTo", json::array()},
      {"Subject", "newer"},
      {"Created", "2026-11-23T10:01:00.123Z"},
      {"Username", "smtp-user"},
      {"Tags", json::array({"tag-a"})},
      {"Size", 3},
      {"Attachments", 1},
      {"Snippet", "snippet of newer"},
  };
  EXPECT_EQ(body["messages"][0], expected);
  EXPECT_EQ(body["messages"][1]["Created"], "2026-11-23T10:00:00.123Z");
  EXPECT_EQ(body["messages"][1]["Username"], "");
}

TEST_F(ApiTest, MissingFromIsAnEmptyAddress) {
  store::NewMessage m;
  m.id = ids_.next(kBaseMs);
  m.inbox_id = default_inbox_.id;
  m.received_ms = kBaseMs;
  m.raw = "\r\n";
  ASSERT_TRUE(store_->insert_messages({&m}).ok());
  const json body = body_json(call("/api/v1/messages"));
  ASSERT_EQ(body["messages"].size(), 1u);
  const json& msg = body["messages"][0];
  EXPECT_EQ(msg["From"], json({{"Name", ""}, {"Address", ""}}));
  for (const char* key : {"To", "Cc", "Bcc", "ReplyTo", "Tags"}) {
    EXPECT_TRUE(msg[key].is_array()) << key;
    EXPECT_TRUE(msg[key].empty()) << key;
  }
}

TEST_F(ApiTest, InvalidUtf8IsReplacedNotFatal) {
  insert(default_inbox_.id, kBaseMs, std::string("bad \xff\xfe utf8"));
  const Response r = call("/api/v1/messages");
  ASSERT_EQ(r.status, 200);
  const json body = body_json(r);
  EXPECT_EQ(body["messages"][0]["Subject"], "bad \xEF\xBF\xBD\xEF\xBF\xBD utf8");
}

TEST_F(ApiTest, StartAndLimitPage) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i)
    ids.push_back(insert(default_inbox_.id, kBaseMs + i * 1000, "m" + std::to_string(i)));
  const json body = body_json(call("/api/v1/messages?start=1&limit=2"));
  EXPECT_EQ(body["total"], 5);
  EXPECT_EQ(body["count"], 2);
  EXPECT_EQ(body["start"], 1);
  ASSERT_EQ(body["messages"].size(), 2u);
  EXPECT_EQ(body["messages"][0]["ID"], ids[3]);
  EXPECT_EQ(body["messages"][1]["ID"], ids[2]);

  const json past_end = body_json(call("/api/v1/messages?start=10"));
  EXPECT_EQ(past_end["count"], 0);
  EXPECT_EQ(past_end["total"], 5);
  EXPECT_EQ(past_end["messages"], json::array());

  // Empty values mean the defaults; a limit above the maximum is clamped, not refused.
  EXPECT_EQ(body_json(call("/api/v1/messages?start=&limit="))["count"], 5);
  EXPECT_EQ(body_json(call("/api/v1/messages?limit=999999"))["count"], 5);
}

TEST_F(ApiTest, InvalidStartOrLimitIs400) {
  for (const char* query : {"start=-1", "start=abc", "start=1.5", "start=+1", "start=%201", "limit=0",
                            "limit=-5", "limit=x", "limit=99999999999999999999999", "start=1e3"}) {
    SCOPED_TRACE(query);
    expect_error(call(std::string("/api/v1/messages?") + query), 400, "invalid_parameter");
  }
}

TEST_F(ApiTest, InboxPrefixScopesEverything) {
  auto team = store_->create_inbox("default", "Team A");
  ASSERT_TRUE(team.ok()) << team.error().message;
  const std::string in_default = insert(default_inbox_.id, kBaseMs, "for-default", "default raw");
  const std::string in_team = insert(team->id, kBaseMs + 1, "for-team", "team raw");

  const json bare = body_json(call("/api/v1/messages"));
  ASSERT_EQ(bare["messages"].size(), 1u);
  EXPECT_EQ(bare["messages"][0]["ID"], in_default);

  const json scoped = body_json(call("/inboxes/" + team->slug + "/api/v1/messages"));
  ASSERT_EQ(scoped["messages"].size(), 1u);
  EXPECT_EQ(scoped["messages"][0]["ID"], in_team);

  const json default_by_slug = body_json(call("/inboxes/" + default_inbox_.slug + "/api/v1/messages"));
  ASSERT_EQ(default_by_slug["messages"].size(), 1u);
  EXPECT_EQ(default_by_slug["messages"][0]["ID"], in_default);

  EXPECT_EQ(call("/inboxes/" + team->slug + "/api/v1/message/" + in_team + "/raw").body, "team raw");
  // A message is only reachable through its own inbox.
  expect_error(call("/inboxes/" + team->slug + "/api/v1/message/" + in_default + "/raw"), 404,
               "message_not_found");
  expect_error(call("/api/v1/message/" + in_team + "/raw"), 404, "message_not_found");

  expect_error(call("/inboxes/no-such-inbox/api/v1/messages"), 404, "inbox_not_found");
  expect_error(call("/inboxes/no-such-inbox/api/v1/message/x/raw"), 404, "inbox_not_found");
}

TEST_F(ApiTest, RawReturnsTheExactBytes) {
  const std::string raw =
      std::string("From: a@b\r\nSubject: \xff binary\r\n\r\nline\rbare\nnul:") + '\0' + "end\r\n";
  const std::string id = insert(default_inbox_.id, kBaseMs, "raw", raw);
  const Response r = call("/api/v1/message/" + id + "/raw");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(r.body, raw);
  EXPECT_EQ(header(r, "Content-Disposition"), "");

  const Response download = call("/api/v1/message/" + id + "/raw?dl=1");
  EXPECT_EQ(download.body, raw);
  EXPECT_EQ(header(download, "Content-Disposition"), "attachment; filename=\"" + id + ".eml\"");
}

TEST_F(ApiTest, ViewsOfAMessageShareOneParseAndNeverOutliveIt) {
  mime::DetailCache cache(1 << 20);
  ApiContext c;
  c.detail_cache = &cache;
  Api api(c);
  const std::string id = insert(default_inbox_.id, kBaseMs, "cached", "Subject: cached\r\nX-A: 1\r\n\r\nthe text\r\n");
  const auto get = [&](const std::string& target) {
    Request request;
    request.method = "GET";
    request.target = target;
    return api.handle(request, *store_);
  };
  EXPECT_EQ(get("/view/" + id + ".txt").body, "the text\r\n");
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_NE(cache.find(std::to_string(default_inbox_.id) + "/" + id), nullptr);
  EXPECT_EQ(json::parse(get("/api/v1/message/" + id + "/headers").body)["X-A"], json::array({"1"}));
  EXPECT_EQ(json::parse(get("/api/v1/message/" + id).body)["Text"], "the text\r\n");
  EXPECT_EQ(cache.size(), 1u);
  // Another inbox never finds it, and once deleted it is gone for the views too.
  auto other = store_->create_inbox("default", "other");
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(get("/inboxes/" + other->slug + "/view/" + id + ".txt").status, 404);
  ASSERT_TRUE(store_->delete_messages(default_inbox_.id, {id}).ok());
  EXPECT_EQ(get("/view/" + id + ".txt").status, 404);
  EXPECT_EQ(get("/api/v1/message/" + id + "/headers").status, 404);
}

TEST_F(ApiTest, RawLatestIsTheNewestMessage) {
  expect_error(call("/api/v1/message/latest/raw"), 404, "message_not_found");
  insert(default_inbox_.id, kBaseMs, "a", "first");
  insert(default_inbox_.id, kBaseMs + 5, "b", "second");
  EXPECT_EQ(call("/api/v1/message/latest/raw").body, "second");
}

TEST_F(ApiTest, RawUnknownIdIs404) {
  expect_error(call("/api/v1/message/01HZZZZZZZZZZZZZZZZZZZZZZZ/raw"), 404, "message_not_found");
  expect_error(call("/api/v1/message/%27%20OR%201=1--/raw"), 404, "message_not_found");
}

TEST_F(ApiTest, RoutingErrors) {
  expect_error(call("/nope"), 404, "not_found");
  expect_error(call("/api/v1/messages/"), 404, "not_found");
  expect_error(call("/api/v1/message/%zz/raw"), 400, "bad_request");
  expect_error(call("/api/v1/messages?start=%zz"), 400, "bad_request");
  expect_error(call("*", "OPTIONS"), 400, "bad_request");

  const Response not_allowed = call("/api/v1/messages", "POST");
  expect_error(not_allowed, 405, "method_not_allowed");
  EXPECT_EQ(header(not_allowed, "Allow"), "DELETE, GET, HEAD, PUT");
  // The inbox is not looked up for a 405.
  const Response scoped = call("/inboxes/unknown/api/v1/messages", "PATCH");
  expect_error(scoped, 405, "method_not_allowed");
}

TEST_F(ApiTest, HeadIsAnsweredLikeGet) {
  insert(default_inbox_.id, kBaseMs, "h", "raw bytes");
  const Response head = call("/api/v1/messages", "HEAD");
  const Response get = call("/api/v1/messages");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.body, get.body);  // the server omits the body on the wire, keeping Content-Length
}

// The wiring main will use: the Server's handler hands the request to a worker that owns the Store.
TEST_F(ApiTest, ServedOverHttp) {
  const std::string id = insert(default_inbox_.id, kBaseMs, "wire", "wire raw");
  boost::asio::io_context io;
  std::vector<std::thread> workers;
  std::mutex workers_mu;
  Server server(io, HttpLimits{}, [&](Request request, std::function<void(Response)> reply) {
    std::lock_guard lock(workers_mu);
    workers.emplace_back([this, request = std::move(request), reply = std::move(reply)] {
      reply(api_.handle(request, *store_));
    });
  });
  auto port = server.listen("127.0.0.1", 0);
  ASSERT_TRUE(port.ok());
  std::thread runner([&io] { io.run(); });

  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(*port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  const std::string request =
      "GET /api/v1/message/" + id + "/raw HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  ASSERT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL), static_cast<ssize_t>(request.size()));
  std::string received;
  char chunk[4096];
  ssize_t n;
  while ((n = ::recv(fd, chunk, sizeof(chunk), 0)) > 0) received.append(chunk, static_cast<std::size_t>(n));
  ::close(fd);

  server.stop();
  {
    std::lock_guard lock(workers_mu);
    for (auto& w : workers) w.join();
  }
  io.stop();
  runner.join();

  EXPECT_EQ(received.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << received;
  EXPECT_NE(received.find("Content-Type: text/plain; charset=utf-8\r\n"), std::string::npos) << received;
  EXPECT_NE(received.find("Server: mailjar\r\n"), std::string::npos) << received;
  EXPECT_NE(received.find("Content-Length: 8\r\n"), std::string::npos) << received;
  EXPECT_EQ(received.substr(received.size() - 8), "wire raw");
}

}  // namespace
}  // namespace mailjar::http
