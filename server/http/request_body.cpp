#include "http/request_body.h"

#include "core/ascii.h"
#include "http/json.h"

namespace mailjar::http {

namespace {

using nlohmann::json;

std::string field_list(FieldNames fields) {
  std::string out;
  for (std::string_view f : fields) {
    if (!out.empty()) out += ", ";
    out += f;
  }
  return out;
}

Response invalid_json(const std::string& message) { return error_response(400, message, "invalid_json"); }

std::string type_name(const json& v) { return v.type_name(); }

}  // namespace

bool json_depth_within(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        if (++depth > max_depth) return false;
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;
        break;
      default:
        break;
    }
  }
  return true;
}

bool canonical_object(json& object, FieldNames fields, std::string_view where, Response& error) {
  const std::string name = where.empty() ? std::string("the request body") : std::string(where);
  if (!object.is_object()) {
    error = invalid_json(name + " must be a JSON object with the fields " + field_list(fields) + ", not " +
                         type_name(object));
    return false;
  }
  json out = json::object();
  for (auto& [key, value] : object.items()) {
    std::string_view canonical;
    for (std::string_view f : fields) {
      if (core::ascii_iequals(key, f)) {
        canonical = f;
        break;
      }
    }
    if (canonical.empty()) {
      error =
          invalid_json("unknown field '" + key + "' in " + name + " (accepted: " + field_list(fields) + ")");
      return false;
    }
    const std::string canonical_key(canonical);
    if (out.contains(canonical_key)) {
      error = invalid_json("the field " + canonical_key + " is given twice in " + name);
      return false;
    }
    out[canonical_key] = std::move(value);
  }
  object = std::move(out);
  return true;
}

std::optional<json> read_json_object(std::string_view body, FieldNames fields, const JsonLimits& limits,
                                     Response& error, bool empty_ok) {
  if (body.size() > limits.max_bytes) {
    error =
        error_response(413, "the request body is larger than " + std::to_string(limits.max_bytes) + " bytes",
                       "payload_too_large");
    return std::nullopt;
  }
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    if (empty_ok) return json::object();
    error = invalid_json("a JSON object with the fields " + field_list(fields) + " is required");
    return std::nullopt;
  }
  if (!json_depth_within(body, limits.max_depth)) {
    error = invalid_json("the request body nests arrays or objects deeper than " +
                         std::to_string(limits.max_depth) + " levels");
    return std::nullopt;
  }
  json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    error = invalid_json("the request body is not valid JSON");
    return std::nullopt;
  }
  if (!canonical_object(parsed, fields, "", error)) return std::nullopt;
  return parsed;
}

bool optional_strings(const json& object, std::string_view key, std::optional<std::vector<std::string>>& out,
                      Response& error) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return true;
  const std::string message = std::string(key) + " must be an array of strings";
  if (!it->is_array()) {
    error = invalid_json(message + ", not " + type_name(*it));
    return false;
  }
  std::vector<std::string> values;
  values.reserve(it->size());
  for (const json& item : *it) {
    if (!item.is_string()) {
      error = invalid_json(message + " (found " + type_name(item) + ")");
      return false;
    }
    values.push_back(item.get<std::string>());
  }
  out = std::move(values);
  return true;
}

bool optional_string(const json& object, std::string_view key, std::optional<std::string>& out,
                     Response& error) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return true;
  if (!it->is_string()) {
    error = invalid_json(std::string(key) + " must be a string, not " + type_name(*it));
    return false;
  }
  out = it->get<std::string>();
  return true;
}

bool optional_bool(const json& object, std::string_view key, std::optional<bool>& out, Response& error) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return true;
  if (!it->is_boolean()) {
    error = invalid_json(std::string(key) + " must be true or false, not " + type_name(*it));
    return false;
  }
  out = it->get<bool>();
  return true;
}

}  // namespace mailjar::http
