// NAME
//   http openapi - builds the OpenAPI 3.0.3 document of the HTTP API from the route table.
// STANDARDS
//   OpenAPI Specification 3.0.3, RFC 8259 (JSON), RFC 6455 (the WebSocket upgrade of /api/events).
// CONTRACT
//   Paths and methods come only from routes() (router.h): nothing here lists a path. What each route
//   does (summary, description, query parameters, request body, responses) comes from operation_table(),
//   keyed by RouteSpec::name. A route without an entry still appears, but with no description, which the
//   unit test rejects, so a new route cannot ship undocumented. Path parameters are derived from the
//   "{Param}" segments of each pattern.
#include "http/openapi.h"
#include "core/ascii.h"

#include <cctype>
#include <functional>
#include <initializer_list>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "http/router.h"

namespace mailjar::http {

namespace {

using nlohmann::json;

constexpr std::string_view kInboxPrefix = "/inboxes/{slug}";
constexpr std::string_view kScopedSuffix = "InInbox";

// ---- schema and parameter builders -------------------------------------------------------------------

json ref(std::string_view schema) { return json{{"$ref", "#/components/schemas/" + std::string(schema)}}; }

json typed(std::string_view type, std::string_view description) {
  json s = {{"type", type}};
  if (!description.empty()) s["description"] = description;
  return s;
}

json string_s(std::string_view description = {}) { return typed("string", description); }

json integer_s(std::string_view description = {}) {
  json s = typed("integer", description);
  s["format"] = "int64";
  return s;
}

json boolean_s(std::string_view description = {}) { return typed("boolean", description); }

json date_time_s(std::string_view description) {
  json s = typed("string", description);
  s["format"] = "date-time";
  return s;
}

json array_s(json items, std::string_view description = {}) {
  json s = typed("array", description);
  s["items"] = std::move(items);
  return s;
}

json object_s(json properties, std::initializer_list<const char*> required = {},
              std::string_view description = {}) {
  json s = typed("object", description);
  s["properties"] = std::move(properties);
  if (required.size() > 0) {
    json names = json::array();
    for (const char* name : required) names.push_back(name);
    s["required"] = std::move(names);
  }
  return s;
}

// An object whose keys are free (header names, tag names) and whose values all have one schema.
json map_s(json values, std::string_view description) {
  json s = typed("object", description);
  s["additionalProperties"] = std::move(values);
  return s;
}

json query_param(std::string_view name, json schema, std::string_view description, bool required = false) {
  return json{{"name", name},
              {"in", "query"},
              {"required", required},
              {"description", description},
              {"schema", std::move(schema)}};
}

json start_param() {
  json s = integer_s();
  s["minimum"] = 0;
  s["default"] = 0;
  return query_param("start", std::move(s), "Index of the first result (0 = the newest).");
}

json limit_param() {
  json s = integer_s();
  s["minimum"] = 1;
  s["maximum"] = 5000;
  s["default"] = 50;
  return query_param("limit", std::move(s), "Results per page; values above 5000 are lowered to 5000.");
}

json tz_param() {
  return query_param("tz", string_s(),
                     "Time zone for dates without an offset in before:/after: terms: UTC (default), a fixed "
                     "offset (+02:00) or an IANA name (Europe/Berlin).");
}

json search_query_param(bool required, std::string_view description) {
  return query_param("query", string_s(), description, required);
}

// ---- response builders -------------------------------------------------------------------------------

json json_ok(std::string_view description, json schema) {
  return json{{"description", description},
              {"content", {{"application/json", {{"schema", std::move(schema)}}}}}};
}

json content_of(std::string_view description, std::string_view media_type, json schema) {
  return json{{"description", description}, {"content", {{media_type, {{"schema", std::move(schema)}}}}}};
}

// Mailpit answers successful changes with the text "ok".
json text_ok(std::string_view description) {
  json s = string_s();
  s["example"] = "ok";
  return content_of(description, "text/plain", std::move(s));
}

json error_doc(std::string_view description) { return json_ok(description, ref("Error")); }

json json_body(json schema, bool required, std::string_view description) {
  return json{{"description", description},
              {"required", required},
              {"content", {{"application/json", {{"schema", std::move(schema)}}}}}};
}

// ---- the text of longer descriptions -----------------------------------------------------------------

constexpr std::string_view kSearchLanguage = R"(
The search language is Mailpit's. Terms are separated by spaces and all must match (AND):

- `word`: matches in the subject, From, To, Cc, Bcc or body, as a word prefix (`invoice` matches
  `invoices`); a word of several tokens (`alice@example.com`) matches them in order.
- `"a phrase"`: the words in this order.
- `from:` `to:` `cc:` `bcc:`: the address and name fields (`to:alice@example.com`, `from:Alice`);
  the last token is a prefix unless the value is quoted (`to:"Bob Smith"`).
- `addressed:`: To, Cc or Bcc. `reply-to:`: the Reply-To addresses (substring).
- `subject:` the subject (`subject:"two words"`); `message-id:` the Message-ID, exact, without `<>`.
- `tag:NAME`: has the tag (case-insensitive).
- `is:read` `is:unread` `is:tagged`; `has:attachment` `has:inline`.
- `larger:SIZE` `smaller:SIZE`: bytes, or with a K/M/G suffix (1024-based): `larger:2M`.
- `before:DATE` `after:DATE`: `YYYY-MM-DD`, RFC 3339, or `YYYY-MM-DDTHH:MM[:SS]` read in the `tz` time
  zone; before is exclusive, after inclusive.
- `-term` or `!term`: negation of any term.

Operator names and is:/has: values are case-insensitive. Matching of words is case-insensitive and, for
Latin letters, diacritic-insensitive. An unknown operator (`foo:bar`) is a 400 invalid_query. Limits: at
most 4096 bytes and 64 terms.)";

constexpr std::string_view kEventsDescription = R"(
A WebSocket (RFC 6455), not a plain HTTP resource: send `GET` with `Upgrade: websocket`; the server
answers `101 Switching Protocols` and then sends one text frame per event of the inbox, as Mailpit does:
`{"Type": "...", "Data": ...}` (schema Event). Types:

- `new`: a message was stored; Data is its MessageSummary.
- `update`: a message changed; Data is `{"ID", "Read"}`, `{"ID", "Tags"}` or `{"ID"}`.
- `delete`: a message was deleted; Data is `{"ID"}`.
- `truncate`: every message of the inbox was deleted; Data is null.
- `prune`: retention removed old messages; Data is `{"IDs": [...]}` (the IDs removed).
- `stats`: the inbox's totals after a change; Data is `{"Total", "Unread", "Version"}`.
- `analysis`: a message's analyzer reports were stored; Data is `{"ID", "Analyzers"}` (read them with
  GET /api/v1/message/{ID}/analysis).

