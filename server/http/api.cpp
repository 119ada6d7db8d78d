// NAME
//   http::Api - the REST API handlers (Mailpit API v1 shapes for the concepts mailjar shares with it).
// STANDARDS
//   RFC 9110 (status codes, Allow), RFC 3339 (timestamps), RFC 8259 (JSON).
// SECURITY
//   Message strings are attacker-controlled and may be invalid UTF-8: every JSON body is dumped with
//   error_handler_t::replace. Numeric query parameters are parsed strictly and bounded.
#include "http/api.h"
#include "core/ascii.h"
#include "core/base64.h"

#include <algorithm>
#include <tuple>
#include <cctype>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <exception>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <utility>

#include "events/hub.h"
#include "http/handler_util.h"
#include "http/json.h"
#include "http/mailhog.h"
#include "http/openapi.h"
#include "http/request_body.h"
#include "http/router.h"
#include "http/static_files.h"
#include "mime/detail.h"
#include "store/query.h"
#include "store/thread_store.h"
#include "core/id.h"

namespace mailjar::http {

namespace {

using nlohmann::json;

constexpr std::string_view kRawContentType = "text/plain; charset=utf-8";

Response json_response(int status, const json& body) {
  Response response;
  response.status = status;
  response.content_type = "application/json";
  response.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return response;
}

// A store failure: "invalid" is the request's fault (a name too long, a control character), the rest ours.
Response store_error(const core::Error& error) {
  if (error.code == "invalid") return error_response(400, error.message, "invalid_value");
  return error_response(500, "storage error: " + error.message, "internal");
}


json address_json(const core::Address& address) {
  return json{{"Name", address.name}, {"Address", address.address}};
}

json address_list(const std::vector<core::Address>& addresses) {
  json out = json::array();
  for (const auto& a : addresses) out.push_back(address_json(a));
  return out;
}

json string_list(const std::vector<std::string>& values) {
  json out = json::array();
  for (const auto& v : values) out.push_back(v);
  return out;
}

// One element of Mailpit's "messages" array (its MessageSummary).
json message_json(const store::MessageRow& row, const std::string& username) {
  const core::MessageSummary& s = row.summary;
  return json{
      {"ID", row.id},
      {"MessageID", s.message_id},
      {"Read", row.read},
      {"From", s.from.empty() ? address_json(core::Address{}) : address_json(s.from.front())},
      {"To", address_list(s.to)},
      {"Cc", address_list(s.cc)},
      {"Bcc", address_list(s.bcc)},
      {"ReplyTo", address_list(s.reply_to)},
      {"Subject", s.subject},
      {"Created", rfc3339_ms(row.received_ms)},
      {"Username", username},
      {"Tags", string_list(s.tags)},
      {"Size", row.size},
      {"Attachments", s.attachments},
      {"Snippet", s.snippet},
  };
}


std::optional<store::Inbox> scoped_inbox(const std::string& slug, const store::TokenScope& scope,
                                         store::Store& store, Response& error);

// The inbox a request addresses: the one named by the "/inboxes/{slug}" prefix, or the default inbox,
// if `scope` may see it. On failure `error` holds the response to send: 404 for an inbox that does not
// exist or belongs to another project (a project token cannot tell the two apart), 403 for the bare paths
// when the default inbox is not the token's.
std::optional<store::Inbox> resolve_inbox(const RouteMatch& match, const store::TokenScope& scope,
                                          store::Store& store, Response& error) {
  if (!match.inbox_slug) {
    auto def = store.default_inbox();
    if (!def) {
      error = store_error(def.error());
      return std::nullopt;
    }
    if (!scope.admin && def->project_id != scope.project_id) {
      error = error_response(403, "this token's project does not own the default inbox: use /inboxes/{slug}/...",
                             "forbidden");
      return std::nullopt;
    }
    return std::move(def).value();
  }
  return scoped_inbox(*match.inbox_slug, scope, store, error);
}

// The token of a request: "Authorization: Bearer T", or Basic with T as the password (or as the user
// name when the password is empty).
std::string request_token(const Request& request);

Response text_response(int status, std::string body, std::string_view content_type = kRawContentType) {
  Response response;
  response.status = status;
  response.content_type = std::string(content_type);
  response.body = std::move(body);
  return response;
}

// Mailpit answers successful changes with the text "ok".
Response ok_text() { return text_response(200, "ok"); }

Response invalid(std::string_view message, std::string_view code = "invalid_parameter") {
  return error_response(400, message, code);
}

std::optional<int64_t> parse_time_ms(const std::string& text);



// Parses and compiles a search query; nullopt (and `error`) on a syntax error.
std::optional<store::CompiledQuery> compile(std::string_view text, const Target& target, Response& error) {
  store::QueryOptions options;
  options.tz = target.param("tz").value_or("");
  auto terms = store::parse_query(text, options);
  if (!terms) {
    error = invalid(terms.error().message, "invalid_query");
    return std::nullopt;
  }
  return store::compile_query(*terms);
}

json messages_json(const std::vector<store::MessageRow>& rows) {
  json out = json::array();
  for (const store::MessageRow& row : rows) out.push_back(message_json(row, row.auth_user));
  return out;
}

// ---- events ----------------------------------------------------------------------------------------

void publish(const ApiContext& context, int64_t inbox_id, std::string type, const json& data) {
  if (!context.hub) return;
  events::Event event;
  event.inbox_id = inbox_id;
  event.type = std::move(type);
  event.data_json = data.dump(-1, ' ', false, json::error_handler_t::replace);
  context.hub->publish(event);
}

// Mailpit's "stats" event after a change: the inbox's totals.
void publish_stats(const ApiContext& context, int64_t inbox_id, store::Store& store) {
  if (!context.hub) return;
  auto page = store.list_messages(inbox_id, 0, 0);
  if (!page) return;
  publish(context, inbox_id, "stats",
          json{{"Total", page->total}, {"Unread", page->unread}, {"Version", context.version}});
}

void publish_updates(const ApiContext& context, int64_t inbox_id, const std::vector<std::string>& ids, bool read) {
  for (const std::string& id : ids) publish(context, inbox_id, "update", json{{"ID", id}, {"Read", read}});
}

void count_deleted(const ApiContext& context, int64_t n) {
  if (context.stats) context.stats->messages_deleted += n;
}

void publish_deletes(const ApiContext& context, int64_t inbox_id, const std::vector<std::string>& ids) {
  count_deleted(context, static_cast<int64_t>(ids.size()));
  for (const std::string& id : ids) publish(context, inbox_id, "delete", json{{"ID", id}});
}

// ---- handlers ----------------------------------------------------------------------------------------

Response livez() { return json_response(200, json{{"status", "ok"}}); }

Response readyz(const ApiContext& context, store::Store& store) {
  const std::size_t pending = context.pending_writes ? context.pending_writes() : 0;
  if (auto probe = store.default_inbox(); !probe) {
    json body = {{"Error", "storage unavailable: " + probe.error().message},
                 {"Code", "store_unavailable"},
                 {"status", "unavailable"},
                 {"pending", pending}};
    return json_response(503, body);
  }
  if (pending > context.overload_pending) {
    json body = {{"Error", "overloaded: too many messages waiting to be stored"},
                 {"Code", "overloaded"},
                 {"status", "overloaded"},
                 {"pending", pending}};
    return json_response(503, body);
  }
  return json_response(200, json{{"status", "ready"}, {"pending", pending}});
}

// GET /api/v1/messages?start=&limit=
Response list_messages(const Target& target, const store::Inbox& inbox, store::Store& store) {
  Response error;
  auto paging = parse_paging(target, error);
  if (!paging) return error;
  // before= : a message ID (older than it) or a time (RFC 3339 or Unix ms: received before it).
  std::string before_id;
  if (auto before = target.param("before"); before && !before->empty()) {
    if (before->size() == 26 && before->find_first_not_of("0123456789ABCDEFGHJKMNPQRSTVWXYZ") == std::string::npos) {
      before_id = *before;
    } else if (auto ms = parse_time_ms(*before)) {
      before_id = core::id_floor(*ms);
    } else {
      return invalid("before must be a message ID, an RFC 3339 time or Unix milliseconds");
    }
  }
  auto page = store.list_messages(inbox.id, paging->start, paging->limit, before_id);
  if (!page) return store_error(page.error());
  auto tags = store.list_tags(inbox.id);
  if (!tags) return store_error(tags.error());
  const json body = {
      {"total", page->total},          {"unread", page->unread},          {"count", page->messages.size()},
      {"messages_count", page->total}, {"messages_unread", page->unread}, {"start", paging->start},
      {"tags", string_list(*tags)},    {"messages", messages_json(page->messages)},
  };
  return json_response(200, body);
}

// GET /api/v1/search?query=&start=&limit=&tz=
Response search(const Target& target, const store::Inbox& inbox, store::Store& store) {
  Response error;
  auto paging = parse_paging(target, error);
  if (!paging) return error;
  const std::string text = target.param("query").value_or("");
  if (text.find_first_not_of(" \t") == std::string::npos) return invalid("query is required", "invalid_query");
  auto query = compile(text, target, error);
  if (!query) return error;
  auto page = store.search(inbox.id, *query, paging->start, paging->limit);
  if (!page) return store_error(page.error());
  auto tags = store.list_tags(inbox.id);
  if (!tags) return store_error(tags.error());
  const json body = {
      {"total", page->total},
      {"unread", page->unread},
      {"count", page->messages.size()},
      {"messages_count", page->matched},
      {"messages_unread", page->matched_unread},
      {"start", paging->start},
      {"tags", string_list(*tags)},
      {"messages", messages_json(page->messages)},
  };
  return json_response(200, body);
}

// DELETE /api/v1/search?query=
Response delete_search(const ApiContext& context, const Target& target, const store::Inbox& inbox,
                       store::Store& store) {
  Response error;
  const std::string text = target.param("query").value_or("");
  if (text.find_first_not_of(" \t") == std::string::npos) return invalid("query is required", "invalid_query");
  auto query = compile(text, target, error);
  if (!query) return error;
  auto deleted = store.delete_matching(inbox.id, *query);
  if (!deleted) return store_error(deleted.error());
  publish_deletes(context, inbox.id, *deleted);
  publish_stats(context, inbox.id, store);
  return ok_text();
}

// PUT /api/v1/messages {IDs, Read, Search}: the listed messages, else those matching Search (or the
// ?search= parameter), else all (an empty body or {} included, as in Mailpit).
Response set_read_status(const ApiContext& context, const Request& request, const Target& target,
                         const store::Inbox& inbox, store::Store& store) {
  Response error;
  auto body = read_json_object(request.body, {"IDs", "Read", "Search"}, context.json_limits, error);
  if (!body) return error;
  std::optional<std::vector<std::string>> ids;
  std::optional<bool> read;
  std::optional<std::string> search;
  if (!optional_strings(*body, "IDs", ids, error) || !optional_bool(*body, "Read", read, error) ||
      !optional_string(*body, "Search", search, error)) {
    return error;
  }
  std::string search_text = search.value_or("");
  if (search_text.empty()) search_text = target.param("search").value_or("");

  core::Result<std::vector<std::string>> changed = std::vector<std::string>();
  if (ids && !ids->empty()) {
    changed = store.set_read(inbox.id, *ids, read.value_or(false));
  } else if (search_text.find_first_not_of(" \t") != std::string::npos) {
    auto query = compile(search_text, target, error);
    if (!query) return error;
    changed = store.set_read_matching(inbox.id, *query, read.value_or(false));
  } else {
    changed = store.set_read_all(inbox.id, read.value_or(false));
  }
  if (!changed) return store_error(changed.error());
  publish_updates(context, inbox.id, *changed, read.value_or(false));
  publish_stats(context, inbox.id, store);
  return ok_text();
}

// DELETE /api/v1/messages {IDs}: those messages; an absent or empty body, {}, or no IDs deletes all (as
// in Mailpit). Any other body (an array, an unknown key, IDs that are not strings) is a 400: a body that
// cannot be read never means "all".
Response delete_messages(const ApiContext& context, const Request& request, const store::Inbox& inbox,
                         store::Store& store) {
  Response error;
  auto body = read_json_object(request.body, {"IDs"}, context.json_limits, error);
  if (!body) return error;
  std::optional<std::vector<std::string>> ids;
  if (!optional_strings(*body, "IDs", ids, error)) return error;
  if (!ids || ids->empty()) {
    auto n = store.delete_all(inbox.id);
    if (!n) return store_error(n.error());
    count_deleted(context, *n);
    publish(context, inbox.id, "truncate", json(nullptr));
  } else {
    auto deleted = store.delete_messages(inbox.id, *ids);
    if (!deleted) return store_error(deleted.error());
    publish_deletes(context, inbox.id, *deleted);
  }
  publish_stats(context, inbox.id, store);
  return ok_text();
}

// The message ID of a route ({ID}, or "latest": the newest message of the inbox); nullopt and `error`
// (404) when there is none.
std::optional<std::string> message_id(std::string id, const store::Inbox& inbox, store::Store& store,
                                      Response& error) {
  if (id == "latest") {
    auto page = store.list_messages(inbox.id, 0, 1);
    if (!page) {
      error = store_error(page.error());
      return std::nullopt;
    }
    if (page->messages.empty()) {
      error = error_response(404, "message not found", "message_not_found");
      return std::nullopt;
    }
    return page->messages.front().id;
  }
  return id;
}

// The raw bytes of a message; nullopt and `error` when missing.
std::optional<std::string> load_raw(const std::string& id, const store::Inbox& inbox, store::Store& store,
                                    Response& error) {
  auto raw = store.get_raw(inbox.id, id);
  if (!raw) {
    error = store_error(raw.error());
    return std::nullopt;
  }
  if (!raw.value()) {
    error = error_response(404, "message not found", "message_not_found");
    return std::nullopt;
  }
  return std::move(*raw.value());
}

// The parsed message `id` of the inbox, from the cache when it has it, else parsed from the stored bytes
// (and kept). The caller has checked that the message exists in the inbox, or load_raw() does it here;
// nullptr and `error` when it is missing.
std::shared_ptr<const mime::MessageDetail> load_detail(const ApiContext& context, const std::string& id,
                                                       const store::Inbox& inbox, store::Store& store,
                                                       Response& error) {
  const std::string key = std::to_string(inbox.id) + "/" + id;
  if (context.detail_cache) {
    auto row = store.get_message(inbox.id, id);
    if (!row) {
      error = store_error(row.error());
      return nullptr;
    }
    if (!row.value()) {
      error = error_response(404, "message not found", "message_not_found");
      return nullptr;
    }
    if (auto cached = context.detail_cache->find(key)) return cached;
  }
  auto raw = load_raw(id, inbox, store, error);
  if (!raw) return nullptr;
  auto detail = std::make_shared<const mime::MessageDetail>(mime::parse_detail(*raw, context.mime_limits));
  if (context.detail_cache) context.detail_cache->put(key, detail);
  return detail;
}

json part_json(const mime::PartInfo& part) {
  return json{{"PartID", part.part_id},
              {"FileName", part.file_name},
              {"ContentType", part.content_type},
              {"ContentID", part.content_id},
              {"Size", part.size},
              {"Checksums", json{{"MD5", part.md5}, {"SHA1", part.sha1}, {"SHA256", part.sha256}}}};
}

json envelope_json(const core::Envelope& e) {
  json rcpts = json::array();
  for (const core::Recipient& r : e.rcpts) rcpts.push_back(json{{"Address", r.address}, {"Params", r.params}});
  return json{{"MailFrom", e.mail_from}, {"MailParams", e.mail_params}, {"RcptTo", std::move(rcpts)},
              {"Helo", e.helo},           {"ClientIP", e.client_ip},     {"ClientPort", e.client_port},
              {"TLSVersion", e.tls_version}, {"TLSCipher", e.tls_cipher}, {"AuthUser", e.auth_user},
              {"SMTPUTF8", e.smtputf8},   {"BareNewline", e.bare_newline}, {"Chunked", e.chunked}};
}

// GET /api/v1/message/{ID}: the whole message (Mailpit's Message); marks it read.
Response get_message(const ApiContext& context, const RouteMatch& match, const store::Inbox& inbox,
                     store::Store& store) {
  Response error;
  auto id = message_id(match.params.at("ID"), inbox, store, error);
  if (!id) return error;
  auto row = store.get_message(inbox.id, *id);
  if (!row) return store_error(row.error());
  if (!row.value()) return error_response(404, "message not found", "message_not_found");
  const auto parsed = load_detail(context, *id, inbox, store, error);
  if (!parsed) return error;
  const mime::MessageDetail& detail = *parsed;
  auto envelope = store.get_envelope(inbox.id, *id);

  if (!row.value()->read) {
    auto changed = store.set_read(inbox.id, {*id}, true);
    if (changed && !changed->empty()) {
      publish_updates(context, inbox.id, *changed, true);
      publish_stats(context, inbox.id, store);
    }
  }
  const store::MessageRow& r = *row.value();
  const core::MessageSummary& s = r.summary;
  json inline_parts = json::array();
  for (const auto& p : detail.inline_parts) inline_parts.push_back(part_json(p));
  json attachments = json::array();
  for (const auto& p : detail.attachments) attachments.push_back(part_json(p));
  std::string errors;
  for (const std::string& e : detail.list_unsubscribe.errors) errors += (errors.empty() ? "" : "; ") + e;
  json body = {
      {"ID", r.id},
      {"MessageID", s.message_id},
      {"Read", true},
      {"From", s.from.empty() ? address_json(core::Address{}) : address_json(s.from.front())},
      {"To", address_list(s.to)},
      {"Cc", address_list(s.cc)},
      {"Bcc", address_list(s.bcc)},
      {"ReplyTo", address_list(s.reply_to)},
      {"ReturnPath", detail.return_path},
      {"Subject", s.subject},
      {"ListUnsubscribe", json{{"Header", detail.list_unsubscribe.header},
                               {"HeaderPost", detail.list_unsubscribe.header_post},
                               {"Links", string_list(detail.list_unsubscribe.links)},
                               {"Errors", errors}}},
      {"Date", s.date.empty() ? rfc3339_ms(r.received_ms) : s.date},
      {"Created", rfc3339_ms(r.received_ms)},
      {"Tags", string_list(s.tags)},
      {"Username", r.auth_user},
      {"Text", detail.text},
      {"HTML", detail.html},
      {"Size", r.size},
      {"Inline", std::move(inline_parts)},
      {"Attachments", std::move(attachments)},
  };
  if (envelope && envelope.value()) body["Envelope"] = envelope_json(*envelope.value());
  return json_response(200, body);
}

// GET /api/v1/message/{ID}/headers: {"Name": ["value", ...]} in order of first appearance.
Response message_headers(const ApiContext& context, const RouteMatch& match, const store::Inbox& inbox,
                         store::Store& store) {
  Response error;
  auto id = message_id(match.params.at("ID"), inbox, store, error);
  if (!id) return error;
  const auto detail = load_detail(context, *id, inbox, store, error);
  if (!detail) return error;
  json body = json::object();
  for (const auto& [name, value] : detail->headers) {
    if (!body.contains(name)) body[name] = json::array();
    body[name].push_back(value);
  }
  return json_response(200, body);
}

// The analysis of a message as GET and POST .../analysis answer it: the configured analyzers, and one
// report per analyzer that has run, in the configured order (then any others that are stored, e.g. from
// an analyzer no longer configured, by name).
json analysis_json(const ApiContext& context, const std::string& id, const std::vector<store::StoredReport>& stored) {
  json reports = json::array();
  std::vector<bool> used(stored.size(), false);
  const auto add = [&](std::size_t i) {
    json r = json::parse(stored[i].json, nullptr, false);
    if (r.is_discarded() || !r.is_object()) r = json{{"Analyzer", stored[i].analyzer}, {"Verdict", stored[i].verdict}};
    r["Created"] = rfc3339_ms(stored[i].created_ms);
    reports.push_back(std::move(r));
    used[i] = true;
  };
  for (const std::string& name : context.analyzers) {
    for (std::size_t i = 0; i < stored.size(); ++i) {
      if (!used[i] && stored[i].analyzer == name) add(i);
    }
  }
  for (std::size_t i = 0; i < stored.size(); ++i) {
    if (!used[i]) add(i);
  }
  return json{{"ID", id}, {"Analyzers", context.analyzers}, {"Reports", std::move(reports)}};
}

// GET and POST /api/v1/message/{ID}/analysis. GET answers with the reports stored so far (analysis runs
// in the background after a message arrives; Reports is empty until it has). POST runs every configured
// analyzer now and answers with their reports once they are stored (and published as an "analysis"
// event); no worker waits for it meanwhile.
Response message_analysis(const ApiContext& context, const RouteMatch& match, const store::Inbox& inbox,
                          store::Store& store, bool run_now) {
  Response error;
  auto id = message_id(match.params.at("ID"), inbox, store, error);
  if (!id) return error;
  const Response not_found = error_response(404, "message not found", "message_not_found");
  if (run_now) {
    if (!context.analyze_now || context.analyzers.empty()) {
      return error_response(503, "no analyzers are configured (--analyzers)", "analysis_unavailable");
    }
    Response response;
    response.deferred = [&context, inbox_id = inbox.id, id = *id](std::function<void(Response)> reply) {
      context.analyze_now(inbox_id, id, [&context, id, reply = std::move(reply)](
                                            core::Result<std::optional<std::vector<store::StoredReport>>> r) {
        if (!r) return reply(error_response(r.error().code == "stopped" ? 503 : 500,
                                            "analysis failed: " + r.error().message,
                                            r.error().code == "stopped" ? "unavailable" : "internal"));
        if (!r.value()) return reply(error_response(404, "message not found", "message_not_found"));
        reply(json_response(200, analysis_json(context, id, *r.value())));
      });
    };
    return response;
  }
  auto stored = store.get_reports(inbox.id, *id);
  if (!stored) return store_error(stored.error());
  if (!stored.value()) return not_found;
  return json_response(200, analysis_json(context, *id, *stored.value()));
}

// GET /api/v1/message/{ID}/raw; ID "latest" is the newest message of the inbox (as in Mailpit).
Response message_raw(const RouteMatch& match, const Target& target, const store::Inbox& inbox,
                     store::Store& store) {
  Response error;
  auto id = message_id(match.params.at("ID"), inbox, store, error);
  if (!id) return error;
  auto raw = load_raw(*id, inbox, store, error);
  if (!raw) return error;
  Response response = text_response(200, std::move(*raw));
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");  // never rendered as HTML
  if (target.param("dl") == "1") {
    // IDs are ULIDs; anything else never reached this point (get_raw found no such message).
    response.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + *id + ".eml\"");
  }
  return response;
}

// A file name safe inside a quoted Content-Disposition parameter (RFC 6266): quotes, backslashes and
// controls replaced; the UTF-8 original goes into filename*.
std::string content_disposition(std::string_view disposition, const std::string& file_name) {
  if (file_name.empty()) return std::string(disposition);
  std::string ascii;
  std::string encoded;
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : file_name) {
    ascii.push_back((c < 0x20 || c >= 0x7f || c == '"' || c == '\\') ? '_' : static_cast<char>(c));
    if (std::isalnum(c) || c == '.' || c == '-' || c == '_') {
      encoded.push_back(static_cast<char>(c));
    } else {
      encoded += '%';
      encoded += kHex[c >> 4];
      encoded += kHex[c & 15];
    }
  }
  return std::string(disposition) + "; filename=\"" + ascii + "\"; filename*=UTF-8''" + encoded;
}

