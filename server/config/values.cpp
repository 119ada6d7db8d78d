#include "config/values.h"
#include "core/ascii.h"

#include <algorithm>
#include <cctype>
#include <limits>
#include <utility>
#include <vector>

namespace mailjar::config::internal {
namespace {

constexpr uint64_t kKiB = 1024;
constexpr uint64_t kMiB = 1024 * kKiB;
constexpr uint64_t kGiB = 1024 * kMiB;

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

using core::ascii_lowercase;

// Splits "12M" into the leading digits and the rest.
std::pair<std::string_view, std::string_view> split_number(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size() && is_digit(text[i])) ++i;
  return {text.substr(0, i), text.substr(i)};
}

std::optional<uint64_t> multiply(uint64_t value, uint64_t factor) {
  if (factor != 0 && value > std::numeric_limits<uint64_t>::max() / factor) return std::nullopt;
  return value * factor;
}

std::vector<std::string_view> split_choices(std::string_view arg) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (start <= arg.size()) {
    std::size_t bar = arg.find('|', start);
    if (bar == std::string_view::npos) bar = arg.size();
    out.push_back(arg.substr(start, bar - start));
    start = bar + 1;
  }
  return out;
}

bool is_ipv6_literal(std::string_view host) {
  if (host.find(':') == std::string_view::npos) return false;
  return std::all_of(host.begin(), host.end(), [](char c) {
    return std::isxdigit(static_cast<unsigned char>(c)) != 0 || c == ':' || c == '.';
  });
}

std::optional<uint16_t> parse_port(std::string_view text) {
  if (text.size() > 5) return std::nullopt;
  auto n = parse_whole_number(text);
  if (!n || *n > 65535) return std::nullopt;
  return static_cast<uint16_t>(*n);
}

bool has_control_char(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

}  // namespace

std::optional<uint64_t> parse_whole_number(std::string_view text) {
  if (text.empty()) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (!is_digit(c)) return std::nullopt;
    auto shifted = multiply(value, 10);
    if (!shifted || *shifted > std::numeric_limits<uint64_t>::max() - uint64_t(c - '0')) return std::nullopt;
    value = *shifted + uint64_t(c - '0');
  }
  return value;
}

std::optional<uint64_t> parse_size(std::string_view text) {
  auto [digits, unit_text] = split_number(text);
  auto value = parse_whole_number(digits);
  if (!value) return std::nullopt;
  const std::string unit = ascii_lowercase(unit_text);
  uint64_t factor = 0;
  if (unit.empty() || unit == "b") {
    factor = 1;
  } else if (unit == "k" || unit == "kb" || unit == "kib") {
    factor = kKiB;
  } else if (unit == "m" || unit == "mb" || unit == "mib") {
    factor = kMiB;
  } else if (unit == "g" || unit == "gb" || unit == "gib") {
    factor = kGiB;
  } else {
    return std::nullopt;
  }
  return multiply(*value, factor);
}

std::optional<uint64_t> parse_seconds(std::string_view text) {
  auto [digits, unit_text] = split_number(text);
  auto value = parse_whole_number(digits);
  if (!value) return std::nullopt;
  const std::string unit = ascii_lowercase(unit_text);
  if (unit.empty() || unit == "s") return value;
  if (unit == "m") return multiply(*value, 60);
  return std::nullopt;
}

std::optional<bool> parse_bool(std::string_view text) {
  const std::string v = ascii_lowercase(text);
  if (v == "true" || v == "1" || v == "yes" || v == "on") return true;
  if (v == "false" || v == "0" || v == "no" || v == "off") return false;
  return std::nullopt;
}

bool is_hostname(std::string_view text) {
  if (text.empty() || text.size() > 253) return false;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t dot = text.find('.', start);
    if (dot == std::string_view::npos) dot = text.size();
    std::string_view label = text.substr(start, dot - start);
    if (label.empty() || label.size() > 63) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
      if (!is_alnum(c) && c != '-') return false;
    }
    start = dot + 1;
  }
  return true;
}