Frames the client sends are ignored. A browser's upgrade whose Origin is not this server's own is
refused with 403 (cross-site WebSocket hijacking); clients that send no Origin are accepted. A client
that does not read its frames is disconnected (close code 1008). Under `/inboxes/{slug}` the events are
those of that inbox, and an unknown inbox closes the connection.)";

constexpr std::string_view kWaitDescription = R"(
Holds the request open until a message matching `query` is stored in the inbox, then answers 200 with
its MessageSummary. Without `since`, only messages stored after the request arrived count; with `since`
(a message ID of this inbox, an RFC 3339 time or Unix milliseconds) the first match stored after that
message or received at or after that time is returned at once if it is already there. An empty query
matches any message. When nothing matches before `timeout` the answer is 408; when too many requests
are already waiting (or waiting is not available) it is 503.)";

// ---- the operation table -----------------------------------------------------------------------------

struct OperationDoc {
  std::string tag;
  std::string summary;
  std::string description;
  json parameters = json::array();  // query parameters only (path parameters come from the pattern)
  json request_body;                // null when the operation takes no body
  json responses;                   // status -> response object
  bool needs_token = true;          // under --auth on (false: answered before any token check)
};

// One entry per RouteSpec::name.
std::map<std::string, OperationDoc, std::less<>> operation_table() {
  std::map<std::string, OperationDoc, std::less<>> t;
  const std::string search_language(kSearchLanguage);

  t["Livez"] = {"server",
                "Liveness probe",
                "Answers 200 while the process serves HTTP; never touches the database.",
                json::array(),
                nullptr,
                {{"200", json_ok("Alive.", object_s({{"status", string_s("Always \"ok\".")}}, {"status"}))}}};
  t["Livez"].needs_token = false;

  t["Readyz"] = {
      "server",
      "Readiness probe",
      "Answers 200 when the database can be read and the queue of messages accepted but not yet committed "
      "is below the overload threshold, else 503 (with the Error fields and the same status/pending).",
      json::array(),
      nullptr,
      {{"200", json_ok("Ready.", ref("Readiness"))},
       {"503", json_ok("Storage unavailable (Code store_unavailable) or overloaded (Code overloaded).",
                       ref("Readiness"))}}};
  t["Readyz"].needs_token = false;

  t["AppInformation"] = {
      "server",
      "Application information",
      "Mailpit's AppInformation, for this inbox: version, database, message and tag counts.",
      json::array(),
      nullptr,
      {{"200", json_ok("The information.", ref("AppInformation"))}}};

  t["WebUIConfiguration"] = {"server",
                             "Web UI configuration",
                             "Mailpit's WebUIConfiguration: the optional features this server has (none of "
                             "relay, SpamAssassin or chaos).",
                             json::array(),
                             nullptr,
                             {{"200", json_ok("The configuration.", ref("WebUIConfiguration"))}}};

  t["GetMessages"] = {"messages",
                      "List messages",
                      "The inbox's messages, newest first, one page at a time (Mailpit's MessagesSummary).",
                      json::array({start_param(), limit_param()}),
                      nullptr,
                      {{"200", json_ok("One page of messages.", ref("MessagesSummary"))},
                       {"400", error_doc("start or limit is not a valid number (Code invalid_parameter).")}}};

  t["SetReadStatus"] = {
      "messages",
      "Set read status",
      "Marks messages read or unread: those listed in IDs; else those matching Search (or the `search` "
      "query parameter), in the search language; else every message of the inbox. Publishes `update` and "
      "`stats` events." +
          search_language,
      json::array(
          {query_param("search", string_s(), "A search query, used when the body has no IDs or Search."),
           tz_param()}),
      json_body(ref("SetReadStatusRequest"), false,
                "Which messages, and the new status (Read, default false)."),
      {{"200", text_ok("Done.")},
       {"400", error_doc("The body is not valid JSON of this shape (invalid_json) or the query is invalid "
                         "(invalid_query).")}}};

  t["DeleteMessages"] = {
      "messages",
      "Delete messages",
      "Deletes the messages listed in IDs; without IDs (or without a body) deletes every "
      "message of the inbox (event `truncate`). Unknown IDs are skipped.",
      json::array(),
      json_body(ref("DeleteMessagesRequest"), false, "The IDs to delete."),
      {{"200", text_ok("Done.")},
       {"400", error_doc("The body is not valid JSON of this shape (Code invalid_json).")}}};

  t["MessagesSummary"] = {
      "messages",
      "Search messages",
      "The messages matching `query`, newest first, one page at a time. In the answer, total and unread "
      "count the whole inbox, messages_count and messages_unread the matches." +
          search_language,
      json::array({search_query_param(true, "The search query (required)."), start_param(), limit_param(),
                   tz_param()}),
      nullptr,
      {{"200", json_ok("One page of matches.", ref("MessagesSummary"))},
       {"400", error_doc("Missing or invalid query (Code invalid_query), or bad start/limit.")}}};

  t["DeleteSearch"] = {
      "messages",
      "Delete matching messages",
      "Deletes every message of the inbox matching `query`." + search_language,
      json::array({search_query_param(true, "The search query (required)."), tz_param()}),
      nullptr,
      {{"200", text_ok("Done.")}, {"400", error_doc("Missing or invalid query (Code invalid_query).")}}};

  {
    json timeout = string_s();
    timeout["default"] = "30s";
    t["WaitForMessage"] = {
        "messages",
        "Wait for a message",
        std::string(kWaitDescription) + "\n" + search_language,
        json::array({search_query_param(false, "The search query; empty matches any message."),
                     query_param("timeout", std::move(timeout),
                                 "How long to wait: `500ms`, `30s`, `2m` or plain seconds; at most the "
                                 "server's limit (300s by default)."),
                     query_param("since", string_s(),
                                 "Also accept messages stored after this message ID, or received at or after "
                                 "this RFC 3339 time or Unix time in milliseconds."),
                     tz_param()}),
        nullptr,
        {{"200", json_ok("The first matching message.", ref("MessageSummary"))},
         {"400", error_doc("Invalid query (invalid_query), timeout or since (invalid_parameter).")},
         {"408", error_doc("No matching message arrived before the timeout (Code timeout).")},
         {"503", error_doc("Too many requests are already waiting (Code overloaded), or waiting is not "
                           "available (Code unavailable).")}}};
  }

  t["Message"] = {"message",
                  "Get a message",
                  "The whole message: addresses, subject, text and HTML bodies, inline parts and attachments "
                  "(with part IDs for DownloadAttachment), List-Unsubscribe and the SMTP envelope. Marks the "
                  "message read.",
                  json::array(),
                  nullptr,
                  {{"200", json_ok("The message.", ref("Message"))},
                   {"404", error_doc("No such message (Code message_not_found).")}}};

  t["MessageHeaders"] = {"message",
                         "Get message headers",
                         "Every header field of the message, by name, values unfolded and not decoded, in "
                         "order of appearance.",
                         json::array(),
                         nullptr,
                         {{"200", json_ok("The headers.", ref("MessageHeaders"))},
                          {"404", error_doc("No such message (Code message_not_found).")}}};

  t["MessageAnalysis"] = {"analysis",
                          "Get a message's analysis",
                          "The analyzer reports stored for the message so far, one per analyzer, in the order the "
                          "configured analyzers run. Analysis runs in the background after a message arrives, at "
                          "low priority: Reports is empty until it has run (an \"analysis\" event on "
                          "/api/events announces each message's reports). mailjar extension.",
                          json::array(),
                          nullptr,
                          {{"200", json_ok("The reports so far.", ref("Analysis"))},
                           {"404", error_doc("No such message (Code message_not_found).")}}};

  t["AnalyzeMessage"] = {"analysis",
                         "Analyse a message now",
                         "Runs every configured analyzer on the message now, stores the reports (replacing "
                         "earlier ones of the same analyzers), publishes an \"analysis\" event, and answers "
                         "with every stored report. mailjar extension.",
                         json::array(),
                         nullptr,
                         {{"200", json_ok("The reports.", ref("Analysis"))},
                          {"404", error_doc("No such message (Code message_not_found).")},
                          {"503", error_doc("No analyzers are configured (Code analysis_unavailable).")}}};

  t["GetMessageRaw"] = {"message",
                        "Get the raw message",
                        "The message exactly as received (RFC 5322 source).",
                        json::array({query_param(
                            "dl", string_s(), "`1`: send as a download (Content-Disposition attachment).")}),
                        nullptr,
                        {{"200", content_of("The raw message.", "text/plain", string_s())},
                         {"404", error_doc("No such message (Code message_not_found).")}}};

  {
    json binary = string_s();
    binary["format"] = "binary";
    t["DownloadAttachment"] = {
        "message",
        "Download a part",
        "The decoded content of one MIME part, with its own content type, as an attachment download. "
        "The answer is sandboxed (Content-Security-Policy: sandbox) so that it never runs in the UI's "
        "origin.",
        json::array(),
        nullptr,
        {{"200", content_of("The part's decoded bytes (Content-Type is the part's).",
                            "application/octet-stream", std::move(binary))},
         {"404", error_doc("No such message (message_not_found) or part (part_not_found).")}}};
  }

  {
    json html = {
        {"description", "The HTML body (text/html) or the text body (text/plain)."},
        {"content", {{"text/html", {{"schema", string_s()}}}, {"text/plain", {{"schema", string_s()}}}}}};
    t["ViewMessage"] = {
        "message",
        "View a message body",
        "The HTML body of a message, served with a strict Content-Security-Policy (sandbox, no "
        "scripts, images only inline) for display in an iframe, or its text body.",
        json::array(),
        nullptr,
        {{"200", std::move(html)},
         {"404", error_doc("No such message, or a File that is not {ID}.html, {ID}.txt or latest "
                           "(Code not_found or message_not_found).")}}};
  }

  t["GetAllTags"] = {
      "tags",        "List tags", "The distinct tags of the inbox's messages, sorted case-insensitively.",
      json::array(), nullptr,     {{"200", json_ok("The tags.", array_s(string_s()))}}};

  t["SetTags"] = {
      "tags",
      "Set message tags",
      "Replaces the tags of the listed messages (empty tags and duplicates in any letter case are "
      "dropped). Publishes `update` events.",
      json::array(),
      json_body(ref("SetTagsRequest"), true, "The messages and their new tags."),
      {{"200", text_ok("Done.")},
       {"400", error_doc("Not valid JSON of this shape, or no IDs (Code invalid_json).")}}};

  t["RenameTag"] = {
      "tags",
      "Rename a tag",
      "Renames the tag on every message of the inbox.",
      json::array(),
      json_body(ref("RenameTagRequest"), true, "The new name."),
      {{"200", text_ok("Done.")}, {"400", error_doc("Name missing or empty (Code invalid_json).")}}};

  t["DeleteTag"] = {"tags",        "Delete a tag", "Removes the tag from every message of the inbox.",
                    json::array(), nullptr,        {{"200", text_ok("Done.")}}};

  t["SendMessage"] = {
      "send",
      "Send a message",
      "Builds a message from JSON (Mailpit's send API) and stores it in this inbox as SMTP mail is stored; "
      "answers with its ID once it is committed. Nothing is relayed anywhere.",
      json::array(),
      json_body(ref("SendRequest"), true, "The message."),
      {{"200", json_ok("Stored.", ref("SendResponse"))},
       {"400", error_doc("Not valid JSON of this shape (invalid_json) or not a buildable message "
                         "(invalid_message).")},
       {"503", error_doc("Too many messages waiting to be stored (overloaded) or sending not available "
                         "(unavailable).")}}};

  t["Events"] = {"events",
                 "Event stream (WebSocket)",
                 std::string(kEventsDescription),
                 json::array(),
                 nullptr,
                 {{"101",
                   {{"description",
                     "Switching Protocols: the WebSocket is open and sends Event frames "
                     "(schema Event)."}}},
                  {"400", error_doc("A plain GET without Upgrade: websocket (Code websocket_required).")},
                  {"403", error_doc("The Origin is not this server's own.")}}};

  t["OpenAPI"] = {"server",
                  "This document",
                  "The OpenAPI 3.0.3 description of every route of this server.",
                  json::array(),
                  nullptr,
                  {{"200", json_ok("The document.", typed("object", "OpenAPI 3.0.3 document."))}}};
  t["OpenAPI"].needs_token = false;

  {
    const auto page = [] {
      return json{{"description",
                   "The UI's HTML page (text/html), with a strict Content-Security-Policy, an ETag and "
                   "Cache-Control: no-cache."},
                  {"content", {{"text/html", {{"schema", string_s()}}}}}};
    };
    const std::string page_description =
        "The bundled web UI: one HTML page that loads /ui/app.js and /ui/app.css and then uses only this "
        "API and the WebSocket. Under /inboxes/{slug}/ it shows that inbox. Answers 304 to an "
        "If-None-Match naming its ETag.";
    t["WebUI"] = {"ui",          "Web UI", page_description,
                  json::array(), nullptr,  {{"200", page()}, {"304", {{"description", "Not modified."}}}}};
    t["WebUIInbox"] = {"ui",
                       "Web UI of an inbox",
                       page_description + " The same page as /inboxes/{slug}/.",
                       json::array(),
                       nullptr,
                       {{"200", page()},
                        {"304", {{"description", "Not modified."}}},
                        {"404", error_doc("No inbox has this slug (Code inbox_not_found).")}}};
    t["WebUIAsset"] = {
        "ui",
        "Web UI file",
        "One file of the bundled web UI (script, style sheet, image), compiled into the binary, with its "
        "content type, a strong ETag and Cache-Control: no-cache; 304 to an If-None-Match naming the ETag.",
        json::array(),
        nullptr,
        {{"200", content_of("The file's bytes (Content-Type is the file's).", "application/octet-stream",
                            string_s())},
         {"304", {{"description", "Not modified."}}},
         {"404", error_doc("No such file (Code not_found).")}}};
  }

  t["ListProjects"] = {
      "admin",
      "List projects",
      "The projects this token may see: every project for an admin token (or without --auth), "
      "only its own for a project token.",
      json::array(),
      nullptr,
      {{"200", json_ok("The projects.", array_s(ref("Project")))}}};

  t["CreateProject"] = {"admin",
                        "Create a project",
                        "Creates a project (admin token only).",
                        json::array(),
                        json_body(object_s({{"Name", string_s("The project's name (unique).")}}, {"Name"}),
                                  true, "The new project."),
                        {{"201", json_ok("Created.", ref("Project"))},
                         {"400", error_doc("Name missing or empty (Code invalid_json).")},
                         {"403", error_doc("Not an admin token (Code forbidden).")},
                         {"409", error_doc("A project with this name exists (Code conflict).")}}};

  t["ListInboxes"] = {
      "admin",
      "List inboxes",
      "The inboxes this token may see, with their SMTP credentials, retention limits, base path "
      "and message counts.",
      json::array(),
      nullptr,
      {{"200", json_ok("The inboxes.", array_s(ref("Inbox")))}}};

  t["CreateInbox"] = {
      "admin",
      "Create an inbox",
      "Creates an inbox with a slug derived from its name and generated SMTP credentials (mail that "
      "authenticates with them lands in it). Project defaults to the token's project (\"default\" for an "
      "admin token); a project token can create inboxes only in its own project.",
      json::array(),
      json_body(ref("InboxRequest"), true, "Name (required), Project and retention limits."),
      {{"201", json_ok("Created.", ref("Inbox"))},
       {"400", error_doc("Not valid JSON of this shape (Code invalid_json).")},
       {"404", error_doc("No such project, or not the token's (Code project_not_found).")},
       {"409", error_doc("Conflict (Code conflict).")}}};

  t["GetInbox"] = {
      "admin",
      "Get an inbox",
      "One inbox, with its credentials, limits and counts.",
      json::array(),
      nullptr,
      {{"200", json_ok("The inbox.", ref("Inbox"))},
       {"404", error_doc("No such inbox, or not the token's project's (Code inbox_not_found).")}}};

  t["UpdateInbox"] = {
      "admin",
      "Update an inbox",
      "Renames an inbox, changes its retention limits (applied at once: messages over the new "
      "limits are pruned) or issues new SMTP credentials. Absent fields are unchanged.",
      json::array(),
      json_body(ref("InboxRequest"), true, "The fields to change."),
      {{"200", json_ok("The updated inbox.", ref("Inbox"))},
       {"400", error_doc("Not valid JSON of this shape (Code invalid_json).")},
       {"404", error_doc("No such inbox, or not the token's project's (Code inbox_not_found).")},
       {"409", error_doc("Conflict (Code conflict).")}}};

  t["DeleteInbox"] = {
      "admin",
      "Delete an inbox",
      "Deletes an inbox and all of its messages.",
      json::array(),
      nullptr,
      {{"200", text_ok("Done.")},
       {"400", error_doc("This inbox cannot be deleted, e.g. the default inbox (Code "
                         "invalid_operation).")},
       {"404", error_doc("No such inbox, or not the token's project's (Code inbox_not_found).")}}};

  t["MailHogMessages"] = {
      "mailhog",
      "List messages (MailHog API v2)",
      "MailHog's GET /api/v2/messages for its CI clients: the messages, newest first, with "
      "their raw source and headers.",
      json::array({start_param(), limit_param()}),
      nullptr,
      {{"200", json_ok("One page of messages.", ref("MailHogMessages"))},
       {"400", error_doc("start or limit is not a valid number (Code invalid_parameter).")}}};

  {
    json kind = string_s();
    kind["enum"] = json::array({"from", "to", "containing"});
    t["MailHogSearch"] = {
        "mailhog",
        "Search messages (MailHog API v2)",
        "MailHog's GET /api/v2/search. kind=from matches the From addresses and names, kind=to the To, Cc "
        "and Bcc addresses and names (the words of the query in order, the last one as a prefix, "
        "case-insensitive); kind=containing matches messages containing every word of the query (full-text "
        "index over subject, addresses and body). Newest first.",
        json::array({query_param("kind", std::move(kind), "What to match.", true),
                     query_param("query", string_s(), "The text to look for (required).", true),
                     start_param(), limit_param()}),
        nullptr,
        {{"200", json_ok("One page of matches.", ref("MailHogMessages"))},
         {"400", error_doc("Missing or unknown kind (invalid_parameter), missing query (invalid_query), or "
                           "bad start/limit.")}}};
  }
  return t;
}

