// NAME
//   http::Api - the REST API handlers (Mailpit API v1 shapes for the concepts mailjar shares with it).
// STANDARDS
//   RFC 9110 (status codes, Allow), RFC 3339 (timestamps), RFC 8259 (JSON).
// SECURITY
//   Message strings are attacker-controlled and may be invalid UTF-8: every JSON body is dumped with
//   error_handler_t::replace. Numeric query parameters are parsed strictly and bounded.
#include "http/api.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <exception>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <utility>

#include "http/json.h"
#include "http/router.h"

namespace mailjar::http {

namespace {

using nlohmann::json;

constexpr int64_t kDefaultLimit = 50;
constexpr int64_t kMaxLimit = 5000;
constexpr std::string_view kRawContentType = "text/plain; charset=utf-8";

Response json_response(int status, const json& body) {
  Response response;
  response.status = status;
  response.content_type = "application/json";
  response.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return response;
}

Response store_error(const core::Error& error) {
  return error_response(500, "storage error: " + error.message, "internal");
}

// "2026-11-23T10:00:00.123Z" for a Unix time in milliseconds.
std::string rfc3339_ms(int64_t unix_ms) {
  using namespace std::chrono;
  const sys_time<milliseconds> tp{milliseconds{unix_ms}};
  const sys_days day = floor<days>(tp);
  const year_month_day ymd{day};
  const hh_mm_ss hms{tp - day};
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()), static_cast<int>(hms.subseconds().count()));
  return buf;
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

// Parses a non-negative decimal integer query value; nullopt if it is anything else.
std::optional<int64_t> parse_non_negative(std::string_view text) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc{} || ptr != end || value < 0) return std::nullopt;
  return value;
}

// The inbox a request addresses: the one named by the "/inboxes/{slug}" prefix, or the default inbox.
// On failure `error` holds the response to send.
std::optional<store::Inbox> resolve_inbox(const RouteMatch& match, store::Store& store, Response& error) {
  if (!match.inbox_slug) {
    auto inbox = store.default_inbox();
    if (!inbox) {
      error = store_error(inbox.error());
      return std::nullopt;
    }
    return std::move(inbox).value();
  }
  auto found = store.find_inbox_by_slug(*match.inbox_slug);
  if (!found) {
    error = store_error(found.error());
    return std::nullopt;
  }
  if (!found.value()) {
    error = error_response(404, "inbox not found", "inbox_not_found");
    return std::nullopt;
  }
  return std::move(*found.value());
}

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
  int64_t start = 0;
  int64_t limit = kDefaultLimit;
  if (auto text = target.param("start"); text && !text->empty()) {
    auto value = parse_non_negative(*text);
    if (!value) return error_response(400, "start must be a non-negative integer", "invalid_parameter");
    start = *value;
  }
  if (auto text = target.param("limit"); text && !text->empty()) {
    auto value = parse_non_negative(*text);
    if (!value || *value == 0) {
      return error_response(400, "limit must be a positive integer", "invalid_parameter");
    }
    limit = std::min(*value, kMaxLimit);
  }

  auto page = store.list_messages(inbox.id, start, limit);
  if (!page) return store_error(page.error());

  json messages = json::array();
  for (const store::MessageRow& row : page->messages) {
    messages.push_back(message_json(row, row.auth_user));
  }
  const json body = {
      {"total", page->total},          {"unread", page->unread},          {"count", page->messages.size()},
      {"messages_count", page->total}, {"messages_unread", page->unread}, {"start", start},
      {"tags", json::array()},         {"messages", std::move(messages)},
  };
  return json_response(200, body);
}

// GET /api/v1/message/{ID}/raw; ID "latest" is the newest message of the inbox (as in Mailpit).
Response message_raw(const RouteMatch& match, const Target& target, const store::Inbox& inbox,
                     store::Store& store) {
  std::string id = match.params.at("ID");
  if (id == "latest") {
    auto page = store.list_messages(inbox.id, 0, 1);
    if (!page) return store_error(page.error());
    if (page->messages.empty()) return error_response(404, "message not found", "message_not_found");
    id = page->messages.front().id;
  }
  auto raw = store.get_raw(inbox.id, id);
  if (!raw) return store_error(raw.error());
  if (!raw.value()) return error_response(404, "message not found", "message_not_found");

  Response response;
  response.status = 200;
  response.content_type = std::string(kRawContentType);
  response.body = std::move(*raw.value());
  if (target.param("dl") == "1") {
    // IDs are ULIDs; anything else never reached this point (get_raw found no such message).
    response.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + id + ".eml\"");
  }
  return response;
}

Response dispatch(const ApiContext& context, const Request& request, store::Store& store) {
  auto target = parse_target(request.target);
  if (!target) return error_response(400, target.error().message, "bad_request");

  const RouteMatch match = match_route(request.method, target->raw_path);
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
    case RouteId::kListMessages:
    case RouteId::kMessageRaw:
      break;
  }

  Response error;
  const std::optional<store::Inbox> inbox = resolve_inbox(match, store, error);
  if (!inbox) return error;
  switch (match.route->id) {
    case RouteId::kListMessages:
      return list_messages(*target, *inbox, store);
    case RouteId::kMessageRaw:
      return message_raw(match, *target, *inbox, store);
    case RouteId::kLivez:
    case RouteId::kReadyz:
      break;
  }
  return error_response(500, "route has no handler", "internal");
}

}  // namespace

Api::Api(ApiContext context) : context_(std::move(context)) {}

Response Api::handle(const Request& request, store::Store& store) const {
  try {
    return dispatch(context_, request, store);
  } catch (const std::exception& e) {
    return error_response(500, std::string("internal error: ") + e.what(), "internal");
  } catch (...) {
    return error_response(500, "internal error", "internal");
  }
}

}  // namespace mailjar::http
