// The embedded web UI: every file under web/ (but README.md) is in the table byte for byte with the
// content type of its extension; lookups of anything else fail; ETag matching; and the UI routes of
// http::Api (page, inbox page, assets, 304, 404, Content-Security-Policy, --auth on).
#include "http/static_files.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "http/api.h"
#include "store/store.h"
#include "tests/unit/testing.h"

#ifndef MAILJAR_WEB_DIR
#error "MAILJAR_WEB_DIR must name the web/ source directory"
#endif

namespace mailjar::http {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::map<std::string, std::string> kTypeByExtension = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".json", "application/json"},
};

// web/ as it is on disk: relative path -> bytes (README.md and dot files are not served).
std::map<std::string, std::string> web_dir_files() {
  std::map<std::string, std::string> out;
  const fs::path root(MAILJAR_WEB_DIR);
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (!entry.is_regular_file()) continue;
    const std::string rel = fs::relative(entry.path(), root).generic_string();
    if (rel == "README.md" || entry.path().filename().string().front() == '.') continue;
    std::ifstream in(entry.path(), std::ios::binary);
    out[rel] = std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return out;
}

TEST(StaticFilesTest, EveryWebFileIsEmbeddedByteForByteWithItsType) {
  const auto on_disk = web_dir_files();
  ASSERT_TRUE(on_disk.count("index.html"));
  ASSERT_TRUE(on_disk.count("app.js"));
  ASSERT_TRUE(on_disk.count("app.css"));
  ASSERT_TRUE(on_disk.count("favicon.svg"));
  EXPECT_EQ(static_files().size(), on_disk.size());
  for (const auto& [path, bytes] : on_disk) {
    SCOPED_TRACE(path);
    const auto file = find_static_file(path);
    ASSERT_TRUE(file.has_value());
    EXPECT_EQ(file->path, path);
    EXPECT_EQ(file->body, bytes);
    const auto type = kTypeByExtension.find(fs::path(path).extension().string());
    ASSERT_NE(type, kTypeByExtension.end()) << "the test's type table lacks this extension";
    EXPECT_EQ(file->content_type, type->second);
    // A quoted strong validator.
    ASSERT_GE(file->etag.size(), 3u);
    EXPECT_EQ(file->etag.front(), '"');
    EXPECT_EQ(file->etag.back(), '"');
    EXPECT_EQ(file->etag.find("W/"), std::string_view::npos);
  }
}

TEST(StaticFilesTest, TableIsSortedUniqueWithDistinctEtags) {
  std::set<std::string_view> etags;
  const auto files = static_files();
  for (std::size_t i = 0; i < files.size(); ++i) {
    if (i > 0) {
      EXPECT_LT(files[i - 1].path, files[i].path);
    }
    // Distinct contents give distinct tags (all web files differ).
    EXPECT_TRUE(etags.insert(files[i].etag).second) << files[i].path;
  }
}

TEST(StaticFilesTest, UnknownNamesAreNotFound) {
  for (const std::string& name : std::vector<std::string>{
           "", "README.md", "/index.html", "index.htm", "INDEX.HTML", "../web/index.html", "./app.js",
           "app.js/", "app.js?x=1", "app.j", "zzz.js", std::string(kMaxStaticPathBytes + 1, 'a')}) {
    SCOPED_TRACE(name);
    EXPECT_FALSE(find_static_file(name).has_value());
  }
}

TEST(StaticFilesTest, EtagMatching) {
  struct Case {
    const char* if_none_match;
    bool match;
  };
  const std::string_view etag = "\"abc\"";
  for (const Case& c : std::vector<Case>{{"\"abc\"", true},
                                         {"W/\"abc\"", true},
                                         {"*", true},
                                         {"\"x\", \"abc\"", true},
                                         {" \"x\" ,\t\"abc\" ", true},
                                         {"\"abcd\"", false},
                                         {"abc", false},
                                         {"", false},
                                         {",,", false},
                                         {"\"x\"", false}}) {
    SCOPED_TRACE(c.if_none_match);
    EXPECT_EQ(etag_matches(c.if_none_match, etag), c.match);
  }
}

// ---- the UI routes of the Api ---------------------------------------------------------------------------

class UiRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::StoreOptions options;
    options.data_dir = dir_.str();
    auto opened = store::Store::open(options);
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    store_ = std::move(opened).value();
  }

  Response call(const Api& api, const std::string& target,
                std::vector<std::pair<std::string, std::string>> headers = {}) {
    Request request;
    request.method = "GET";
    request.target = target;
    request.headers = std::move(headers);
    return api.handle(request, *store_);
  }

  static std::string header(const Response& r, const std::string& name) {
    for (const auto& [n, v] : r.headers) {
      if (n == name) return v;
    }
    return "";
  }

  mailjar::testing::TempDir dir_{"mailjar-ui-test"};  // declared first: removed after the store closes
  std::unique_ptr<store::Store> store_;
};

TEST_F(UiRoutesTest, PageRoutesServeIndexWithPolicy) {
  auto team = store_->create_inbox("default", "Team A");
  ASSERT_TRUE(team.ok()) << team.error().message;
  const Api api(ApiContext{});
  const auto index = find_static_file("index.html");
  ASSERT_TRUE(index.has_value());
  for (const std::string& target :
       std::vector<std::string>{"/", "/?x=1", "/inboxes/" + team->slug + "/", "/inboxes/" + team->slug}) {
    SCOPED_TRACE(target);
    const Response r = call(api, target);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
    EXPECT_EQ(r.body, index->body);
    EXPECT_EQ(header(r, "ETag"), index->etag);
    EXPECT_EQ(header(r, "Cache-Control"), "no-cache");
    const std::string csp = header(r, "Content-Security-Policy");
    for (const char* directive : {"default-src 'self'", "script-src 'self'", "style-src 'self'",
                                  "img-src 'self' data:", "connect-src 'self' ws: wss:", "frame-src 'self'",
                                  "object-src 'none'", "base-uri 'none'", "form-action 'none'"}) {
      EXPECT_NE(csp.find(directive), std::string::npos) << directive;
    }
    EXPECT_EQ(csp.find("unsafe"), std::string::npos);
  }
}

TEST_F(UiRoutesTest, UnknownInboxPageIs404Json) {
  const Api api(ApiContext{});
  for (const std::string target : {"/inboxes/nope/", "/inboxes/nope"}) {
    SCOPED_TRACE(target);
    const Response r = call(api, target);
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(json::parse(r.body).at("Code"), "inbox_not_found");
  }
}

TEST_F(UiRoutesTest, AssetsHaveTypeEtagAndRevalidate) {
  const Api api(ApiContext{});
  for (const StaticFile& file : static_files()) {
    if (file.path == "index.html") continue;
    SCOPED_TRACE(std::string(file.path));
    const Response r = call(api, "/ui/" + std::string(file.path));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.content_type, file.content_type);
    EXPECT_EQ(r.body, file.body);
    EXPECT_EQ(header(r, "ETag"), file.etag);
    EXPECT_EQ(header(r, "Cache-Control"), "no-cache");
    EXPECT_EQ(header(r, "X-Content-Type-Options"), "nosniff");

    const Response same =
        call(api, "/ui/" + std::string(file.path), {{"if-none-match", std::string(file.etag)}});
    EXPECT_EQ(same.status, 304);
    EXPECT_TRUE(same.body.empty());
    EXPECT_EQ(header(same, "ETag"), file.etag);

    const Response changed = call(api, "/ui/" + std::string(file.path), {{"if-none-match", "\"old\""}});
    EXPECT_EQ(changed.status, 200);
    EXPECT_EQ(changed.body, file.body);
  }
}

TEST_F(UiRoutesTest, UnknownAssetIs404Json) {
  const Api api(ApiContext{});
  // index.html is only served as the page (with its policy), never as an asset.
  for (const char* target : {"/ui/nope.js", "/ui/README.md", "/ui/index.html", "/ui/..%2Fapp.js", "/ui/"}) {
    SCOPED_TRACE(target);
    const Response r = call(api, target);
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(r.content_type, "application/json");
    EXPECT_EQ(json::parse(r.body).at("Code"), "not_found");
  }
}

TEST_F(UiRoutesTest, AuthOnNeedsATokenLikeTheApi) {
  ApiContext context;
  context.auth_required = true;
  const Api api(std::move(context));
  for (const char* target : {"/", "/ui/app.js"}) {
    SCOPED_TRACE(target);
    const Response r = call(api, target);
    EXPECT_EQ(r.status, 401);
    EXPECT_NE(header(r, "WWW-Authenticate").find("Basic"), std::string::npos);
  }
  auto token = store_->create_token(std::nullopt, "ui");
  ASSERT_TRUE(token.ok()) << token.error().message;
  const Response r = call(api, "/", {{"authorization", "Bearer " + token.value()}});
  EXPECT_EQ(r.status, 200);
}

}  // namespace
}  // namespace mailjar::http
