// NAME
//   http mailhog - MailHog's API v2 (GET /api/v2/messages, GET /api/v2/search) over mailjar's store.
// STANDARDS
//   RFC 5322 section 2.2 (header fields, unfolding: CRLF followed by WSP is removed, the WSP kept),
//   RFC 5321 (envelope paths), RFC 3339 (Created), RFC 8259 (JSON).
// SECURITY
//   Raw messages are attacker-controlled bytes: every JSON body is dumped with error_handler_t::replace
//   (invalid UTF-8 becomes U+FFFD). Paging and query inputs are parsed strictly and bounded.
// CONTRACT
//   kind=from builds a from: term and kind=to an addressed: term (To, Cc and Bcc) of the search language;
//   kind=containing makes each whitespace-separated word of the query a plain text term. The terms are
//   built directly, never parsed, so a query such as "foo:bar" is text, not an operator.
#include "http/mailhog.h"
#include "core/ascii.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <exception>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/handler_util.h"
#include "http/json.h"
#include "store/query.h"

namespace mailjar::http {

namespace {

using nlohmann::json;

constexpr std::size_t kMaxQueryBytes = 4096;    // as the search language's own limit
constexpr std::size_t kMaxQueryWords = 64;      // kind=containing: words (terms) per query
constexpr std::size_t kMaxHeaderFields = 1000;  // header fields listed per message in Content.Headers

Response store_error(const core::Error& error) {
  return error_response(500, "storage error: " + error.message, "internal");
}

Response invalid(std::string_view message, std::string_view code = "invalid_parameter") {
  return error_response(400, message, code);
}





// MailHog's Path: an address split at its last '@' (no '@': all of it is the mailbox).
json path_json(std::string_view address) {
  const auto at = address.rfind('@');
  const std::string_view mailbox = at == std::string_view::npos ? address : address.substr(0, at);
  const std::string_view domain = at == std::string_view::npos ? std::string_view{} : address.substr(at + 1);
  return json{{"Relays", nullptr}, {"Mailbox", mailbox}, {"Domain", domain}, {"Params", ""}};
}

using core::is_wsp;

std::string_view strip_cr(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

// The header block (up to, not including, the first empty line) and the body (after that line). Lines may
// end in CRLF or a bare LF. Without an empty line everything is header and the body is empty.
std::pair<std::string_view, std::string_view> split_message(std::string_view raw) {
  std::size_t pos = 0;
  while (pos < raw.size()) {
    const std::size_t eol = raw.find('\n', pos);
    const std::string_view line =
        strip_cr(raw.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos));
    if (line.empty() && eol != std::string_view::npos) return {raw.substr(0, pos), raw.substr(eol + 1)};
    if (eol == std::string_view::npos) break;
    pos = eol + 1;
  }
  return {raw, std::string_view{}};
}

// {Name: [values]}: names as written, values unfolded (RFC 5322 2.2.3) and not decoded, in order. A line
// that is neither a field nor a continuation is skipped; at most kMaxHeaderFields fields.
json headers_json(std::string_view block) {
  std::vector<std::pair<std::string, std::string>> fields;
  bool continuing = false;  // the previous line was part of a field that is kept
  while (!block.empty()) {
    const std::size_t eol = block.find('\n');
    const std::string_view line = strip_cr(block.substr(0, eol));
    block = eol == std::string_view::npos ? std::string_view{} : block.substr(eol + 1);
    if (!line.empty() && is_wsp(line.front())) {
      if (continuing) fields.back().second.append(line);
      continue;
    }
    continuing = false;
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0 || fields.size() >= kMaxHeaderFields) continue;
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && is_wsp(value.front())) value.remove_prefix(1);
    std::string_view name = line.substr(0, colon);
    while (!name.empty() && is_wsp(name.back())) name.remove_suffix(1);
    fields.emplace_back(std::string(name), std::string(value));
    continuing = true;
  }
  json out = json::object();
  for (auto& [name, value] : fields) {
    while (!value.empty() && is_wsp(value.back())) value.pop_back();
    json& values = out[name];
    if (values.is_null()) values = json::array();
    values.push_back(std::move(value));
  }
  return out;
}

// `text` cut to `limits.max_body` bytes, with the documented marker when cut.
std::string bounded(std::string_view text, std::size_t whole_size, const std::string& id,
                    const MailHogLimits& limits) {
  if (text.size() <= limits.max_body) return std::string(text);
  std::string out(text.substr(0, limits.max_body));
  out += "\r\n[mailjar: truncated at " + std::to_string(limits.max_body) + " of " + std::to_string(whole_size) +
         " bytes; GET /api/v1/message/" + id + "/raw for the whole message]";
  return out;
}