// ---- components --------------------------------------------------------------------------------------

json component_schemas() {
  json s = json::object();
  s["Error"] = object_s({{"Error", string_s("A human-readable message.")},
                         {"Code", string_s("A stable machine-readable code, e.g. invalid_query.")}},
                        {"Error", "Code"}, "Every error answer of the API.");
  s["Address"] = object_s(
      {{"Name", string_s("Display name, decoded; may be empty.")}, {"Address", string_s("Email address.")}},
      {"Name", "Address"});
  s["MessageSummary"] =
      object_s({{"ID", string_s("Message ID (ULID, time-ordered).")},
                {"MessageID", string_s("The Message-ID header, without <>.")},
                {"Read", boolean_s()},
                {"From", ref("Address")},
                {"To", array_s(ref("Address"))},
                {"Cc", array_s(ref("Address"))},
                {"Bcc", array_s(ref("Address"))},
                {"ReplyTo", array_s(ref("Address"))},
                {"Subject", string_s()},
                {"Created", date_time_s("When the message was received.")},
                {"Username", string_s("The SMTP AUTH user it was sent with; empty without authentication.")},
                {"Tags", array_s(string_s())},
                {"Size", integer_s("Raw size in bytes.")},
                {"Attachments", integer_s("Number of attachments.")},
                {"Snippet", string_s("The start of the text body, whitespace folded.")}},
               {"ID", "MessageID", "Read", "From", "To", "Cc", "Bcc", "ReplyTo", "Subject", "Created",
                "Username", "Tags", "Size", "Attachments", "Snippet"},
               "One message in a list (Mailpit's MessageSummary).");
  s["MessagesSummary"] =
      object_s({{"total", integer_s("Messages in the inbox.")},
                {"unread", integer_s("Unread messages in the inbox.")},
                {"count", integer_s("Messages in this page.")},
                {"messages_count", integer_s("Messages in the list (the matches, for a search).")},
                {"messages_unread", integer_s("Unread messages in the list (the matches, for a search).")},
                {"start", integer_s("The start of this page.")},
                {"tags", array_s(string_s(), "Every tag of the inbox.")},
                {"messages", array_s(ref("MessageSummary"))}},
               {"total", "unread", "count", "messages_count", "messages_unread", "start", "tags", "messages"},
               "A page of messages (Mailpit's MessagesSummary).");
  s["Attachment"] =
      object_s({{"PartID", string_s("Dotted position of the part in the MIME tree, e.g. 1.2.")},
                {"FileName", string_s()},
                {"ContentType", string_s()},
                {"ContentID", string_s("Without <>.")},
                {"Size", integer_s("Decoded size in bytes.")},
                {"Checksums", object_s({{"MD5", string_s()}, {"SHA1", string_s()}, {"SHA256", string_s()}},
                                       {}, "Lower-case hex digests of the decoded bytes.")}},
               {"PartID", "FileName", "ContentType", "ContentID", "Size", "Checksums"});
  s["ListUnsubscribe"] = object_s({{"Header", string_s("The List-Unsubscribe value; empty when absent.")},
                                   {"HeaderPost", string_s("The List-Unsubscribe-Post value.")},
                                   {"Links", array_s(string_s(), "The <...> URIs in order.")},
                                   {"Errors", string_s("Problems found, separated by \"; \".")}},
                                  {"Header", "HeaderPost", "Links", "Errors"});
  s["Envelope"] =
      object_s({{"MailFrom", string_s("MAIL FROM reverse-path without <>; empty for the null sender.")},
                {"MailParams", string_s("ESMTP parameters of MAIL FROM, as sent.")},
                {"RcptTo",
                 array_s(object_s({{"Address", string_s()}, {"Params", string_s()}}, {"Address", "Params"}))},
                {"Helo", string_s("HELO/EHLO argument.")},
                {"ClientIP", string_s()},
                {"ClientPort", integer_s()},
                {"TLSVersion", string_s("Empty on a cleartext session.")},
                {"TLSCipher", string_s()},
                {"AuthUser", string_s()},
                {"SMTPUTF8", boolean_s()},
                {"BareNewline", boolean_s("The data had a bare CR or LF.")},
                {"Chunked", boolean_s("Sent with BDAT.")}},
               {}, "The SMTP envelope and connection facts.");
  s["Message"] = object_s(
      {{"ID", string_s()},
       {"MessageID", string_s()},
       {"Read", boolean_s()},
       {"From", ref("Address")},
       {"To", array_s(ref("Address"))},
       {"Cc", array_s(ref("Address"))},
       {"Bcc", array_s(ref("Address"))},
       {"ReplyTo", array_s(ref("Address"))},
       {"ReturnPath", string_s("The Return-Path address without <>.")},
       {"Subject", string_s()},
       {"ListUnsubscribe", ref("ListUnsubscribe")},
       {"Date", date_time_s("The Date header (the received time when absent).")},
       {"Created", date_time_s("When the message was received.")},
       {"Tags", array_s(string_s())},
       {"Username", string_s()},
       {"Text", string_s("The text body, decoded to UTF-8.")},
       {"HTML", string_s("The HTML body, decoded to UTF-8.")},
       {"Size", integer_s()},
       {"Inline", array_s(ref("Attachment"), "Inline parts.")},
       {"Attachments", array_s(ref("Attachment"))},
       {"Envelope", ref("Envelope")}},
      {"ID",      "MessageID",       "Read", "From",    "To",   "Cc",       "Bcc",  "ReplyTo", "ReturnPath",
       "Subject", "ListUnsubscribe", "Date", "Created", "Tags", "Username", "Text", "HTML",    "Size",
       "Inline",  "Attachments"},
      "A whole message (Mailpit's Message, plus Envelope).");
  s["Finding"] = object_s({{"ID", string_s("Stable dotted identifier, e.g. date.missing.")},
                           {"Severity", string_s("info, warning or error.")},
                           {"Message", string_s("For people.")},
                           {"Evidence", string_s("The offending text; may be empty.")}},
                          {"ID", "Severity", "Message", "Evidence"});
  s["Report"] = object_s({{"Analyzer", string_s("The analyzer's name, e.g. headers.")},
                          {"Title", string_s()},
                          {"Verdict", string_s("pass, warn, fail, neutral or error.")},
                          {"Score", typed("number", "Analyzer-specific; null when it has none.")},
                          {"Summary", string_s("One line.")},
                          {"Findings", array_s(ref("Finding"))},
                          {"DurationMs", typed("number", "How long the analyzer ran.")},
                          {"Created", date_time_s("When the report was made.")}},
                         {"Analyzer", "Verdict", "Findings"}, "One analyzer's report on one message.");
  s["Analysis"] = object_s({{"ID", string_s("The message ID.")},
                            {"Analyzers", array_s(string_s(), "The configured analyzers, in run order.")},
                            {"Reports", array_s(ref("Report"))}},
                           {"ID", "Analyzers", "Reports"});
  s["MessageHeaders"] = map_s(array_s(string_s()), "Header name -> its values in order.");
  s["Readiness"] = object_s({{"status", string_s("ready, unavailable or overloaded.")},
                             {"pending", integer_s("Messages accepted but not yet committed.")},
                             {"Error", string_s("Set with 503.")},
                             {"Code", string_s("Set with 503.")}},
                            {"status", "pending"});
  s["AppInformation"] =
      object_s({{"Version", string_s()},
                {"LatestVersion", string_s()},
                {"Database", string_s("Path of the database file (\"\" for a project token).")},
                {"DatabaseSize", integer_s("Bytes (0 for a project token).")},
                {"Messages", integer_s()},
                {"Unread", integer_s()},
                {"Tags", map_s(integer_s(), "Tag -> number of messages with it.")},
                {"Inbox", object_s({{"Slug", string_s()}, {"Name", string_s()}, {"Project", string_s()}})},
                {"RuntimeStats",
                 object_s({{"Uptime", integer_s("Seconds.")},
                           {"Memory", integer_s("Resident bytes.")},
                           {"Waiting", integer_s("Wait-API requests held now (all inboxes).")},
                           {"AnalysisQueued", integer_s("Messages waiting for background analysis now.")},
                           {"AnalysisDone", integer_s("Messages whose analysis reports were stored since start.")},
                           {"AnalysisSkipped",
                            integer_s("Messages dropped from the full analysis queue (analysed on request).")},
                           {"AnalysisInFlight", integer_s("Messages whose network analyzers wait on the DNS now.")}})},
                {"Analyzers",
                 object_s({{"Enabled", array_s(string_s(), "The analyzers run on every message, in run order.")},
                           {"Available", array_s(object_s({{"Name", string_s()},
                                                           {"Title", string_s()},
                                                           {"Kind", string_s("local or network")}}),
                                                 "Every analyzer of this build.")}})}},
               {"Version", "Database", "Messages", "Unread", "Tags"});
  s["WebUIConfiguration"] =
      object_s({{"Label", string_s()},
                {"MessageRelay", typed("object", "Always disabled: mailjar never relays.")},
                {"SpamAssassin", boolean_s()},
                {"ChaosEnabled", boolean_s()},
                {"DuplicatesIgnored", boolean_s()},
                {"HideDeleteAllButton", boolean_s()}});
  s["SetReadStatusRequest"] = object_s({{"IDs", array_s(string_s())},
                                        {"Read", boolean_s("The new status (default false).")},
                                        {"Search", string_s("A search query, used when IDs is empty.")}});
  s["DeleteMessagesRequest"] = object_s({{"IDs", array_s(string_s(), "Empty or absent: every message.")}});
  s["SetTagsRequest"] = object_s({{"IDs", array_s(string_s())}, {"Tags", array_s(string_s())}}, {"IDs"});
  s["RenameTagRequest"] = object_s({{"Name", string_s("The new tag name.")}}, {"Name"});
  s["SendAddress"] = object_s({{"Email", string_s()}, {"Name", string_s()}}, {"Email"});
  s["SendAttachment"] = object_s({{"Content", string_s("Base64 of the bytes.")},
                                  {"Filename", string_s()},
                                  {"ContentType", string_s()},
                                  {"ContentID", string_s("Makes it an inline part.")}},
                                 {"Content"});
  s["SendRequest"] = object_s({{"From", ref("SendAddress")},
                               {"To", array_s(ref("SendAddress"))},
                               {"Cc", array_s(ref("SendAddress"))},
                               {"Bcc", array_s(ref("SendAddress"))},
                               {"ReplyTo", array_s(ref("SendAddress"))},
                               {"Subject", string_s()},
                               {"Text", string_s()},
                               {"HTML", string_s()},
                               {"Attachments", array_s(ref("SendAttachment"))},
                               {"Headers", map_s(string_s(), "Extra header fields.")},
                               {"Tags", array_s(string_s())}},
                              {"From"});
  s["Project"] =
      object_s({{"ID", integer_s()}, {"Name", string_s()}, {"Created", date_time_s("Creation time.")}},
               {"ID", "Name", "Created"});
  s["Inbox"] = object_s(
      {{"ID", integer_s()},
       {"Slug", string_s("Unique across the server, [a-z0-9-].")},
       {"Name", string_s()},
       {"Project", string_s("The project's name.")},
       {"Created", date_time_s("Creation time.")},
       {"SMTP",
        object_s({{"Host", string_s()},
                  {"Port", integer_s()},
                  {"Username", string_s("SMTP AUTH user name: mail sent with it lands in this inbox.")},
                  {"Password", string_s()}})},
       {"Retention", ref("Retention")},
       {"BasePath", string_s("The inbox's API and UI prefix, /inboxes/{slug}.")},
       {"Messages", integer_s()},
       {"Unread", integer_s()}},
      {"ID", "Slug", "Name", "Project", "Created", "SMTP", "Retention", "BasePath"});
  s["Retention"] =
      object_s({{"MaxMessages", integer_s("Keep at most this many messages (0 = no limit).")},
                {"MaxAgeSeconds", integer_s("Remove messages older than this (0 = no limit).")},
                {"MaxBytes", integer_s("Keep at most this many bytes of raw messages (0 = no limit).")}},
               {}, "Retention limits: the oldest messages are removed first.");
  s["InboxRequest"] =
      object_s({{"Name", string_s("Required when creating.")},
                {"Project", string_s("Creating only: the project's name.")},
                {"MaxMessages", integer_s("0 = no limit.")},
                {"MaxAgeSeconds", integer_s("0 = no limit.")},
                {"MaxBytes", integer_s("0 = no limit.")},
                {"RotateCredentials", boolean_s("Updating only: issue a new SMTP user name and password.")}});
  s["SendResponse"] = object_s({{"ID", string_s("The stored message's ID.")}}, {"ID"});
  {
    json type = string_s();
    type["enum"] = json::array({"new", "update", "delete", "truncate", "prune", "stats", "analysis"});
    s["Event"] = object_s({{"Type", std::move(type)},
                           {"Data", json{{"description", "Depends on Type (see the Events operation)."}}}},
                          {"Type", "Data"}, "One WebSocket frame of /api/events.");
  }
  json relays = array_s(string_s(), "Always null.");
  relays["nullable"] = true;
  s["MailHogPath"] =
      object_s({{"Relays", std::move(relays)},
                {"Mailbox", string_s("The part before the last @.")},
                {"Domain", string_s("The part after the last @.")},
                {"Params", string_s("Always empty.")}},
               {"Relays", "Mailbox", "Domain", "Params"}, "An envelope address split as MailHog does.");
  json mime = typed("object", "Always null: MIME parts are not listed.");
  mime["nullable"] = true;
  s["MailHogContent"] =
      object_s({{"Headers", map_s(array_s(string_s()), "Header name -> values, unfolded, not decoded.")},
                {"Body", string_s("Everything after the header block.")},
                {"Size", integer_s("Raw size in bytes.")},
                {"MIME", mime}},
               {"Headers", "Body", "Size", "MIME"});
  s["MailHogRaw"] = object_s({{"From", string_s("MAIL FROM.")},
                              {"To", array_s(string_s(), "RCPT TO addresses.")},
                              {"Data", string_s("The raw message.")},
                              {"Helo", string_s()}},
                             {"From", "To", "Data", "Helo"});
  s["MailHogMessage"] = object_s({{"ID", string_s()},
                                  {"From", ref("MailHogPath")},
                                  {"To", array_s(ref("MailHogPath"))},
                                  {"Content", ref("MailHogContent")},
                                  {"Created", date_time_s("When the message was received.")},
                                  {"MIME", mime},
                                  {"Raw", ref("MailHogRaw")}},
                                 {"ID", "From", "To", "Content", "Created", "MIME", "Raw"});
  s["MailHogMessages"] = object_s({{"total", integer_s("Messages in the inbox (matches, for a search).")},
                                   {"count", integer_s("Items in this page.")},
                                   {"start", integer_s()},
                                   {"items", array_s(ref("MailHogMessage"))}},
                                  {"total", "count", "start", "items"}, "A page of MailHog API v2 messages.");
  return s;
}

