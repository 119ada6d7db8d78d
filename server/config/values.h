// NAME
//   config/values - parsing and describing the values of command-line flags and MAILJAR_* variables.
// CONTRACT
//   Private to config/. Every parser is pure, accepts exactly the documented grammar, never throws and
//   returns nullopt on anything else (including overflow). describe_expected() is the text that follows
//   "expected " in an error message, so the accepted form is stated in one place per value type.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/options.h"

namespace mailjar::config::internal {

enum class ValueType {
  kEndpoint,  // HOST:PORT, [IPV6]:PORT, :PORT or PORT
  kText,      // a non-empty string without control characters (paths, names)
  kHostname,  // a DNS host name (it is sent in SMTP replies, so it is strictly checked)
  kBool,      // true/false (also 1/0, yes/no, on/off), case-insensitive
  kChoice,    // one of the '|'-separated words in ValueSpec::arg, case-insensitive
  kCount,     // a whole number in [min, max]
  kSize,      // bytes in [min, max]: digits with an optional K, M or G suffix (KiB-based)
  kSeconds,   // seconds in [min, max]: digits with an optional s or m suffix
};

struct ValueSpec {
  ValueType type = ValueType::kText;
  std::string_view arg = {};  // placeholder shown in help ("HOST:PORT", "BYTES"); for kChoice the choices
  uint64_t min = 0;           // kCount, kSize, kSeconds: inclusive bounds
  uint64_t max = 0;
};

// A parsed value; the member matching the ValueSpec's type is set.
struct Value {
  uint64_t number = 0;  // kCount, kSize, kSeconds
  bool flag = false;    // kBool
  Endpoint endpoint;    // kEndpoint
  std::string text;     // kText, kHostname; kChoice: the choice as spelled in ValueSpec::arg
};

// Parses `text` according to `spec`, including the range check.
std::optional<Value> parse_value(const ValueSpec& spec, std::string_view text);

// "a whole number from 1 to 100000", "off, optional or required", ...
std::string describe_expected(const ValueSpec& spec);

// Building blocks, exposed for tests.
std::optional<uint64_t> parse_whole_number(std::string_view text);  // digits only
std::optional<uint64_t> parse_size(std::string_view text);          // "1024", "64K", "25M", "2G"
std::optional<uint64_t> parse_seconds(std::string_view text);       // "300", "30s", "5m"
std::optional<bool> parse_bool(std::string_view text);
std::optional<Endpoint> parse_endpoint(std::string_view text);
bool is_hostname(std::string_view text);

// 26214400 -> "25M", 1000 -> "1000": the shortest exact spelling parse_size() accepts.
std::string format_size(uint64_t bytes);

// A value quoted for an error message: 'abc', with control bytes as \xNN and long values shortened.
std::string quote(std::string_view text);

// Levenshtein distance, for "did you mean" suggestions.
std::size_t edit_distance(std::string_view a, std::string_view b);

}  // namespace mailjar::config::internal