// GET /api/v1/message/{ID}/part/{PartID}: the decoded part, with its content type.
Response message_part(const ApiContext& context, const RouteMatch& match, const store::Inbox& inbox,
                      store::Store& store) {
  Response error;
  auto id = message_id(match.params.at("ID"), inbox, store, error);
  if (!id) return error;
  auto raw = load_raw(*id, inbox, store, error);
  if (!raw) return error;
  auto part = mime::get_part(*raw, match.params.at("PartID"), context.mime_limits);
  if (!part) return error_response(404, "part not found", "part_not_found");
  const bool is_text = part->content_type.rfind("text/", 0) == 0;
  Response response = text_response(
      200, std::move(part->data),
      part->content_type.empty() ? "application/octet-stream" : part->content_type + (is_text ? "; charset=utf-8" : ""));
  response.headers.emplace_back("Content-Disposition", content_disposition("attachment", part->file_name));
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");
  // Parts are attacker-controlled: never let a browser run them in the UI's origin.
  response.headers.emplace_back("Content-Security-Policy", "sandbox; default-src 'none'");
  return response;
}

// The URL of one part of message `id` in the inbox of `match` ("/inboxes/{slug}" when the request had
// that prefix): the slug is percent-encoded, IDs are ULIDs and part IDs dotted digits.
std::string part_url(const RouteMatch& match, const std::string& id, const std::string& part_id) {
  std::string url;
  if (match.inbox_slug) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    url = "/inboxes/";
    for (unsigned char c : *match.inbox_slug) {
      if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
        url.push_back(static_cast<char>(c));
      } else {
        url += '%';
        url += kHex[c >> 4];
        url += kHex[c & 15];
      }
    }
  }
  return url + "/api/v1/message/" + id + "/part/" + part_id;
}