// ---- assembling ---------------------------------------------------------------------------------------

std::string path_param_description(std::string_view name) {
  if (name == "Slug") return "The inbox's slug.";
  if (name == "slug") return "The inbox's slug (the default inbox is also served without this prefix).";
  if (name == "ID") return "A message ID, or `latest` for the newest message of the inbox.";
  if (name == "PartID") return "A part ID from the message's Inline or Attachments (e.g. `2` or `1.2`).";
  if (name == "File")
    return "`{ID}.html` (the HTML body), `{ID}.txt` (the text body); `latest` for the newest.";
  if (name == "Tag") return "The tag name (percent-encoded).";
  if (name == "Asset") return "A file of the web UI (from web/), e.g. `app.js` or `app.css`.";
  return "Path parameter " + std::string(name) + ".";
}

// The names of the "{Param}" segments of a pattern, in order.
std::vector<std::string> path_params(std::string_view pattern) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < pattern.size()) {
    std::size_t end = pattern.find('/', pos + 1);
    if (end == std::string_view::npos) end = pattern.size();
    std::string_view segment = pattern.substr(pos + 1, end - pos - 1);
    if (segment.size() >= 3 && segment.front() == '{' && segment.back() == '}') {
      out.emplace_back(segment.substr(1, segment.size() - 2));
    }
    pos = end;
  }
  return out;
}