// One item, dumped (JSON text).
std::string item_json(const store::MessageRow& row, const std::string& raw, const core::Envelope& envelope,
                      const MailHogLimits& limits) {
  auto [header_block, body] = split_message(raw);
  if (header_block.size() > limits.max_body) header_block = header_block.substr(0, limits.max_body);
  json to = json::array();
  json raw_to = json::array();
  for (const core::Recipient& r : envelope.rcpts) {
    to.push_back(path_json(r.address));
    raw_to.push_back(r.address);
  }
  const json item{
      {"ID", row.id},
      {"From", path_json(envelope.mail_from)},
      {"To", std::move(to)},
      {"Content",
       {{"Headers", headers_json(header_block)},
        {"Body", bounded(body, raw.size(), row.id, limits)},
        {"Size", raw.size()},
        {"MIME", nullptr}}},
      {"Created", rfc3339_ms(row.received_ms)},
      {"MIME", nullptr},
      {"Raw",
       {{"From", envelope.mail_from},
        {"To", std::move(raw_to)},
        {"Data", bounded(raw, raw.size(), row.id, limits)},
        {"Helo", envelope.helo}}},
  };
  return item.dump(-1, ' ', false, json::error_handler_t::replace);
}

// {total, count, start, items}: one item per row whose raw bytes are still there (a message deleted
// between the list and this read is left out), until the JSON reaches limits.max_reply. Items are dumped
// one at a time into the reply, so that no message is held twice.
Response page_response(int64_t total, int64_t start, const std::vector<store::MessageRow>& rows,
                       const store::Inbox& inbox, store::Store& store, const MailHogLimits& limits) {
  std::string items = "[";
  std::size_t count = 0;
  for (const store::MessageRow& row : rows) {
    auto raw = store.get_raw(inbox.id, row.id);
    if (!raw) return store_error(raw.error());
    if (!raw.value()) continue;
    auto envelope = store.get_envelope(inbox.id, row.id);
    if (!envelope) return store_error(envelope.error());
    const core::Envelope empty;
    std::string item = item_json(row, *raw.value(), envelope.value() ? *envelope.value() : empty, limits);
    raw.value().reset();
    if (count > 0 && items.size() + item.size() + 1 > limits.max_reply) break;
    if (count > 0) items += ',';
    items += item;
    ++count;
  }
  items += ']';
  Response response;
  response.status = 200;
  response.content_type = "application/json";
  response.body = R"({"total":)" + std::to_string(total) + R"(,"count":)" + std::to_string(count) +
                  R"(,"start":)" + std::to_string(start) + R"(,"items":)";
  response.body += items;
  response.body += '}';
  return response;
}

// The terms of a MailHog search; nullopt and `error` for a bad kind or query.
std::optional<std::vector<store::QueryTerm>> search_terms(const Target& target, Response& error) {
  const std::optional<std::string> kind = target.param("kind");
  if (!kind || (*kind != "from" && *kind != "to" && *kind != "containing")) {
    error = invalid("kind must be from, to or containing");
    return std::nullopt;
  }
  const std::string text = target.param("query").value_or("");
  const std::size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) {
    error = invalid("query is required", "invalid_query");
    return std::nullopt;
  }
  if (text.size() > kMaxQueryBytes) {
    error = invalid("query is longer than " + std::to_string(kMaxQueryBytes) + " bytes", "invalid_query");
    return std::nullopt;
  }
  std::vector<store::QueryTerm> terms;
  if (*kind != "containing") {
    const std::size_t last = text.find_last_not_of(" \t\r\n");
    store::QueryTerm term;
    term.kind = store::QueryTerm::Kind::kField;
    term.field = *kind == "from" ? "from" : "addressed";
    term.value = text.substr(first, last - first + 1);
    terms.push_back(std::move(term));
    return terms;
  }
  std::string_view rest = text;
  while (!rest.empty()) {
    const std::size_t begin = rest.find_first_not_of(" \t\r\n");
    if (begin == std::string_view::npos) break;
    rest.remove_prefix(begin);
    const std::size_t end = std::min(rest.find_first_of(" \t\r\n"), rest.size());
    if (terms.size() >= kMaxQueryWords) {
      error = invalid("query has more than " + std::to_string(kMaxQueryWords) + " words", "invalid_query");
      return std::nullopt;
    }
    store::QueryTerm term;
    term.kind = store::QueryTerm::Kind::kText;
    term.value = std::string(rest.substr(0, end));
    terms.push_back(std::move(term));
    rest.remove_prefix(end);
  }
  return terms;
}

}  // namespace

Response mailhog_messages(const Target& target, const store::Inbox& inbox, store::Store& store,
                          const MailHogLimits& limits) {
  try {
    Response error;
    auto paging = parse_paging(target, error);
    if (!paging) return error;
    auto page = store.list_messages(inbox.id, paging->start, paging->limit);
    if (!page) return store_error(page.error());
    return page_response(page->total, paging->start, page->messages, inbox, store, limits);
  } catch (const std::exception& e) {
    return error_response(500, std::string("internal error: ") + e.what(), "internal");
  }
}

Response mailhog_search(const Target& target, const store::Inbox& inbox, store::Store& store,
                        const MailHogLimits& limits) {
  try {
    Response error;
    auto paging = parse_paging(target, error);
    if (!paging) return error;
    auto terms = search_terms(target, error);
    if (!terms) return error;
    auto page = store.search(inbox.id, store::compile_query(*terms), paging->start, paging->limit);
    if (!page) return store_error(page.error());
    return page_response(page->matched, paging->start, page->messages, inbox, store, limits);
  } catch (const std::exception& e) {
    return error_response(500, std::string("internal error: ") + e.what(), "internal");
  }
}

}  // namespace mailjar::http