// `html` with every cid: URL (RFC 2392) that names the Content-ID of an inline part or attachment
// replaced by that part's URL, so inline images show under the view's CSP. A cid: only counts after a
// quote, '(', '=' or whitespace (so "acid:" in text stays); it ends at a quote, ')', '<', '>', ',' or
// whitespace. Unknown Content-IDs stay as they are (and show nothing). Linear in the size of `html`.
std::string rewrite_cid_urls(const std::string& html, const mime::MessageDetail& detail, const RouteMatch& match,
                             const std::string& id) {
  std::map<std::string, std::string> by_cid;  // Content-ID -> part ID; the first part wins
  std::map<std::string, std::string> by_lower_cid;
  const auto lower = [](std::string_view text) { return core::ascii_lowercase(text); };
  for (const auto* parts : {&detail.inline_parts, &detail.attachments}) {
    for (const mime::PartInfo& part : *parts) {
      if (part.content_id.empty()) continue;
      by_cid.emplace(part.content_id, part.part_id);
      by_lower_cid.emplace(lower(part.content_id), part.part_id);
    }
  }
  if (by_cid.empty()) return html;
  const auto starts_token = [](char c) {
    return c == '"' || c == '\'' || c == '(' || c == '=' || core::is_ascii_space(c);
  };
  const auto ends_token = [&](char c) {
    return c == '"' || c == '\'' || c == ')' || c == '<' || c == '>' || c == ',' || core::is_ascii_space(c);
  };
  std::string out;
  out.reserve(html.size());
  std::size_t i = 0;
  while (i < html.size()) {
    const bool at_cid = i + 4 <= html.size() && (i == 0 || starts_token(html[i - 1])) &&
                        lower(html.substr(i, 4)) == "cid:";
    if (!at_cid) {
      out.push_back(html[i++]);
      continue;
    }
    std::size_t end = i + 4;
    while (end < html.size() && !ends_token(html[end])) ++end;
    const std::string encoded = html.substr(i + 4, end - i - 4);
    const std::string cid = percent_decode(encoded, false).value_or(encoded);
    auto found = by_cid.find(cid);
    const std::string* part_id = found != by_cid.end() ? &found->second : nullptr;
    if (!part_id) {
      auto folded = by_lower_cid.find(lower(cid));
      if (folded != by_lower_cid.end()) part_id = &folded->second;
    }
    if (part_id) {
      out += part_url(match, id, *part_id);
    } else {
      out.append(html, i, end - i);
    }
    i = end;
  }
  return out;
}