// Adds an error response, or appends to the description of one the operation already documents.
void add_error(json& responses, const char* status, std::string_view description) {
  if (responses.contains(status)) {
    std::string merged = responses[status].value("description", "");
    merged += (merged.empty() ? "" : " Also: ") + std::string(description);
    responses[status]["description"] = std::move(merged);
  } else {
    responses[status] = error_doc(description);
  }
}

json operation(const RouteSpec& route, const OperationDoc* doc, bool scoped) {
  json op = json::object();
  op["operationId"] = std::string(route.name) + (scoped ? std::string(kScopedSuffix) : "");
  json parameters = json::array();
  const std::string full_path = (scoped ? std::string(kInboxPrefix) : "") + std::string(route.pattern);
  for (const std::string& name : path_params(full_path)) {
    parameters.push_back(json{{"name", name},
                              {"in", "path"},
                              {"required", true},
                              {"description", path_param_description(name)},
                              {"schema", string_s()}});
  }
  json responses = json::object();
  if (doc) {
    op["tags"] = json::array({doc->tag});
    op["summary"] = doc->summary + (scoped ? " (in an inbox)" : "");
    op["description"] = doc->description;
    for (const json& p : doc->parameters) parameters.push_back(p);
    if (!doc->request_body.is_null()) op["requestBody"] = doc->request_body;
    responses = doc->responses;
  }
  if (route.inbox_scoped) {
    if (scoped) {
      add_error(responses, "404",
                "No inbox has this slug, or it is not the token's project's (Code inbox_not_found).");
    } else {
      add_error(
          responses, "403",
          "With --auth on: the token's project does not own the default inbox; use /inboxes/{slug} (Code "
          "forbidden).");
    }
  }
  // The request guard (request_guard.h) and the body limits, before any handler.
  const bool probe = route.id == RouteId::kLivez || route.id == RouteId::kReadyz;
  if (!probe) {
    add_error(responses, "403",
              "Listening on loopback, a Host that is not a loopback name or one of --allowed-hosts (Code "
              "forbidden_host).");
  }
  const bool changes_state = route.method != "GET";
  if (changes_state) {
    add_error(responses, "403", "An Origin that is not this server's own (Code forbidden_origin).");
    add_error(responses, "415", "A body that is not Content-Type: application/json (Code unsupported_media_type).");
    add_error(responses, "413",
              route.id == RouteId::kSend
                  ? "A body over the limit derived from --max-message-size (Code payload_too_large), or a built "
                    "message over --max-message-size (Code message_too_large)."
                  : "A body over --http-max-json (Code payload_too_large).");
  }
  if (!doc || doc->needs_token) {
    add_error(responses, "401", "With --auth on: no valid API token (Code unauthorized).");
    // Without --auth no token is needed: the empty requirement makes the schemes optional.
    op["security"] = json::array(
        {json{{"bearerAuth", json::array()}}, json{{"basicAuth", json::array()}}, json::object()});
  } else {
    op["security"] = json::array();
  }
  responses["default"] = error_doc("Any other error, e.g. 500 (Code internal) or 503 from the listener.");
  op["responses"] = std::move(responses);
  if (!parameters.empty()) op["parameters"] = std::move(parameters);
  return op;
}

