// The route table and the pure matcher: every route bare and under the inbox prefix, parameters,
// 404 vs 405, percent-decoding of paths and queries.
#include "http/router.h"

#include <gtest/gtest.h>

#include <ostream>
#include <set>
#include <string>

namespace mailjar::http {
namespace {

using Kind = RouteMatch::Kind;

TEST(RouteTable, RowsAreWellFormedAndUnique) {
  std::set<std::string> names;
  std::set<std::string> method_patterns;
  for (const RouteSpec& route : routes()) {
    EXPECT_FALSE(route.method.empty());
    ASSERT_FALSE(route.pattern.empty());
    EXPECT_EQ(route.pattern.front(), '/') << route.pattern;
    // No trailing slash, but for the root (the web UI's page).
    if (route.pattern != "/") {
      EXPECT_NE(route.pattern.back(), '/') << route.pattern;
    }
    EXPECT_TRUE(names.insert(std::string(route.name)).second) << "duplicate name " << route.name;
    EXPECT_TRUE(method_patterns.insert(std::string(route.method) + " " + std::string(route.pattern)).second)
        << "duplicate route " << route.pattern;
  }
  EXPECT_GE(routes().size(), 31u);
}

// Every row of the table is reachable through its own pattern, with params substituted, bare and (when
// inbox-scoped) under /inboxes/{slug}.
TEST(RouteTable, EveryRouteMatchesItself) {
  for (const RouteSpec& route : routes()) {
    std::string path(route.pattern);
    if (auto open = path.find('{'); open != std::string::npos) {
      path.replace(open, path.find('}') - open + 1, "X1");
    }
    RouteMatch bare = match_route(route.method, path);
    ASSERT_EQ(bare.kind, Kind::kFound) << path;
    EXPECT_EQ(bare.route, &route);
    EXPECT_FALSE(bare.inbox_slug.has_value());

    RouteMatch scoped = match_route(route.method, "/inboxes/team-a" + path);
    if (route.inbox_scoped) {
      ASSERT_EQ(scoped.kind, Kind::kFound) << path;
      EXPECT_EQ(scoped.route, &route);
      EXPECT_EQ(scoped.inbox_slug, "team-a");
    } else {
      EXPECT_EQ(scoped.kind, Kind::kNotFound) << path;
    }
  }
}

struct MatchCase {
  const char* method;
  const char* path;
  Kind kind;
  RouteId id;            // when kFound
  const char* slug;      // nullptr: no inbox prefix
  const char* id_param;  // nullptr: no {ID}
};

void PrintTo(const MatchCase& c, std::ostream* os) { *os << c.method << " " << c.path; }

class MatchRouteTest : public testing::TestWithParam<MatchCase> {};

TEST_P(MatchRouteTest, Matches) {
  const MatchCase& c = GetParam();
  const RouteMatch m = match_route(c.method, c.path);
  ASSERT_EQ(m.kind, c.kind) << c.method << " " << c.path;
  if (c.kind != Kind::kFound) {
    EXPECT_EQ(m.route, nullptr);
    return;
  }
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->id, c.id);
  if (c.slug) {
    EXPECT_EQ(m.inbox_slug, std::string(c.slug));
  } else {
    EXPECT_FALSE(m.inbox_slug.has_value());
  }
  if (c.id_param) {
    ASSERT_EQ(m.params.count("ID"), 1u);
    EXPECT_EQ(m.params.at("ID"), c.id_param);
  } else {
    EXPECT_TRUE(m.params.empty());
  }
}

// The web UI routes that carry a path parameter: the inbox page without the slash, and the assets.
TEST(MatchRoute, UiPathParameters) {
  const RouteMatch page = match_route("GET", "/inboxes/my%20box");
  ASSERT_EQ(page.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(page.route->id, RouteId::kUiInboxPage);
  EXPECT_EQ(page.params.at("Slug"), "my box");
  EXPECT_FALSE(page.inbox_slug.has_value());

  const RouteMatch asset = match_route("HEAD", "/ui/app.js");
  ASSERT_EQ(asset.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(asset.route->id, RouteId::kUiAsset);
  EXPECT_EQ(asset.params.at("Asset"), "app.js");

  // The assets are not inbox-scoped: one copy at /ui/.
  EXPECT_EQ(match_route("GET", "/inboxes/ci/ui/app.js").kind, RouteMatch::Kind::kNotFound);
}

INSTANTIATE_TEST_SUITE_P(
    Table, MatchRouteTest,
    testing::Values(
        MatchCase{"GET", "/livez", Kind::kFound, RouteId::kLivez, nullptr, nullptr},
        MatchCase{"HEAD", "/livez", Kind::kFound, RouteId::kLivez, nullptr, nullptr},
        MatchCase{"GET", "/readyz", Kind::kFound, RouteId::kReadyz, nullptr, nullptr},
        MatchCase{"GET", "/api/v1/messages", Kind::kFound, RouteId::kListMessages, nullptr, nullptr},
        MatchCase{"GET", "/inboxes/ci/api/v1/messages", Kind::kFound, RouteId::kListMessages, "ci", nullptr},
        MatchCase{"GET", "/api/v1/message/01HZX/raw", Kind::kFound, RouteId::kMessageRaw, nullptr, "01HZX"},
        MatchCase{"GET", "/api/v1/message/latest/raw", Kind::kFound, RouteId::kMessageRaw, nullptr, "latest"},
        MatchCase{"GET", "/inboxes/a-b-2/api/v1/message/ID9/raw", Kind::kFound, RouteId::kMessageRaw, "a-b-2",
                  "ID9"},
        // Percent-decoding per segment: an encoded slash stays inside the parameter.
        MatchCase{"GET", "/api/v1/message/a%2Fb/raw", Kind::kFound, RouteId::kMessageRaw, nullptr, "a/b"},
        MatchCase{"GET", "/api/v1/m%65ssages", Kind::kFound, RouteId::kListMessages, nullptr, nullptr},
        MatchCase{"GET", "/inboxes/my%20box/api/v1/messages", Kind::kFound, RouteId::kListMessages, "my box",
                  nullptr},
        // '+' is not a space in a path.
        MatchCase{"GET", "/api/v1/message/a+b/raw", Kind::kFound, RouteId::kMessageRaw, nullptr, "a+b"},
        // The web UI's page at the root and under an inbox (UiPathParameters: the other UI routes).
        MatchCase{"GET", "/", Kind::kFound, RouteId::kUiPage, nullptr, nullptr},
        MatchCase{"HEAD", "/", Kind::kFound, RouteId::kUiPage, nullptr, nullptr},
        MatchCase{"GET", "/inboxes/ci/", Kind::kFound, RouteId::kUiPage, "ci", nullptr},
        MatchCase{"POST", "/", Kind::kMethodNotAllowed, RouteId::kLivez, nullptr, nullptr},
        // Not found: unknown, trailing slash, empty segments, empty parameter, case, prefix misuse.
        MatchCase{"GET", "/nope", Kind::kNotFound, RouteId::kLivez, nullptr, nullptr},
        MatchCase{"GET", "/livez/", Kind::kNotFound, RouteId::kLivez, nullptr, nullptr},
        MatchCase{"GET", "/api/v1/messages/", Kind::kNotFound, RouteId::kLivez, nullptr, nullptr},
        MatchCase{"GET", "/api//v1/messages", Kind::kNotFound, RouteId::kLivez, nullptr, nullptr},
        MatchCase{"GET", "/api/v1/message//raw", Kind::kNotFound, RouteId::kLivez, nullptr, nullptr},
        MatchCase{"GET", "/API/v1/messages", Kind::kNotFound, RouteId::kLivez, nullptr, nullptr},
        MatchCase{"GET", "/api/v1/message/X/raw/extra", Kind::kNotFound, RouteId::kLivez, nullptr, nullptr},
        MatchCase{"GET", "/inboxes/ci/livez", Kind::kNotFound, RouteId::kLivez, nullptr, nullptr},
        MatchCase{"GET", "/inboxes/ci/x", Kind::kNotFound, RouteId::kLivez, nullptr, nullptr},
        MatchCase{"GET", "/ui/", Kind::kNotFound, RouteId::kLivez, nullptr, nullptr},
        MatchCase{"GET", "/ui/a/b.js", Kind::kNotFound, RouteId::kLivez, nullptr, nullptr},
        MatchCase{"GET", "/inboxes//api/v1/messages", Kind::kNotFound, RouteId::kLivez, nullptr, nullptr},
        MatchCase{"GET", "/inboxes/a/inboxes/b/api/v1/messages", Kind::kNotFound, RouteId::kLivez, nullptr,
                  nullptr},
        MatchCase{"GET", "", Kind::kNotFound, RouteId::kLivez, nullptr, nullptr},
        MatchCase{"GET", "api/v1/messages", Kind::kNotFound, RouteId::kLivez, nullptr, nullptr},
        // Method not allowed: the path exists with another method.
        MatchCase{"POST", "/livez", Kind::kMethodNotAllowed, RouteId::kLivez, nullptr, nullptr},
        MatchCase{"DELETE", "/api/v1/messages", Kind::kFound, RouteId::kDeleteMessages, nullptr, nullptr},
        MatchCase{"POST", "/api/v1/message/x/raw", Kind::kMethodNotAllowed, RouteId::kLivez, nullptr, nullptr},
        MatchCase{"PUT", "/inboxes/x/api/v1/message/1/raw", Kind::kMethodNotAllowed, RouteId::kLivez, nullptr,
                  nullptr},
        MatchCase{"get", "/livez", Kind::kMethodNotAllowed, RouteId::kLivez, nullptr, nullptr},
        // Unknown method on an unknown path is still 404.
        MatchCase{"POST", "/nope", Kind::kNotFound, RouteId::kLivez, nullptr, nullptr},
        // Malformed escapes in the path.
        MatchCase{"GET", "/api/v1/message/%zz/raw", Kind::kBadRequest, RouteId::kLivez, nullptr, nullptr},
        MatchCase{"GET", "/livez%", Kind::kBadRequest, RouteId::kLivez, nullptr, nullptr},
        MatchCase{"GET", "/livez%4", Kind::kBadRequest, RouteId::kLivez, nullptr, nullptr}));

TEST(MatchRoute, MethodNotAllowedListsAllowedMethods) {
  RouteMatch m = match_route("POST", "/api/v1/messages");
  ASSERT_EQ(m.kind, Kind::kMethodNotAllowed);
  EXPECT_EQ(m.allowed, (std::vector<std::string>{"DELETE", "GET", "HEAD", "PUT"}));
  EXPECT_EQ(join_allowed(m.allowed), "DELETE, GET, HEAD, PUT");
  m = match_route("PUT", "/api/v1/message/abc/raw");
  ASSERT_EQ(m.kind, Kind::kMethodNotAllowed);
  EXPECT_EQ(join_allowed(m.allowed), "GET, HEAD");
  EXPECT_EQ(join_allowed({}), "");
}

struct DecodeCase {
  const char* in;
  bool plus_is_space;
  const char* out;  // nullptr: malformed
};

void PrintTo(const DecodeCase& c, std::ostream* os) {
  *os << '"' << c.in << '"' << (c.plus_is_space ? " +" : "");
}

class PercentDecodeTest : public testing::TestWithParam<DecodeCase> {};

TEST_P(PercentDecodeTest, Decodes) {
  const DecodeCase& c = GetParam();
  const auto got = percent_decode(c.in, c.plus_is_space);
  if (c.out == nullptr) {
    EXPECT_FALSE(got.has_value()) << c.in;
  } else {
    ASSERT_TRUE(got.has_value()) << c.in;
    EXPECT_EQ(*got, c.out);
  }
}

INSTANTIATE_TEST_SUITE_P(Table, PercentDecodeTest,
                         testing::Values(DecodeCase{"", false, ""}, DecodeCase{"plain", false, "plain"},
                                         DecodeCase{"a%20b", false, "a b"}, DecodeCase{"a+b", false, "a+b"},
                                         DecodeCase{"a+b", true, "a b"}, DecodeCase{"%2B", true, "+"},
                                         DecodeCase{"%c3%A9", false, "\xc3\xa9"},
                                         DecodeCase{"%", false, nullptr}, DecodeCase{"%4", false, nullptr},
                                         DecodeCase{"%4g", false, nullptr},
                                         DecodeCase{"x%g4", false, nullptr},
                                         DecodeCase{"100%", true, nullptr}));

TEST(PercentDecode, NulByteIsKept) {
  const auto got = percent_decode("a%00b", false);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, std::string("a\0b", 3));
}

TEST(ParseTarget, SplitsPathAndDecodesQuery) {
  auto t = parse_target("/api/v1/search?query=from%3Abob+subject%3A%22hi%22&limit=5&flag&empty=&&x=1=2");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->raw_path, "/api/v1/search");
  using Pairs = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(
      t->query,
      (Pairs{
          {"query", "from:bob subject:\"hi\""}, {"limit", "5"}, {"flag", ""}, {"empty", ""}, {"x", "1=2"}}));
  EXPECT_EQ(t->param("limit"), "5");
  EXPECT_EQ(t->param("flag"), "");
  EXPECT_FALSE(t->param("missing").has_value());
}

TEST(ParseTarget, FirstDuplicateWinsAndKeysAreDecoded) {
  auto t = parse_target("/x?a=1&a=2&b%20c=3&d+e=4");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->param("a"), "1");
  EXPECT_EQ(t->query.size(), 4u);
  EXPECT_EQ(t->param("b c"), "3");
  EXPECT_EQ(t->param("d e"), "4");
}