// The view's policy: a sandbox without scripts, forms or same-origin access (popups only, so a link with
// target=_blank opens in a new, unsandboxed tab); inline styles; images from data: and this origin (the
// message's own parts, see rewrite_cid_urls), and with ?remote=1 also from anywhere on the web (the
// person asked for remote images).
constexpr std::string_view kViewPolicy =
    "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; style-src 'unsafe-inline'; "
    "img-src 'self' data:; font-src data:";
constexpr std::string_view kViewPolicyRemoteImages =
    "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; style-src 'unsafe-inline'; "
    "img-src 'self' data: https: http:; font-src data:";

// GET /view/{ID}.html, /view/{ID}.txt, /view/latest: the HTML (sandboxed: no scripts, no forms, no
// same-origin access; cid: references pointed at the parts; images only from data: and the parts unless
// ?remote=1) or the text of a message.
Response view(const ApiContext& context, const RouteMatch& match, const Target& target, const store::Inbox& inbox,
              store::Store& store) {
  std::string file = match.params.at("File");
  bool text = false;
  if (file.size() > 5 && file.ends_with(".html")) {
    file.resize(file.size() - 5);
  } else if (file.size() > 4 && file.ends_with(".txt")) {
    file.resize(file.size() - 4);
    text = true;
  } else if (file != "latest") {
    return error_response(404, "use /view/{ID}.html or /view/{ID}.txt", "not_found");
  }
  Response error;
  auto id = message_id(file, inbox, store, error);
  if (!id) return error;
  const auto parsed = load_detail(context, *id, inbox, store, error);
  if (!parsed) return error;
  const mime::MessageDetail& detail = *parsed;
  if (text) {
    Response response = text_response(200, detail.text);
    response.headers.emplace_back("X-Content-Type-Options", "nosniff");
    return response;
  }
  Response response =
      text_response(200, rewrite_cid_urls(detail.html, detail, match, *id), "text/html; charset=utf-8");
  const bool remote_images = target.param("remote") == "1";
  response.headers.emplace_back("Content-Security-Policy",
                                std::string(remote_images ? kViewPolicyRemoteImages : kViewPolicy));
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");
  response.headers.emplace_back("Referrer-Policy", "no-referrer");
  return response;
}

// GET /api/v1/tags
Response get_tags(const store::Inbox& inbox, store::Store& store) {
  auto tags = store.list_tags(inbox.id);
  if (!tags) return store_error(tags.error());
  return json_response(200, string_list(*tags));
}

// PUT /api/v1/tags {IDs, Tags}: replaces the tags of those messages.
Response set_tags(const ApiContext& context, const Request& request, const store::Inbox& inbox,
                  store::Store& store) {
  Response error;
  auto body = read_json_object(request.body, {"IDs", "Tags"}, context.json_limits, error, /*empty_ok=*/false);
  if (!body) return error;
  std::optional<std::vector<std::string>> ids;
  std::optional<std::vector<std::string>> tags;
  if (!optional_strings(*body, "IDs", ids, error) || !optional_strings(*body, "Tags", tags, error)) return error;
  if (!ids || ids->empty()) return invalid("IDs must list at least one message", "invalid_json");
  if (!tags) tags.emplace();
  auto changed = store.set_tags(inbox.id, *ids, *tags);
  if (!changed) return store_error(changed.error());
  for (const std::string& id : *changed) publish(context, inbox.id, "update", json{{"ID", id}, {"Tags", *tags}});
  return ok_text();
}

// PUT /api/v1/tags/{Tag} {Name}: renames a tag; DELETE /api/v1/tags/{Tag}: removes it from every message.
Response rename_or_delete_tag(const ApiContext& context, const Request& request, const RouteMatch& match,
                              const store::Inbox& inbox, store::Store& store, bool rename) {
  const std::string& tag = match.params.at("Tag");
  std::string to;
  if (rename) {
    Response error;
    auto body = read_json_object(request.body, {"Name"}, context.json_limits, error, /*empty_ok=*/false);
    if (!body) return error;
    std::optional<std::string> name;
    if (!optional_string(*body, "Name", name, error)) return error;
    if (!name || name->find_first_not_of(" \t") == std::string::npos) {
      return invalid("Name (the new tag name) must not be empty", "invalid_json");
    }
    to = std::move(*name);
  }
  auto changed = rename ? store.rename_tag(inbox.id, tag, to) : store.delete_tag(inbox.id, tag);
  if (!changed) return store_error(changed.error());
  for (const std::string& id : *changed) publish(context, inbox.id, "update", json{{"ID", id}});
  return ok_text();
}

// An address of a send body: a string, or {"Email", "Name"} (keys matched as Go matches them).
std::optional<mime::SendAddress> send_address(json& v, const std::string& where, Response& error) {
  if (v.is_string()) return mime::SendAddress{v.get<std::string>(), ""};
  if (!canonical_object(v, {"Email", "Name"}, where, error)) return std::nullopt;
  std::optional<std::string> email, name;
  if (!optional_string(v, "Email", email, error) || !optional_string(v, "Name", name, error)) return std::nullopt;
  if (!email) {
    error = invalid(where + " needs an Email", "invalid_json");
    return std::nullopt;
  }
  return mime::SendAddress{std::move(*email), name.value_or("")};
}