json build_document(std::string_view version) {
  const auto table = operation_table();
  json paths = json::object();
  std::map<std::string, bool> used_tags;
  for (const RouteSpec& route : routes()) {
    const auto found = table.find(route.name);
    const OperationDoc* doc = found == table.end() ? nullptr : &found->second;
    if (doc) used_tags[doc->tag] = true;
    const std::string method = core::ascii_lowercase(route.method);
    paths[std::string(route.pattern)][method] = operation(route, doc, false);
    if (route.inbox_scoped) {
      paths[std::string(kInboxPrefix) + std::string(route.pattern)][method] = operation(route, doc, true);
    }
  }
  static const std::map<std::string, std::string> kTagDescriptions = {
      {"server", "Probes, information and this document."},
      {"messages", "Lists, searches, bulk changes and the wait API (Mailpit API v1)."},
      {"message", "One message: detail, headers, raw source, parts, HTML view."},
      {"tags", "Message tags."},
      {"analysis", "Analyzer reports on a message (header sanity, ...): read them, or run the analyzers now."},
      {"send", "Storing a message sent over HTTP."},
      {"events", "The WebSocket of live events."},
      {"mailhog", "MailHog's API v2, for its CI clients."},
      {"admin", "Projects and inboxes (with their SMTP credentials and retention limits)."},
      {"ui", "The bundled web UI (files compiled into the binary)."},
  };
  json tags = json::array();
  for (const auto& [name, unused] : used_tags) {
    json tag = {{"name", name}};
    if (auto d = kTagDescriptions.find(name); d != kTagDescriptions.end()) tag["description"] = d->second;
    tags.push_back(std::move(tag));
  }
  json info = {
      {"title", "mailjar"},
      {"version", version},
      {"description",
       "An email testing sandbox: a fake SMTP server capturing mail, with Mailpit's REST API v1 (same paths, "
       "parameters and JSON field names), MailHog's API v2 and additions (inboxes, the wait API, analysis reports). Every "
       "inbox "
       "has the same API under /inboxes/{slug}; the bare paths serve the default inbox. Every GET route also "
       "answers HEAD. Errors are JSON {\"Error\", \"Code\"} with honest status codes. With --auth on, every "
       "route except /livez, /readyz and this document needs an API token: Authorization: Bearer <token>, or "
       "HTTP Basic with the token as the password (or as the user name). An admin token sees every project; "
       "a "
       "project token only its project's inboxes (others answer 404, the bare default-inbox paths 403). "
       "JSON bodies are read as Mailpit's Go decoder reads them (keys match case-insensitively), but a body "
       "that is not exactly the endpoint's shape (an unknown key, a key given twice, a wrong type, nesting "
       "deeper than --http-max-json-depth) is a 400 invalid_json: a malformed body never widens an "
       "operation. Against pages in a browser: a state-changing request with a body must be "
       "application/json (else 415), one with an Origin must come from this server's origin (else 403), and "
       "a server listening on loopback answers only loopback Host names or --allowed-hosts (else 403)."},
  };
  return json{{"openapi", "3.0.3"},
              {"info", std::move(info)},
              {"tags", std::move(tags)},
              {"paths", std::move(paths)},
              {"components",
               {{"schemas", component_schemas()},
                {"securitySchemes",
                 {{"bearerAuth", {{"type", "http"}, {"scheme", "bearer"}, {"description", "An API token."}}},
                  {"basicAuth",
                   {{"type", "http"},
                    {"scheme", "basic"},
                    {"description", "The API token as the password (or as the user name)."}}}}}}}};
}

}  // namespace

std::string openapi_document(std::string_view version) {
  return build_document(version).dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace mailjar::http
