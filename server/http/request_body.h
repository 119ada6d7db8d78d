// NAME
//   http request bodies - the one reader of JSON request bodies: bounded in bytes and in nesting depth,
//   an object whose keys are matched to the fields the endpoint accepts, as Mailpit's Go decoder matches
//   them (encoding/json: ASCII case-insensitively, so "ids" is "IDs").
// STANDARDS
//   RFC 8259 (JSON).
// SECURITY
//   The body is attacker-controlled. Its nesting depth is checked before it is parsed (a body of 32 MiB
//   of '[' costs one linear scan, not a parse), and it is refused when it is not exactly the shape an
//   endpoint takes: not an object, an unknown key, a key given twice, a field of the wrong type. A
//   malformed body never reads as "no fields" (for DELETE /api/v1/messages that would mean "all").
// CONTRACT
//   Pure, thread-safe, never throws. Every failure is a 400 (413 when over the byte limit) whose message
//   names what is wrong and what is accepted.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/message.h"

namespace mailjar::http {

// The bounds of a JSON request body.
struct JsonLimits {
  std::size_t max_bytes = 1 << 20;  // --http-max-json: a longer body gets 413
  int max_depth = 32;               // --http-max-json-depth: arrays and objects nested deeper get 400
};

// True when no array or object in `text` (JSON or not) is nested deeper than `max_depth` (brackets
// inside strings do not count). Linear, no allocation.
bool json_depth_within(std::string_view text, int max_depth);

// The fields an object accepts, in their canonical spelling ("IDs", "Read").
using FieldNames = std::initializer_list<std::string_view>;

// The body as a JSON object with canonical keys. An empty body (only whitespace) is an empty object
// when `empty_ok`, else a 400 naming the fields. nullopt and `error` otherwise.
std::optional<nlohmann::json> read_json_object(std::string_view body, FieldNames fields,
                                               const JsonLimits& limits, Response& error,
                                               bool empty_ok = true);

// Renames the keys of `object` (a nested object of a body, e.g. an address) to their canonical
// spelling; false and `error` when it is not an object or has an unknown or repeated key. `where` names
// it in the message ("From", "Attachments[2]").
bool canonical_object(nlohmann::json& object, FieldNames fields, std::string_view where, Response& error);

// Read the optional field `key` of a canonical object into `out`, which stays unset when the field is
// absent or null (as Go leaves a field it does not find); false and `error` when it has another type.
bool optional_strings(const nlohmann::json& object, std::string_view key,
                      std::optional<std::vector<std::string>>& out, Response& error);
bool optional_string(const nlohmann::json& object, std::string_view key, std::optional<std::string>& out,
                     Response& error);
bool optional_bool(const nlohmann::json& object, std::string_view key, std::optional<bool>& out,
                   Response& error);

}  // namespace mailjar::http