// Mailpit's send body (its fields in canonical spelling) -> mime::SendRequest; nullopt and `error` on a
// malformed field.
std::optional<mime::SendRequest> send_request(json& body, Response& error) {
  mime::SendRequest r;
  const auto fail = [&](const std::string& message) {
    error = invalid(message, "invalid_json");
    return std::nullopt;
  };
  if (!body.contains("From") || body["From"].is_null()) return fail("From is required");
  auto from = send_address(body["From"], "From", error);
  if (!from) return std::nullopt;
  r.from = *from;
  for (const auto& [key, list] : {std::pair<const char*, std::vector<mime::SendAddress>*>{"To", &r.to},
                                  {"Cc", &r.cc}, {"Bcc", &r.bcc}, {"ReplyTo", &r.reply_to}}) {
    if (!body.contains(key) || body[key].is_null()) continue;
    if (!body[key].is_array()) return fail(std::string(key) + " must be an array");
    std::size_t i = 0;
    for (json& v : body[key]) {
      auto a = send_address(v, std::string(key) + "[" + std::to_string(i++) + "]", error);
      if (!a) return std::nullopt;
      list->push_back(*a);
    }
  }
  for (const auto& [key, field] : {std::pair<const char*, std::string*>{"Subject", &r.subject},
                                   {"Text", &r.text}, {"HTML", &r.html}}) {
    std::optional<std::string> value;
    if (!optional_string(body, key, value, error)) return std::nullopt;
    if (value) *field = std::move(*value);
  }
  if (body.contains("Attachments") && !body["Attachments"].is_null()) {
    if (!body["Attachments"].is_array()) return fail("Attachments must be an array");
    std::size_t i = 0;
    for (json& a : body["Attachments"]) {
      const std::string where = "Attachments[" + std::to_string(i++) + "]";
      if (!canonical_object(a, {"Content", "Filename", "ContentType", "ContentID"}, where, error)) return std::nullopt;
      std::optional<std::string> content, file_name, content_type, content_id;
      if (!optional_string(a, "Content", content, error) || !optional_string(a, "Filename", file_name, error) ||
          !optional_string(a, "ContentType", content_type, error) ||
          !optional_string(a, "ContentID", content_id, error)) {
        return std::nullopt;
      }
      if (!content) return fail(where + " needs Content (base64)");
      auto bytes = core::base64_decode(*content, core::Base64::kLenient);
      if (!bytes) return fail(where + ": Content is not valid base64");
      mime::SendAttachment att;
      att.content = std::move(*bytes);
      att.file_name = file_name.value_or("");
      att.content_type = content_type.value_or("");
      att.content_id = content_id.value_or("");
      r.attachments.push_back(std::move(att));
    }
  }
  if (body.contains("Headers") && !body["Headers"].is_null()) {
    if (!body["Headers"].is_object()) return fail("Headers must be an object of strings");
    for (const auto& [name, value] : body["Headers"].items()) {
      if (!value.is_string()) return fail("Headers must be an object of strings");
      r.headers.emplace_back(name, value.get<std::string>());
    }
  }
  std::optional<std::vector<std::string>> tags;
  if (!optional_strings(body, "Tags", tags, error)) return std::nullopt;
  if (tags) r.tags = std::move(*tags);
  return r;
}

// POST /api/v1/send: builds the message and stores it as SMTP mail is stored (into this inbox); answers
// {"ID": ...} after the commit.
Response send(const ApiContext& context, const Request& request, const store::Inbox& inbox) {
  if (!context.submit) return error_response(503, "sending is not available", "unavailable");
  Response error;
  JsonLimits limits = context.json_limits;
  limits.max_bytes = context.send_body_limit;
  auto body = read_json_object(request.body,
                               {"From", "To", "Cc", "Bcc", "ReplyTo", "Subject", "Text", "HTML", "Attachments",
                                "Headers", "Tags"},
                               limits, error, /*empty_ok=*/false);
  if (!body) return error;
  auto req = send_request(*body, error);
  if (!req) return error;
  auto raw = mime::build_message(*req, context.hostname, core::now_unix_ms());
  if (!raw) return invalid(raw.error().message, "invalid_message");
  if (raw->size() > context.max_message_size) {
    return error_response(413,
                          "the message would be " + std::to_string(raw->size()) + " bytes, more than " +
                              std::to_string(context.max_message_size) + " (--max-message-size)",
                          "message_too_large");
  }
  core::Envelope envelope;
  envelope.mail_from = req->from.email;
  for (const auto* list : {&req->to, &req->cc, &req->bcc}) {
    for (const auto& a : *list) envelope.rcpts.push_back(core::Recipient{a.email, ""});
  }
  envelope.helo = "api";
  envelope.esmtp = true;
  envelope.client_ip = "http";
  envelope.auth_user = inbox.smtp_username;  // routes the message into this inbox
  Response response;
  response.deferred = [submit = context.submit, envelope = std::move(envelope),
                       raw = std::move(raw).value()](std::function<void(Response)> reply) mutable {
    submit(std::move(envelope), std::move(raw), [reply = std::move(reply)](core::Result<std::string> id) {
      if (id.ok()) {
        reply(json_response(200, json{{"ID", id.value()}}));
      } else if (id.error().code == "busy") {
        reply(error_response(503, id.error().message, "overloaded"));
      } else {
        reply(error_response(500, "storing the message failed: " + id.error().message, "internal"));
      }
    });
  };
  return response;
}

// mailjar: {"Enabled": [names, in run order], "Available": [{Name, Title, Kind}]} (the registry).
json analyzers_json(const ApiContext& context) {
  json available = json::array();
  for (const ApiContext::AnalyzerInfo& a : context.analyzers_available) {
    available.push_back(json{{"Name", a.name}, {"Title", a.title}, {"Kind", a.kind}});
  }
  return json{{"Enabled", context.analyzers}, {"Available", std::move(available)}};
}

// GET /api/v1/info (Mailpit's AppInformation, for this inbox). A project token sees only its own figures:
// the database path and the server-wide counters (accepted, deleted, memory, waits, analysis) are shown
// to admins (and with --auth off) only, and are "" / 0 otherwise.
Response info(const ApiContext& context, std::size_t waiting, const store::TokenScope& scope,
              const store::Inbox& inbox, store::Store& store) {
  auto page = store.list_messages(inbox.id, 0, 0);
  if (!page) return store_error(page.error());
  auto tags = store.list_tags(inbox.id);
  if (!tags) return store_error(tags.error());
  json tag_counts = json::object();
  for (const std::string& tag : *tags) {
    store::QueryTerm term;
    term.kind = store::QueryTerm::Kind::kField;
    term.field = "tag";
    term.value = tag;
    auto found = store.search(inbox.id, store::compile_query({term}), 0, 0);
    tag_counts[tag] = found ? found->matched : 0;
  }
  std::error_code ec;
  const auto db_size = std::filesystem::file_size(context.database_path, ec);
  static const auto started = std::chrono::steady_clock::now();
  const auto uptime = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started);
  int64_t rss_bytes = 0;
  {
    std::ifstream statm("/proc/self/statm");
    int64_t pages_total = 0, pages_resident = 0;
    if (statm >> pages_total >> pages_resident) rss_bytes = pages_resident * 4096;
  }
  const ApiContext::AnalysisCounters analysis =
      context.analysis_counters ? context.analysis_counters() : ApiContext::AnalysisCounters{};
  const bool server_wide = scope.admin;
  const auto counter = [&](const std::atomic<int64_t> core::RuntimeStats::*field) -> int64_t {
    return server_wide && context.stats ? (context.stats->*field).load() : 0;
  };
  json body = {
      {"Version", context.version},
      {"LatestVersion", context.version},
      {"Database", server_wide ? context.database_path : std::string()},
      {"DatabaseSize", server_wide && !ec ? static_cast<int64_t>(db_size) : 0},
      {"Messages", page->total},
      {"Unread", page->unread},
      {"Tags", std::move(tag_counts)},
      {"Inbox", json{{"Slug", inbox.slug}, {"Name", inbox.name}, {"Project", inbox.project_name}}},
      {"RuntimeStats",
       json{{"Uptime", uptime.count()},
            {"Memory", server_wide ? rss_bytes : 0},
            {"MessagesDeleted", counter(&core::RuntimeStats::messages_deleted)},
            {"SMTPAccepted", counter(&core::RuntimeStats::smtp_accepted)},
            {"SMTPAcceptedSize", counter(&core::RuntimeStats::smtp_accepted_size)},
            {"SMTPRejected", counter(&core::RuntimeStats::smtp_rejected)},
            {"SMTPIgnored", 0},
            // mailjar: /api/v1/wait requests held right now (all inboxes), and the analysis queue
            {"Waiting", server_wide ? waiting : 0},
            {"AnalysisQueued", server_wide ? analysis.queued : 0},
            {"AnalysisDone", server_wide ? analysis.analysed : 0},
            {"AnalysisSkipped", server_wide ? analysis.skipped : 0},
            {"AnalysisInFlight", server_wide ? analysis.in_flight : 0}}},
      {"Analyzers", analyzers_json(context)},
  };
  return json_response(200, body);
}

// GET /api/v1/webui (Mailpit's WebUIConfiguration): the features this server has.
Response webui(const ApiContext& context) {
  json body = {
      {"Label", "mailjar " + context.version},
      {"MessageRelay", json{{"Enabled", false}, {"SMTPServer", ""}, {"ReturnPath", ""}, {"AllowedRecipients", ""},
                            {"BlockedRecipients", ""}, {"OverrideFrom", ""}, {"PreserveMessageIDs", false}}},
      {"SpamAssassin", false},
      {"ChaosEnabled", false},
      {"DuplicatesIgnored", false},
      {"HideDeleteAllButton", false},
  };
  return json_response(200, body);
}

// ---- authentication ----------------------------------------------------------------------------------

std::optional<std::string> header_value(const Request& request, std::string_view name) {
  for (const auto& [k, v] : request.headers) {
    if (k == name) return v;
  }
  return std::nullopt;
}

