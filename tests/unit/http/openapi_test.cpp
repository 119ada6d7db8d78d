// The OpenAPI document against the route table: every route (and only the routes) documented, with
// unique operation IDs, declared path parameters, resolvable $refs, descriptions, and the query
// parameters the handlers read.
#include "http/openapi.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "http/router.h"

namespace mailjar::http {
namespace {

using nlohmann::json;

const std::set<std::string> kHttpMethods = {"get",     "put",  "post",  "delete",
                                            "options", "head", "patch", "trace"};

json document() {
  static const json doc = json::parse(openapi_document("1.2.3-test"), nullptr, false);
  return doc;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// (method, path) -> the operation object.
std::map<std::pair<std::string, std::string>, json> operations(const json& doc) {
  std::map<std::pair<std::string, std::string>, json> out;
  for (const auto& [path, item] : doc.at("paths").items()) {
    for (const auto& [method, op] : item.items()) {
      if (kHttpMethods.count(method)) out[{method, path}] = op;
    }
  }
  return out;
}

// (method, path) -> the operationId the route table implies.
std::map<std::pair<std::string, std::string>, std::string> expected_operations() {
  std::map<std::pair<std::string, std::string>, std::string> out;
  for (const RouteSpec& route : routes()) {
    out[{lower(route.method), std::string(route.pattern)}] = std::string(route.name);
    if (route.inbox_scoped) {
      out[{lower(route.method), "/inboxes/{slug}" + std::string(route.pattern)}] =
          std::string(route.name) + "InInbox";
    }
  }
  return out;
}

const json* find_operation(const json& doc, std::string_view operation_id) {
  for (const auto& [path, item] : doc.at("paths").items()) {
    for (const auto& [method, op] : item.items()) {
      if (op.is_object() && op.value("operationId", "") == operation_id) return &op;
    }
  }
  return nullptr;
}

std::vector<std::string> segment_params(std::string_view path) {
  std::vector<std::string> out;
  std::size_t open = path.find('{');
  while (open != std::string_view::npos) {
    const std::size_t close = path.find('}', open);
    if (close == std::string_view::npos) break;
    out.emplace_back(path.substr(open + 1, close - open - 1));
    open = path.find('{', close);
  }
  return out;
}

void collect_refs(const json& node, std::vector<std::string>& refs) {
  if (node.is_object()) {
    for (const auto& [key, value] : node.items()) {
      if (key == "$ref" && value.is_string()) {
        refs.push_back(value.get<std::string>());
      } else {
        collect_refs(value, refs);
      }
    }
  } else if (node.is_array()) {
    for (const json& v : node) collect_refs(v, refs);
  }
}

TEST(OpenApiTest, ParsesAsJsonWithVersionAndInfo) {
  const json doc = document();
  ASSERT_FALSE(doc.is_discarded());
  EXPECT_EQ(doc.at("openapi"), "3.0.3");
  EXPECT_EQ(doc.at("info").at("title"), "mailjar");
  EXPECT_EQ(doc.at("info").at("version"), "1.2.3-test");
  EXPECT_TRUE(doc.at("components").at("schemas").is_object());
}

TEST(OpenApiTest, OperationsAreExactlyTheRouteTable) {
  const json doc = document();
  const auto actual = operations(doc);
  const auto expected = expected_operations();
  for (const auto& [key, name] : expected) {
    EXPECT_TRUE(actual.count(key)) << "route missing from the document: " << key.first << " " << key.second;
  }
  for (const auto& [key, op] : actual) {
    EXPECT_TRUE(expected.count(key)) << "document has an operation the router lacks: " << key.first << " "
                                     << key.second;
  }
  EXPECT_EQ(actual.size(), expected.size());
  // Path items hold nothing but operations (and no HEAD twin of GET routes).
  for (const auto& [path, item] : doc.at("paths").items()) {
    for (const auto& [method, op] : item.items()) {
      EXPECT_TRUE(kHttpMethods.count(method)) << path << " has key " << method;
    }
  }
}

TEST(OpenApiTest, OperationIdsAreTheRouteNamesAndUnique) {
  const json doc = document();
  const auto expected = expected_operations();
  std::set<std::string> seen;
  for (const auto& [key, op] : operations(doc)) {
    ASSERT_TRUE(op.contains("operationId")) << key.first << " " << key.second;
    const std::string id = op.at("operationId");
    EXPECT_TRUE(seen.insert(id).second) << "duplicate operationId " << id;
    if (auto it = expected.find(key); it != expected.end()) {
      EXPECT_EQ(id, it->second) << key.second;
    }
  }
}

TEST(OpenApiTest, EveryPathParameterIsDeclared) {
  const json doc = document();
  for (const auto& [key, op] : operations(doc)) {
    const std::vector<std::string> in_path = segment_params(key.second);
    std::set<std::string> declared;
    std::set<std::pair<std::string, std::string>> unique;
    for (const json& p : op.value("parameters", json::array())) {
      EXPECT_TRUE(unique.insert({p.at("name").get<std::string>(), p.at("in").get<std::string>()}).second)
          << key.second << ": parameter " << p.at("name") << " twice";
      if (p.at("in") == "path") {
        EXPECT_EQ(p.value("required", false), true) << key.second << " " << p.at("name");
        declared.insert(p.at("name").get<std::string>());
      }
    }
    EXPECT_EQ(declared, std::set<std::string>(in_path.begin(), in_path.end()))
        << key.first << " " << key.second;
  }
}

TEST(OpenApiTest, EveryRefResolves) {
  const json doc = document();
  std::vector<std::string> refs;
  collect_refs(doc, refs);
  ASSERT_FALSE(refs.empty());
  for (const std::string& ref : refs) {
    ASSERT_EQ(ref.rfind("#/", 0), 0u) << "not a local reference: " << ref;
    EXPECT_TRUE(doc.contains(json::json_pointer(ref.substr(1)))) << "dangling $ref " << ref;
  }
}

// A route added to the table without an entry in the documentation table fails here.
TEST(OpenApiTest, EveryRouteIsDescribed) {
  const json doc = document();
  for (const auto& [key, op] : operations(doc)) {
    const std::string where = key.first + " " + key.second + " (" + op.value("operationId", "?") + ")";
    EXPECT_FALSE(op.value("description", "").empty()) << "no description: " << where;
    EXPECT_FALSE(op.value("summary", "").empty()) << "no summary: " << where;
    ASSERT_TRUE(op.contains("responses")) << where;
    bool has_success = false;
    for (const auto& [status, response] : op.at("responses").items()) {
      EXPECT_FALSE(response.value("description", "").empty()) << where << " response " << status;
      if (!status.empty() && (status[0] == '2' || status == "101")) has_success = true;
    }
    EXPECT_TRUE(has_success) << "no success response: " << where;
  }
}

TEST(OpenApiTest, QueryParametersTheHandlersReadAreDocumented) {
  const json doc = document();
  struct Case {
    const char* operation_id;
    std::vector<std::string> params;
  };
  const std::vector<Case> cases = {
      {"GetMessages", {"start", "limit"}},
      {"MessagesSummary", {"query", "start", "limit", "tz"}},
      {"DeleteSearch", {"query", "tz"}},
      {"SetReadStatus", {"search"}},
      {"WaitForMessage", {"query", "timeout", "since", "tz"}},
      {"GetMessageRaw", {"dl"}},
      {"MailHogMessages", {"start", "limit"}},
      {"MailHogSearch", {"kind", "query", "start", "limit"}},
      {"MailHogSearchInInbox", {"slug", "kind", "query", "start", "limit"}},
  };
  for (const Case& c : cases) {
    const json* op = find_operation(doc, c.operation_id);
    ASSERT_NE(op, nullptr) << c.operation_id;
    std::set<std::string> names;
    for (const json& p : op->value("parameters", json::array()))
      names.insert(p.at("name").get<std::string>());
    for (const std::string& name : c.params)
      EXPECT_TRUE(names.count(name)) << c.operation_id << " lacks " << name;
  }
}

TEST(OpenApiTest, StatusCodesOfTheHandlersAreDocumented) {
  const json doc = document();
  struct Case {
    const char* operation_id;
    std::vector<std::string> statuses;
  };
  const std::vector<Case> cases = {
      {"WaitForMessage", {"200", "400", "408", "503"}},
      {"Events", {"101", "400", "403"}},
      {"Message", {"200", "404"}},
      {"MessageInInbox", {"200", "404"}},
      {"GetMessagesInInbox", {"200", "400", "404"}},  // 404: unknown inbox slug
      {"MailHogSearch", {"200", "400"}},
      {"SendMessage", {"200", "400", "503"}},
      {"Readyz", {"200", "503"}},
      {"GetMessages", {"401", "403"}},  // --auth on: no token; a project token on the default inbox
      {"CreateProject", {"201", "400", "401", "403", "409"}},
      {"CreateInbox", {"201", "400", "404", "409"}},
      {"UpdateInbox", {"200", "400", "404", "409"}},
      {"DeleteInbox", {"200", "400", "404"}},
  };
  for (const Case& c : cases) {
    const json* op = find_operation(doc, c.operation_id);
    ASSERT_NE(op, nullptr) << c.operation_id;
    for (const std::string& status : c.statuses) {
      EXPECT_TRUE(op->at("responses").contains(status)) << c.operation_id << " lacks " << status;
    }
  }
  const json* wait = find_operation(doc, "WaitForMessage");
  ASSERT_NE(wait, nullptr);
  EXPECT_EQ(wait->at("responses").at("200").at("content").at("application/json").at("schema").at("$ref"),
            "#/components/schemas/MessageSummary");
  EXPECT_EQ(wait->at("responses").at("408").at("content").at("application/json").at("schema").at("$ref"),
            "#/components/schemas/Error");
}

// Only the probes and the document itself answer without a token under --auth on.
TEST(OpenApiTest, SecurityMatchesTheTokenCheck) {
  const json doc = document();
  const std::set<std::string> public_operations = {"Livez", "Readyz", "OpenAPI"};
  ASSERT_TRUE(doc.at("components").at("securitySchemes").contains("bearerAuth"));
  ASSERT_TRUE(doc.at("components").at("securitySchemes").contains("basicAuth"));
  for (const auto& [key, op] : operations(doc)) {
    const std::string id = op.at("operationId");
    ASSERT_TRUE(op.contains("security")) << id;
    if (public_operations.count(id)) {
      EXPECT_TRUE(op.at("security").empty()) << id;
      EXPECT_FALSE(op.at("responses").contains("401")) << id;
    } else {
      EXPECT_EQ(op.at("security").size(), 3u) << id;  // bearer, basic, or none (without --auth)
      EXPECT_TRUE(op.at("responses").contains("401")) << id;
    }
    for (const json& requirement : op.at("security")) {
      for (const auto& [scheme, scopes] : requirement.items()) {
        EXPECT_TRUE(doc.at("components").at("securitySchemes").contains(scheme)) << id << " " << scheme;
      }
    }
  }
}

TEST(OpenApiTest, SearchLanguageAndEventsAreDescribed) {
  const json doc = document();
  for (const char* id : {"MessagesSummary", "WaitForMessage", "DeleteSearch"}) {
    const json* op = find_operation(doc, id);
    ASSERT_NE(op, nullptr) << id;
    const std::string description = op->at("description");
    for (const char* op_name :
         {"from:", "subject:", "is:unread", "has:attachment", "larger:", "before:", "tag:"}) {
      EXPECT_NE(description.find(op_name), std::string::npos) << id << " does not explain " << op_name;
    }
  }
  const json* events = find_operation(doc, "Events");
  ASSERT_NE(events, nullptr);
  const std::string description = events->at("description");
  EXPECT_NE(description.find("WebSocket"), std::string::npos);
  const json& types = doc.at("components").at("schemas").at("Event").at("properties").at("Type").at("enum");
  for (const char* type : {"new", "update", "delete", "truncate", "prune", "stats"}) {
    EXPECT_NE(description.find(std::string("`") + type + "`"), std::string::npos) << type;
    EXPECT_NE(std::find(types.begin(), types.end(), type), types.end()) << type;
  }
}

TEST(OpenApiTest, SchemasHaveTheApiFields) {
  const json schemas = document().at("components").at("schemas");
  struct Case {
    const char* schema;
    std::vector<std::string> properties;
  };
  const std::vector<Case> cases = {
      {"Error", {"Error", "Code"}},
      {"MessageSummary",
       {"ID", "MessageID", "Read", "From", "To", "Cc", "Bcc", "ReplyTo", "Subject", "Created", "Username",
        "Tags", "Size", "Attachments", "Snippet"}},
      {"MessagesSummary",
       {"total", "unread", "count", "messages_count", "messages_unread", "start", "tags", "messages"}},
      {"Message",
       {"ID", "From", "To", "Subject", "Date", "Text", "HTML", "Inline", "Attachments", "ListUnsubscribe",
        "Envelope"}},
      {"MailHogMessages", {"total", "count", "start", "items"}},
      {"MailHogMessage", {"ID", "From", "To", "Content", "Created", "MIME", "Raw"}},
      {"MailHogPath", {"Relays", "Mailbox", "Domain", "Params"}},
      {"MailHogContent", {"Headers", "Body", "Size", "MIME"}},
      {"MailHogRaw", {"From", "To", "Data", "Helo"}},
  };
  for (const Case& c : cases) {
    ASSERT_TRUE(schemas.contains(c.schema)) << c.schema;
    const json& props = schemas.at(c.schema).at("properties");
    for (const std::string& p : c.properties) EXPECT_TRUE(props.contains(p)) << c.schema << "." << p;
  }
  EXPECT_EQ(schemas.at("Error").at("required"), json::array({"Error", "Code"}));
}

TEST(OpenApiTest, SameVersionSameDocument) {
  EXPECT_EQ(openapi_document("v"), openapi_document("v"));
  EXPECT_NE(openapi_document("v1"), openapi_document("v2"));
}

}  // namespace
}  // namespace mailjar::http