std::optional<Endpoint> parse_endpoint(std::string_view text) {
  Endpoint ep;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    std::string_view host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (!is_ipv6_literal(host) || rest.size() < 2 || rest.front() != ':') return std::nullopt;
    ep.host = std::string(host);
    port_text = rest.substr(1);
  } else if (const std::size_t colon = text.rfind(':'); colon != std::string_view::npos) {
    std::string_view host = text.substr(0, colon);
    if (host.empty()) {
      ep.host = "0.0.0.0";
    } else if (is_hostname(host)) {  // also covers dotted IPv4 addresses
      ep.host = std::string(host);
    } else {
      return std::nullopt;  // includes unbracketed IPv6 ("::1:25" is ambiguous)
    }
    port_text = text.substr(colon + 1);
  } else {
    ep.host = "0.0.0.0";
    port_text = text;
  }
  auto port = parse_port(port_text);
  if (!port) return std::nullopt;
  ep.port = *port;
  return ep;
}

std::string format_size(uint64_t bytes) {
  if (bytes != 0 && bytes % kGiB == 0) return std::to_string(bytes / kGiB) + "G";
  if (bytes != 0 && bytes % kMiB == 0) return std::to_string(bytes / kMiB) + "M";
  if (bytes != 0 && bytes % kKiB == 0) return std::to_string(bytes / kKiB) + "K";
  return std::to_string(bytes);
}

std::string quote(std::string_view text) {
  constexpr std::size_t kMaxShown = 80;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "'";
  for (std::size_t i = 0; i < text.size() && i < kMaxShown; ++i) {
    auto u = static_cast<unsigned char>(text[i]);
    if (u < 0x20 || u == 0x7f) {
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    } else {
      out += text[i];
    }
  }
  if (text.size() > kMaxShown) out += "...";
  out += "'";
  return out;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::optional<Value> parse_value(const ValueSpec& spec, std::string_view text) {
  Value v;
  switch (spec.type) {
    case ValueType::kEndpoint: {
      auto ep = parse_endpoint(text);
      if (!ep) return std::nullopt;
      v.endpoint = std::move(*ep);
      return v;
    }
    case ValueType::kText:
      if (text.empty() || has_control_char(text)) return std::nullopt;
      v.text = std::string(text);
      return v;
    case ValueType::kHostname:
      if (!is_hostname(text)) return std::nullopt;
      v.text = std::string(text);
      return v;
    case ValueType::kBool: {
      auto b = parse_bool(text);
      if (!b) return std::nullopt;
      v.flag = *b;
      return v;
    }
    case ValueType::kChoice: {
      const std::string wanted = ascii_lowercase(text);
      for (std::string_view choice : split_choices(spec.arg)) {
        if (wanted == choice) {
          v.text = std::string(choice);
          return v;
        }
      }
      return std::nullopt;
    }
    case ValueType::kCount:
    case ValueType::kSize:
    case ValueType::kSeconds: {
      std::optional<uint64_t> n = spec.type == ValueType::kCount  ? parse_whole_number(text)
                                  : spec.type == ValueType::kSize ? parse_size(text)
                                                                  : parse_seconds(text);
      if (!n || *n < spec.min || *n > spec.max) return std::nullopt;
      v.number = *n;
      return v;
    }
  }
  return std::nullopt;
}

std::string describe_expected(const ValueSpec& spec) {
  switch (spec.type) {
    case ValueType::kEndpoint:
      return "HOST:PORT, [IPV6]:PORT, :PORT or PORT (port 0-65535)";
    case ValueType::kText:
      if (spec.arg == "FILE") return "a non-empty file path";
      if (spec.arg == "DIR") return "a non-empty directory path";
      return "a non-empty name";
    case ValueType::kHostname:
      return "a host name (letters, digits and '-' in dot-separated labels of at most 63 characters)";
    case ValueType::kBool:
      return "true or false";
    case ValueType::kChoice: {
      const auto choices = split_choices(spec.arg);
      std::string out;
      for (std::size_t i = 0; i < choices.size(); ++i) {
        if (i > 0) out += i + 1 == choices.size() ? " or " : ", ";
        out += choices[i];
      }
      return out;
    }
    case ValueType::kCount:
      return "a whole number from " + std::to_string(spec.min) + " to " + std::to_string(spec.max);
    case ValueType::kSize:
      return "a size from " + format_size(spec.min) + " to " + format_size(spec.max) +
             " (bytes, or a number with suffix K, M or G; 1K = 1024)";
    case ValueType::kSeconds:
      return "a duration from " + std::to_string(spec.min) + " to " + std::to_string(spec.max) +
             " seconds (e.g. 300, 30s or 5m)";
  }
  return "a valid value";
}

}  // namespace mailjar::config::internal