std::string request_token(const Request& request) {
  auto auth = header_value(request, "authorization");
  if (!auth) return "";
  std::string_view v = *auth;
  const auto starts = [&](std::string_view prefix) {
    if (v.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(v[i])) != prefix[i]) return false;
    }
    return true;
  };
  if (starts("bearer ")) {
    v.remove_prefix(7);
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    return std::string(v);
  }
  if (starts("basic ")) {
    v.remove_prefix(6);
    auto decoded = core::base64_decode(v, core::Base64::kLenient);
    if (!decoded) return "";
    const auto colon = decoded->find(':');
    if (colon == std::string::npos) return *decoded;
    std::string password = decoded->substr(colon + 1);
    return password.empty() ? decoded->substr(0, colon) : password;
  }
  return "";
}

// The scope of the request, or nullopt (unknown or missing token). `failure` is set on a storage error.
std::optional<store::TokenScope> scope_of(const ApiContext& context, const Request& request, store::Store& store,
                                          std::optional<Response>& failure) {
  if (!context.auth_required) return store::TokenScope{true, 0, ""};
  const std::string token = request_token(request);
  if (token.empty()) return std::nullopt;
  auto found = store.find_token(token);
  if (!found) {
    failure = store_error(found.error());
    return std::nullopt;
  }
  return found.value();
}

Response unauthorized() {
  Response r = error_response(401, "a valid API token is required (Authorization: Bearer <token>, or Basic)",
                              "unauthorized");
  r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"mailjar\", charset=\"UTF-8\"");
  return r;
}

// ---- projects and inboxes ---------------------------------------------------------------------------

json inbox_json(const ApiContext& context, const store::Inbox& inbox, store::Store& store) {
  json out = {
      {"ID", inbox.id},
      {"Slug", inbox.slug},
      {"Name", inbox.name},
      {"Project", inbox.project_name},
      {"Created", rfc3339_ms(inbox.created_ms)},
      {"SMTP", json{{"Host", context.smtp_host}, {"Port", context.smtp_port}, {"Username", inbox.smtp_username},
                    {"Password", inbox.smtp_password}}},
      {"Retention", json{{"MaxMessages", inbox.max_messages},
                         {"MaxAgeSeconds", inbox.max_age_ms / 1000},
                         {"MaxBytes", inbox.max_bytes}}},
      {"BasePath", "/inboxes/" + inbox.slug},
  };
  if (auto page = store.list_messages(inbox.id, 0, 0)) {
    out["Messages"] = page->total;
    out["Unread"] = page->unread;
  }
  return out;
}

Response list_projects(const store::TokenScope& scope, store::Store& store) {
  auto projects = store.list_projects();
  if (!projects) return store_error(projects.error());
  json out = json::array();
  for (const store::Project& p : *projects) {
    if (!scope.admin && p.id != scope.project_id) continue;
    out.push_back(json{{"ID", p.id}, {"Name", p.name}, {"Created", rfc3339_ms(p.created_ms)}});
  }
  return json_response(200, out);
}

Response create_project(const ApiContext& context, const Request& request, const store::TokenScope& scope,
                        store::Store& store) {
  if (!scope.admin) return error_response(403, "only an admin token can create projects", "forbidden");
  Response error;
  auto body = read_json_object(request.body, {"Name"}, context.json_limits, error, /*empty_ok=*/false);
  if (!body) return error;
  std::optional<std::string> name;
  if (!optional_string(*body, "Name", name, error)) return error;
  if (!name || name->empty()) return invalid("Name is required", "invalid_json");
  auto p = store.create_project(*name);
  if (!p) {
    if (p.error().code == "conflict") return error_response(409, p.error().message, "conflict");
    return store_error(p.error());
  }
  return json_response(201, json{{"ID", p->id}, {"Name", p->name}, {"Created", rfc3339_ms(p->created_ms)}});
}

Response list_inboxes(const ApiContext& context, const store::TokenScope& scope, store::Store& store) {
  auto inboxes = store.list_inboxes();
  if (!inboxes) return store_error(inboxes.error());
  json out = json::array();
  for (const store::Inbox& in : *inboxes) {
    if (!scope.admin && in.project_id != scope.project_id) continue;
    out.push_back(inbox_json(context, in, store));
  }
  return json_response(200, out);
}

// An inbox by slug if the scope may see it; nullopt and a 404 otherwise.
std::optional<store::Inbox> scoped_inbox(const std::string& slug, const store::TokenScope& scope,
                                         store::Store& store, Response& error) {
  auto found = store.find_inbox_by_slug(slug);
  if (!found) {
    error = store_error(found.error());
    return std::nullopt;
  }
  if (!found.value() || (!scope.admin && found.value()->project_id != scope.project_id)) {
    error = error_response(404, "inbox not found", "inbox_not_found");
    return std::nullopt;
  }
  return std::move(*found.value());
}

// Reads the optional retention fields of a create/update body into `update`; false and `error` when
// one is not a non-negative integer.
bool read_retention(const json& body, store::InboxUpdate& update, Response& error) {
  for (const auto& [key, field, scale] :
       {std::tuple{"MaxMessages", &update.max_messages, int64_t{1}},
        std::tuple{"MaxAgeSeconds", &update.max_age_ms, int64_t{1000}},
        std::tuple{"MaxBytes", &update.max_bytes, int64_t{1}}}) {
    if (!body.contains(key) || body[key].is_null()) continue;
    // A negative number parses as number_integer; one beyond int64 as unsigned or float: all refused.
    if (!body[key].is_number_integer() || body[key].get<int64_t>() < 0 ||
        body[key].get<int64_t>() > (int64_t{1} << 50)) {
      error = invalid(std::string(key) + " must be a non-negative integer (0 = no limit)", "invalid_json");
      return false;
    }
    *field = body[key].get<int64_t>() * scale;
  }
  return true;
}

void prune_inbox(const ApiContext& context, const store::Inbox& inbox, store::Store& store);

Response create_inbox(const ApiContext& context, const Request& request, const store::TokenScope& scope,
                      store::Store& store) {
  Response error;
  auto body = read_json_object(request.body, {"Project", "Name", "MaxMessages", "MaxAgeSeconds", "MaxBytes"},
                               context.json_limits, error, /*empty_ok=*/false);
  if (!body) return error;
  std::optional<std::string> name, project_name;
  if (!optional_string(*body, "Name", name, error) || !optional_string(*body, "Project", project_name, error)) {
    return error;
  }
  if (!name || name->empty()) return invalid("Name is required", "invalid_json");
  const std::string project = project_name.value_or(scope.admin ? "default" : scope.project_name);
  if (!scope.admin && project != scope.project_name) {
    return error_response(404, "project '" + project + "' does not exist", "project_not_found");
  }
  store::InboxUpdate limits;
  if (!read_retention(*body, limits, error)) return error;
  auto created = store.create_inbox(project, *name);
  if (!created) {
    if (created.error().code == "not_found") return error_response(404, created.error().message, "project_not_found");
    if (created.error().code == "conflict") return error_response(409, created.error().message, "conflict");
    return store_error(created.error());
  }
  store::Inbox inbox = std::move(created).value();
  if (limits.max_messages || limits.max_age_ms || limits.max_bytes) {
    auto updated = store.update_inbox(inbox.slug, limits);
    if (!updated) return store_error(updated.error());
    inbox = std::move(updated).value();
  }
  return json_response(201, inbox_json(context, inbox, store));
}

Response update_inbox(const ApiContext& context, const Request& request, const RouteMatch& match,
                      const store::TokenScope& scope, store::Store& store) {
  Response error;
  auto inbox = scoped_inbox(match.params.at("Slug"), scope, store, error);
  if (!inbox) return error;
  auto body = read_json_object(request.body,
                               {"Name", "MaxMessages", "MaxAgeSeconds", "MaxBytes", "RotateCredentials"},
                               context.json_limits, error, /*empty_ok=*/false);
  if (!body) return error;
  store::InboxUpdate update;
  std::optional<bool> rotate;
  if (!optional_string(*body, "Name", update.name, error) || !read_retention(*body, update, error) ||
      !optional_bool(*body, "RotateCredentials", rotate, error)) {
    return error;
  }
  if (update.name && update.name->empty()) return invalid("Name must be a non-empty string", "invalid_json");
  update.rotate_credentials = rotate.value_or(false);
  auto updated = store.update_inbox(inbox->slug, update);
  if (!updated) {
    if (updated.error().code == "conflict") return error_response(409, updated.error().message, "conflict");
    return store_error(updated.error());
  }
  prune_inbox(context, *updated, store);  // new limits apply at once
  return json_response(200, inbox_json(context, *updated, store));
}