TEST(ParseTarget, PathIsKeptRaw) {
  auto t = parse_target("/api/v1/message/a%2Fb/raw?dl=1#frag");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->raw_path, "/api/v1/message/a%2Fb/raw");
  EXPECT_EQ(t->param("dl"), "1");

  auto no_query = parse_target("/livez");
  ASSERT_TRUE(no_query.ok());
  EXPECT_EQ(no_query->raw_path, "/livez");
  EXPECT_TRUE(no_query->query.empty());

  auto empty_query = parse_target("/livez?");
  ASSERT_TRUE(empty_query.ok());
  EXPECT_TRUE(empty_query->query.empty());
}

// RFC 9112 section 3.2.2: a server must accept the absolute-form.
TEST(ParseTarget, AcceptsAbsoluteForm) {
  auto t = parse_target("http://localhost:8025/api/v1/messages?limit=2");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->raw_path, "/api/v1/messages");
  EXPECT_EQ(t->param("limit"), "2");

  auto bare_authority = parse_target("HTTPS://example.com");
  ASSERT_TRUE(bare_authority.ok());
  EXPECT_EQ(bare_authority->raw_path, "/");

  auto authority_then_query = parse_target("http://example.com?a=1");
  ASSERT_TRUE(authority_then_query.ok());
  EXPECT_EQ(authority_then_query->raw_path, "/");
  EXPECT_EQ(authority_then_query->param("a"), "1");
}

TEST(ParseTarget, RejectsBadTargets) {
  for (const char* bad : {"", "livez", "*", "host:80", "/x?a=%zz", "/x?%=1", "/x?a=%"}) {
    auto t = parse_target(bad);
    ASSERT_FALSE(t.ok()) << bad;
    EXPECT_EQ(t.error().code, "bad_request");
  }
}

}  // namespace
}  // namespace mailjar::http
