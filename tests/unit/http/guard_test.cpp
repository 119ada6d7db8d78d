// The pure request checks: JSON bodies (request_body.h) and Host/Origin/Content-Type (request_guard.h).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "http/request_body.h"
#include "http/request_guard.h"

namespace mailjar::http {
namespace {

using nlohmann::json;

// ---- JSON bodies ---------------------------------------------------------------------------------------

TEST(JsonDepth, CountsBracketsOutsideStringsOnly) {
  EXPECT_TRUE(json_depth_within("", 1));
  EXPECT_TRUE(json_depth_within("[[1]]", 2));
  EXPECT_FALSE(json_depth_within("[[1]]", 1));
  EXPECT_TRUE(json_depth_within(R"({"a": "[[[[[[", "b": [1]})", 2));
  EXPECT_TRUE(
      json_depth_within(R"({"a": "\"[[[[", "b": 1})", 1));  // an escaped quote does not end the string
  EXPECT_FALSE(json_depth_within(R"({"a": {"b": [{}]}})", 3));
  EXPECT_TRUE(
      json_depth_within("[]]]]][", 1));  // unbalanced: only the depth is judged, the parser does the rest
  EXPECT_FALSE(json_depth_within(std::string(1 << 20, '['), 32));
}

struct BodyCase {
  const char* body;
  int status;          // 0: accepted
  const char* needle;  // in the error message
};

TEST(ReadJsonObject, AcceptsExactlyAnObjectOfKnownFields) {
  const BodyCase cases[] = {
      {"", 0, ""},
      {"  \r\n", 0, ""},
      {"{}", 0, ""},
      {R"({"IDs": ["a"]})", 0, ""},
      {R"({"ids": ["a"], "READ": true})", 0, ""},
      {R"(["a"])", 400, "must be a JSON object"},
      {R"("a")", 400, "must be a JSON object"},
      {"5", 400, "not number"},
      {"null", 400, "must be a JSON object"},
      {"{", 400, "not valid JSON"},
      {R"({"IDs": ["a"]} x)", 400, "not valid JSON"},
      {R"({"IDz": []})", 400, "unknown field 'IDz'"},
      {R"({"IDs": [], "ids": []})", 400, "given twice"},
      {"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", 400, "deeper than 32"},
  };
  for (const BodyCase& c : cases) {
    Response error;
    auto body = read_json_object(c.body, {"IDs", "Read"}, JsonLimits{}, error);
    if (c.status == 0) {
      ASSERT_TRUE(body) << c.body << ": " << error.body;
      EXPECT_TRUE(body->is_object());
      for (const auto& [key, value] : body->items()) EXPECT_TRUE(key == "IDs" || key == "Read") << key;
    } else {
      EXPECT_FALSE(body) << c.body;
      EXPECT_EQ(error.status, c.status) << c.body;
      EXPECT_NE(json::parse(error.body)["Error"].get<std::string>().find(c.needle), std::string::npos)
          << c.body << ": " << error.body;
    }
  }
}

TEST(ReadJsonObject, EmptyIsRefusedWhereAFieldIsRequired) {
  Response error;
  EXPECT_FALSE(read_json_object(" ", {"Name"}, JsonLimits{}, error, /*empty_ok=*/false));
  EXPECT_EQ(error.status, 400);
  EXPECT_NE(error.body.find("Name"), std::string::npos);
}

TEST(ReadJsonObject, OverTheByteLimitIs413) {
  Response error;
  JsonLimits limits;
  limits.max_bytes = 10;
  EXPECT_FALSE(read_json_object(R"({"Name": "eleven"})", {"Name"}, limits, error));
  EXPECT_EQ(error.status, 413);
}

TEST(OptionalFields, AbsentAndNullLeaveUnsetWrongTypesFail) {
  const json body = json::parse(R"({"IDs": null, "Read": true, "Search": "x", "Tags": ["a", 1], "N": 5})");
  Response error;
  std::optional<std::vector<std::string>> ids, tags, none;
  EXPECT_TRUE(optional_strings(body, "IDs", ids, error));
  EXPECT_FALSE(ids);
  EXPECT_TRUE(optional_strings(body, "Missing", none, error));
  EXPECT_FALSE(none);
  EXPECT_FALSE(optional_strings(body, "Tags", tags, error));
  EXPECT_EQ(error.status, 400);
  std::optional<bool> read;
  EXPECT_TRUE(optional_bool(body, "Read", read, error));
  EXPECT_EQ(read, true);
  std::optional<std::string> search, n;
  EXPECT_TRUE(optional_string(body, "Search", search, error));
  EXPECT_EQ(search, "x");
  Response type_error;
  EXPECT_FALSE(optional_string(body, "N", n, type_error));
  EXPECT_NE(type_error.body.find("N must be a string"), std::string::npos);
}

TEST(CanonicalObject, RenamesNestedKeys) {
  json address = json::parse(R"({"email": "a@example.com", "NAME": "A"})");
  Response error;
  ASSERT_TRUE(canonical_object(address, {"Email", "Name"}, "From", error));
  EXPECT_EQ(address, json::parse(R"({"Email": "a@example.com", "Name": "A"})"));
  json bad = json::parse(R"({"Mail": "a@example.com"})");
  EXPECT_FALSE(canonical_object(bad, {"Email", "Name"}, "To[3]", error));
  EXPECT_NE(error.body.find("To[3]"), std::string::npos);
}

// ---- Host, Origin, Content-Type --------------------------------------------------------------------------

Request request(std::string method, std::vector<std::pair<std::string, std::string>> headers,
                std::string body = "") {
  Request r;
  r.method = std::move(method);
  r.target = "/api/v1/messages";
  r.headers = std::move(headers);
  r.body = std::move(body);
  return r;
}

int status_of(const std::optional<Response>& r) { return r ? r->status : 0; }

TEST(LoopbackAddress, RecognisesListenAddresses) {
  for (const char* host : {"127.0.0.1", "127.9.9.9", "::1", "[::1]", "localhost", "LOCALHOST"}) {
    EXPECT_TRUE(is_loopback_address(host)) << host;
  }
  for (const char* host : {"0.0.0.0", "::", "192.168.1.2", "10.0.0.1", "[::]"}) {
    EXPECT_FALSE(is_loopback_address(host)) << host;
  }
}

TEST(GuardHost, OnLoopbackOnlyLoopbackNamesAndAllowedHosts) {
  OriginPolicy policy{true, {"mail.test"}};
  for (const char* host : {"127.0.0.1", "127.0.0.1:8025", "localhost", "Localhost:1", "a.b.localhost",
                           "[::1]", "[::1]:8025", "[0:0:0:0:0:0:0:1]", "mail.test", "MAIL.TEST:443"}) {
    EXPECT_EQ(status_of(check_host(request("GET", {{"host", host}}), policy)), 0) << host;
  }
  for (const char* host : {"evil.example", "127.0.0.1.nip.io", "localhost.evil.example", "[::2]", "::1",
                           "2130706433", "", ":8025", "127.0.0.1:80x", "mail.test.evil"}) {
    EXPECT_EQ(status_of(check_host(request("GET", {{"host", host}}), policy)), 403) << host;
  }
  EXPECT_EQ(status_of(check_host(request("GET", {}), policy)), 0);  // HTTP/1.0 without Host
  OriginPolicy open{false, {}};
  EXPECT_EQ(status_of(check_host(request("GET", {{"host", "evil.example"}}), open)), 0);
}

TEST(GuardOrigin, SameOriginOrAllowedHostOnly) {
  OriginPolicy policy{true, {"proxy.example"}};
  const auto check = [&](const char* origin, const char* host) {
    return status_of(check_origin(request("POST", {{"host", host}, {"origin", origin}}), policy));
  };
  EXPECT_EQ(check("http://127.0.0.1:8025", "127.0.0.1:8025"), 0);
  EXPECT_EQ(check("http://LOCALHOST:8025", "localhost:8025"), 0);
  EXPECT_EQ(check("http://localhost", "localhost:80"), 0);
  EXPECT_EQ(check("https://localhost:443", "localhost"), 0);
  EXPECT_EQ(check("https://proxy.example", "127.0.0.1:8025"), 0);
  EXPECT_EQ(check("http://127.0.0.1:9999", "127.0.0.1:8025"), 403);
  EXPECT_EQ(check("http://evil.example", "127.0.0.1:8025"), 403);
  EXPECT_EQ(check("null", "127.0.0.1:8025"), 403);
  EXPECT_EQ(check("http://", "127.0.0.1:8025"), 403);
  EXPECT_EQ(status_of(check_origin(request("POST", {{"origin", "http://a"}}), policy)), 403);  // no Host
  EXPECT_EQ(status_of(check_origin(request("POST", {{"host", "127.0.0.1"}}), policy)), 0);     // no Origin
}

TEST(GuardRequest, StateChangingBodiesMustBeJson) {
  OriginPolicy policy{true, {}};
  const auto check = [&](const char* method, const char* content_type, const char* body) {
    std::vector<std::pair<std::string, std::string>> headers{{"host", "127.0.0.1"}};
    if (content_type) headers.emplace_back("content-type", content_type);
    return status_of(guard_request(request(method, headers, body), policy, false));
  };
  EXPECT_EQ(check("POST", "text/plain", "{}"), 415);
  EXPECT_EQ(check("PUT", "application/x-www-form-urlencoded", "a=b"), 415);
  EXPECT_EQ(check("DELETE", "multipart/form-data; boundary=x", "--x--"), 415);
  EXPECT_EQ(check("PATCH", nullptr, "{}"), 415);
  EXPECT_EQ(check("POST", "application/json", "{}"), 0);
  EXPECT_EQ(check("POST", "Application/JSON; charset=utf-8", "{}"), 0);
  EXPECT_EQ(check("DELETE", nullptr, ""), 0);  // no body: nothing forged
  EXPECT_EQ(check("POST", "text/plain", " \r\n"), 0);
  EXPECT_EQ(check("GET", "text/plain", "x"), 0);  // reads are not state-changing
  EXPECT_EQ(check("POST", "application/jsonx", "{}"), 415);
}

TEST(GuardRequest, ProbesSkipTheHostCheckButNotTheOriginCheck) {
  OriginPolicy policy{true, {}};
  EXPECT_EQ(status_of(guard_request(request("GET", {{"host", "pod.internal"}}), policy, true)), 0);
  EXPECT_EQ(status_of(guard_request(request("GET", {{"host", "pod.internal"}}), policy, false)), 403);
}

}  // namespace
}  // namespace mailjar::http