Response delete_inbox(const ApiContext& context, const RouteMatch& match, const store::TokenScope& scope,
                      store::Store& store) {
  Response error;
  auto inbox = scoped_inbox(match.params.at("Slug"), scope, store, error);
  if (!inbox) return error;
  auto deleted = store.delete_inbox(inbox->slug);
  if (!deleted) {
    if (deleted.error().code == "invalid") return invalid(deleted.error().message, "invalid_operation");
    return store_error(deleted.error());
  }
  if (!*deleted) return error_response(404, "inbox not found", "inbox_not_found");
  publish(context, inbox->id, "truncate", json(nullptr));
  return ok_text();
}

// Applies an inbox's retention limits and publishes what was removed (Mailpit's "prune" event carries
// no IDs; mailjar's carries them, so that a UI can drop exactly those rows).
void prune_inbox(const ApiContext& context, const store::Inbox& inbox, store::Store& store) {
  auto removed = store.prune(inbox, core::now_unix_ms());
  if (!removed || removed->empty()) return;
  count_deleted(context, static_cast<int64_t>(removed->size()));
  publish(context, inbox.id, "prune", json{{"IDs", *removed}});
  publish_stats(context, inbox.id, store);
}

}  // namespace

// ---- the wait API ----------------------------------------------------------------------------------

// Live waiters, counted against max_waiters.
struct Api::Waits {
  std::atomic<std::size_t> live{0};
};

namespace {

// One held GET /api/v1/wait. Finishes exactly once: with the first matching message, at its deadline,
// or on a storage error. Holds the reply callback until then (which keeps the connection open).
struct Waiter : std::enable_shared_from_this<Waiter> {
  const ApiContext* context = nullptr;
  std::atomic<std::size_t>* live = nullptr;
  int64_t inbox_id = 0;
  store::CompiledQuery query;
  int64_t after_seq = 0;
  int64_t min_received_ms = 0;
  std::mutex mu;
  bool done = false;                               // guarded by mu
  std::function<void(Response)> reply;             // guarded by mu
  events::Hub::SubscriberId subscription = 0;      // guarded by mu
  events::Deadlines::TimerId timer = 0;            // guarded by mu
  std::atomic<bool> check_queued{false};           // coalesces checks while one is pending

  void finish(Response response) {
    std::function<void(Response)> r;
    events::Hub::SubscriberId sub = 0;
    events::Deadlines::TimerId t = 0;
    {
      std::lock_guard<std::mutex> lock(mu);
      if (done) return;
      done = true;
      r = std::move(reply);
      sub = subscription;
      t = timer;
    }
    if (sub) context->hub->unsubscribe(sub);
    if (t) context->deadlines->cancel(t);
    live->fetch_sub(1);
    r(std::move(response));
  }

  // Looks for a match on a worker (at most one check queued at a time).
  void schedule_check() {
    if (check_queued.exchange(true)) return;
    context->post_work([self = shared_from_this()] {
      self->check_queued = false;
      {
        std::lock_guard<std::mutex> lock(self->mu);
        if (self->done) return;
      }
      auto st = store::thread_store(self->context->store_options);
      if (!st.ok()) {
        self->finish(error_response(503, "storage unavailable: " + st.error().message, "store_unavailable"));
        return;
      }
      auto found = st.value()->first_match(self->inbox_id, self->query, self->after_seq, self->min_received_ms);
      if (!found) {
        self->finish(store_error(found.error()));
        return;
      }
      if (found.value()) self->finish(json_response(200, message_json(*found.value(), found.value()->auth_user)));
    });
  }
};

// "30s", "500ms", "2m", or plain seconds; nullopt when malformed.
std::optional<int64_t> parse_duration_ms(std::string_view text) {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0 || digits > 9) return std::nullopt;
  const int64_t n = std::stoll(std::string(text.substr(0, digits)));
  const std::string_view unit = text.substr(digits);
  if (unit.empty() || unit == "s") return n * 1000;
  if (unit == "ms") return n;
  if (unit == "m") return n * 60000;
  return std::nullopt;
}

// "2026-11-23T10:00:00Z" / "...+01:00" / with fractions, or Unix milliseconds; nullopt when malformed.
std::optional<int64_t> parse_time_ms(const std::string& text) {
  if (auto ms = parse_non_negative(text)) return *ms;
  int y, mo, d, h, mi;
  double sec;
  char rest[16] = {0};
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%lf%15s", &y, &mo, &d, &h, &mi, &sec, rest) < 6) {
    return std::nullopt;
  }
  using namespace std::chrono;
  const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || sec < 0 || sec >= 61) return std::nullopt;
  int64_t ms = duration_cast<milliseconds>(sys_days{ymd}.time_since_epoch()).count() +
               (static_cast<int64_t>(h) * 3600 + mi * 60) * 1000 + static_cast<int64_t>(sec * 1000);
  const std::string zone(rest);
  if (zone.empty() || zone == "Z" || zone == "z") return ms;
  int zh = 0, zm = 0;
  if ((zone[0] == '+' || zone[0] == '-') && std::sscanf(zone.c_str() + 1, "%2d:%2d", &zh, &zm) == 2) {
    const int64_t offset = (static_cast<int64_t>(zh) * 60 + zm) * 60000;
    return zone[0] == '+' ? ms - offset : ms + offset;
  }
  return std::nullopt;
}

// GET /api/v1/wait?query=&timeout=30s&since=: the first message matching `query` stored after the
// request arrived (or, with since=, received at/after that time or stored after that message ID); 408
// when none arrives in time. An empty query matches any message.
Response wait(const ApiContext& context, std::atomic<std::size_t>& live, const Request& request,
              const Target& target, const store::Inbox& inbox, store::Store& store) {
  if (!context.hub || !context.deadlines || !context.post_work) {
    return error_response(503, "waiting is not available", "unavailable");
  }
  Response error;
  int64_t timeout_ms = 30000;
  if (auto t = target.param("timeout"); t && !t->empty()) {
    auto ms = parse_duration_ms(*t);
    if (!ms || *ms <= 0 || *ms > context.max_wait_ms) {
      return invalid("timeout must be a duration like 30s or 500ms, at most " +
                     std::to_string(context.max_wait_ms / 1000) + "s");
    }
    timeout_ms = *ms;
  }
  auto query = compile(target.param("query").value_or(""), target, error);
  if (!query) return error;

  auto waiter = std::make_shared<Waiter>();
  waiter->context = &context;
  waiter->live = &live;
  waiter->inbox_id = inbox.id;
  waiter->query = std::move(*query);
  if (auto since = target.param("since"); since && !since->empty()) {
    auto seq = store.seq_of(inbox.id, *since);
    if (!seq) return store_error(seq.error());
    if (seq.value()) {
      waiter->after_seq = *seq.value();
    } else if (auto ms = parse_time_ms(*since)) {
      waiter->min_received_ms = *ms;
    } else {
      return invalid("since must be a message ID in this inbox, an RFC 3339 time or Unix milliseconds");
    }
  } else {
    auto max = store.max_seq();
    if (!max) return store_error(max.error());
    waiter->after_seq = *max;
  }
  // Already there?
  auto found = store.first_match(inbox.id, waiter->query, waiter->after_seq, waiter->min_received_ms);
  if (!found) return store_error(found.error());
  if (found.value()) return json_response(200, message_json(*found.value(), found.value()->auth_user));
  if (live.fetch_add(1) >= context.max_waiters) {
    live.fetch_sub(1);
    return error_response(503, "too many waiting requests", "overloaded");
  }

  Response response;
  response.deferred = [waiter, timeout_ms, cancel = request.cancel](std::function<void(Response)> reply) {
    const ApiContext& ctx = *waiter->context;
    {
      // Held while registering, so that a finish() on another thread sees the subscription and timer.
      std::lock_guard<std::mutex> lock(waiter->mu);
      waiter->reply = std::move(reply);
      std::weak_ptr<Waiter> weak = waiter;
      const int64_t after = waiter->after_seq;
      waiter->subscription = ctx.hub->subscribe(waiter->inbox_id, [weak, after](const events::Event& e) {
        if (e.type != "new" || e.seq <= after) return;
        if (auto w = weak.lock()) w->schedule_check();
      });
      waiter->timer = ctx.deadlines->at(events::Deadlines::now_ms() + timeout_ms, [waiter] {
        waiter->finish(error_response(408, "no matching message arrived before the timeout", "timeout"));
      });
    }
    // A message stored between the first look and the subscription raised no event for this waiter.
    waiter->schedule_check();
    // A client that hangs up stops its wait now, not at the timeout (it no longer costs a check per message).
    if (cancel) {
      std::weak_ptr<Waiter> gone = waiter;
      cancel->on_cancel([gone] {
        if (auto w = gone.lock()) w->finish(error_response(499, "the client closed the connection", "cancelled"));
      });
    }
  };
  return response;
}

// ---- the web UI (web/, embedded) ----------------------------------------------------------------------

// The UI page's policy: only this origin's own scripts, styles and connections (the API and its
// WebSocket); captured mail is shown only in frames of this origin (/view/, itself sandboxed).
constexpr std::string_view kUiPagePolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; frame-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'";

// One embedded file with its validators: 304 when If-None-Match names its ETag. "no-cache": the names
// are not content-hashed, so browsers revalidate each use (a 304 costs no body).
Response static_file_response(const Request& request, const StaticFile& file) {
  Response response;
  response.content_type = std::string(file.content_type);
  response.headers.emplace_back("ETag", std::string(file.etag));
  response.headers.emplace_back("Cache-Control", "no-cache");
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");
  for (const auto& [name, value] : request.headers) {
    if (name == "if-none-match" && etag_matches(value, file.etag)) {
      response.status = 304;
      return response;
    }
  }
  response.body = std::string(file.body);
  return response;
}

Response ui_page(const Request& request) {
  const std::optional<StaticFile> page = find_static_file("index.html");
  if (!page) return error_response(404, "the web UI is not built into this binary", "not_found");
  Response response = static_file_response(request, *page);
  response.headers.emplace_back("Content-Security-Policy", std::string(kUiPagePolicy));
  response.headers.emplace_back("X-Frame-Options", "DENY");
  response.headers.emplace_back("Referrer-Policy", "no-referrer");
  return response;
}

Response ui_asset(const Request& request, const RouteMatch& match) {
  const std::string& name = match.params.at("Asset");
  // index.html is the page: served only at its routes, with its policy.
  const std::optional<StaticFile> file = name == "index.html" ? std::nullopt : find_static_file(name);
  if (!file) return error_response(404, "no such web UI file: " + name, "not_found");
  return static_file_response(request, *file);
}


Response dispatch(const ApiContext& context, std::atomic<std::size_t>& live, const Request& request,
                  store::Store& store) {
  auto target = parse_target(request.target);
  if (!target) return error_response(400, target.error().message, "bad_request");

  const RouteMatch match = match_route(request.method, target->raw_path);
  const bool probe = match.kind == RouteMatch::Kind::kFound &&
                     (match.route->id == RouteId::kLivez || match.route->id == RouteId::kReadyz);
  if (auto refused = guard_request(request, context.origin_policy, probe)) return *refused;
  switch (match.kind) {
    case RouteMatch::Kind::kBadRequest:
      return error_response(400, "invalid percent-encoding in the path", "bad_request");
    case RouteMatch::Kind::kNotFound:
      return error_response(404, "no such route: " + request.method + " " + target->raw_path, "not_found");
    case RouteMatch::Kind::kMethodNotAllowed: {
      Response response = error_response(
          405, "method " + request.method + " not allowed on " + target->raw_path, "method_not_allowed");
      response.headers.emplace_back("Allow", join_allowed(match.allowed));
      return response;
    }
    case RouteMatch::Kind::kFound:
      break;
  }

  switch (match.route->id) {
    case RouteId::kLivez:
      return livez();
    case RouteId::kReadyz:
      return readyz(context, store);
    case RouteId::kOpenApi: {
      static const std::string document = openapi_document(context.version);
      return text_response(200, document, "application/json");
    }
    default:
      break;
  }

  std::optional<Response> failure;
  const std::optional<store::TokenScope> scope = scope_of(context, request, store, failure);
  if (failure) return *failure;
  if (!scope) return unauthorized();
  switch (match.route->id) {
    case RouteId::kListProjects:
      return list_projects(*scope, store);
    case RouteId::kCreateProject:
      return create_project(context, request, *scope, store);
    case RouteId::kListInboxes:
      return list_inboxes(context, *scope, store);
    case RouteId::kCreateInbox:
      return create_inbox(context, request, *scope, store);
    case RouteId::kGetInbox: {
      Response error;
      auto inbox = scoped_inbox(match.params.at("Slug"), *scope, store, error);
      if (!inbox) return error;
      return json_response(200, inbox_json(context, *inbox, store));
    }
    case RouteId::kUpdateInbox:
      return update_inbox(context, request, match, *scope, store);
    case RouteId::kDeleteInbox:
      return delete_inbox(context, match, *scope, store);
    case RouteId::kUiInboxPage: {
      Response error;
      if (!scoped_inbox(match.params.at("Slug"), *scope, store, error)) return error;
      return ui_page(request);
    }
    case RouteId::kUiAsset:
      return ui_asset(request, match);
    default:
      break;
  }

  Response error;
  const std::optional<store::Inbox> inbox = resolve_inbox(match, *scope, store, error);
  if (!inbox) return error;
  switch (match.route->id) {
    case RouteId::kInfo:
      return info(context, live.load(), *scope, *inbox, store);
    case RouteId::kWebUi:
      return webui(context);
    case RouteId::kListMessages:
      return list_messages(*target, *inbox, store);
    case RouteId::kSetReadStatus:
      return set_read_status(context, request, *target, *inbox, store);
    case RouteId::kDeleteMessages:
      return delete_messages(context, request, *inbox, store);
    case RouteId::kSearch:
      return search(*target, *inbox, store);
    case RouteId::kDeleteSearch:
      return delete_search(context, *target, *inbox, store);
    case RouteId::kWait:
      return wait(context, live, request, *target, *inbox, store);
    case RouteId::kMessage:
      return get_message(context, match, *inbox, store);
    case RouteId::kMessageHeaders:
      return message_headers(context, match, *inbox, store);
    case RouteId::kMessageAnalysis:
      return message_analysis(context, match, *inbox, store, /*run_now=*/false);
    case RouteId::kAnalyzeMessage:
      return message_analysis(context, match, *inbox, store, /*run_now=*/true);
    case RouteId::kMessageRaw:
      return message_raw(match, *target, *inbox, store);
    case RouteId::kMessagePart:
      return message_part(context, match, *inbox, store);
    case RouteId::kView:
      return view(context, match, *target, *inbox, store);
    case RouteId::kGetTags:
      return get_tags(*inbox, store);
    case RouteId::kSetTags:
      return set_tags(context, request, *inbox, store);
    case RouteId::kRenameTag:
      return rename_or_delete_tag(context, request, match, *inbox, store, true);
    case RouteId::kDeleteTag:
      return rename_or_delete_tag(context, request, match, *inbox, store, false);
    case RouteId::kSend:
      return send(context, request, *inbox);
    case RouteId::kEvents:
      return error_response(400, "this is a WebSocket endpoint: send Upgrade: websocket", "websocket_required");
    case RouteId::kMailHogMessages:
      return mailhog_messages(*target, *inbox, store, context.mailhog);
    case RouteId::kMailHogSearch:
      return mailhog_search(*target, *inbox, store, context.mailhog);
    case RouteId::kUiPage:
      return ui_page(request);
    case RouteId::kLivez:
    case RouteId::kReadyz:
    case RouteId::kOpenApi:
    case RouteId::kListProjects:
    case RouteId::kCreateProject:
    case RouteId::kListInboxes:
    case RouteId::kCreateInbox:
    case RouteId::kGetInbox:
    case RouteId::kUpdateInbox:
    case RouteId::kDeleteInbox:
    case RouteId::kUiInboxPage:
    case RouteId::kUiAsset:
      break;
  }
  return error_response(500, "route has no handler", "internal");
}

}  // namespace

Api::Api(ApiContext context) : context_(std::move(context)), waits_(std::make_unique<Waits>()) {}

Api::~Api() = default;

std::size_t Api::body_limit(std::string_view method, std::string_view target) const {
  const std::string_view path = target.substr(0, target.find('?'));
  const RouteMatch match = match_route(method, path);
  if (match.kind == RouteMatch::Kind::kFound && match.route->id == RouteId::kSend) return context_.send_body_limit;
  return context_.json_limits.max_bytes;
}

std::optional<store::TokenScope> Api::authenticate(const Request& request, store::Store& store) const {
  std::optional<Response> failure;
  auto scope = scope_of(context_, request, store, failure);
  if (failure) return std::nullopt;
  return scope;
}

void Api::prune_all() const {
  auto st = store::thread_store(context_.store_options);
  if (st.ok()) {
    auto inboxes = st.value()->list_inboxes();
    if (inboxes) {
      for (const store::Inbox& inbox : *inboxes) prune_inbox(context_, inbox, *st.value());
    }
  }
}

std::string Api::summary_json(const store::MessageRow& row) {
  return message_json(row, row.auth_user).dump(-1, ' ', false, json::error_handler_t::replace);
}

Response Api::handle(const Request& request, store::Store& store) const {
  try {
    return dispatch(context_, waits_->live, request, store);
  } catch (const std::exception& e) {
    return error_response(500, std::string("internal error: ") + e.what(), "internal");
  } catch (...) {
    return error_response(500, "internal error", "internal");
  }
}

}  // namespace mailjar::http

