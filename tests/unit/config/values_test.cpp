// Unit tests of the value grammars behind every flag: sizes, durations, endpoints, booleans, host names.

#include "config/values.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace mailjar::config::internal {
namespace {

struct NumberCase {
  std::string text;
  std::optional<uint64_t> expected;
};

TEST(ParseSize, AcceptsBytesAndKibBasedSuffixes) {
  const std::vector<NumberCase> cases = {
      {"0", 0},
      {"1024", 1024},
      {"26214400", 26214400},
      {"1K", 1024},
      {"1k", 1024},
      {"64K", 65536},
      {"64KB", 65536},
      {"64KiB", 65536},
      {"25M", 26214400},
      {"25m", 26214400},
      {"25MB", 26214400},
      {"25MiB", 26214400},
      {"2G", 2147483648ULL},
      {"2g", 2147483648ULL},
      {"2GiB", 2147483648ULL},
      {"100B", 100},
      {"", std::nullopt},
      {"M", std::nullopt},
      {"abc", std::nullopt},
      {"-1", std::nullopt},
      {"+5", std::nullopt},
      {" 5", std::nullopt},
      {"5 ", std::nullopt},
      {"1.5M", std::nullopt},
      {"5T", std::nullopt},
      {"5KK", std::nullopt},
      {"0x10", std::nullopt},
      {"18446744073709551615", 18446744073709551615ULL},
      {"18446744073709551616", std::nullopt},  // overflows uint64
      {"17179869184G", std::nullopt},          // overflows after the multiplication
      {"99999999999999999999999999", std::nullopt},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE("'" + c.text + "'");
    EXPECT_EQ(parse_size(c.text), c.expected);
  }
}

TEST(ParseSeconds, AcceptsSecondsAndMinuteSuffix) {
  const std::vector<NumberCase> cases = {
      {"300", 300},
      {"30s", 30},
      {"30S", 30},
      {"5m", 300},
      {"5M", 300},
      {"60m", 3600},
      {"0", 0},
      {"", std::nullopt},
      {"s", std::nullopt},
      {"5h", std::nullopt},
      {"5ms", std::nullopt},
      {"1.5m", std::nullopt},
      {"-5", std::nullopt},
      {"5 s", std::nullopt},
      {"999999999999999999999m", std::nullopt},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE("'" + c.text + "'");
    EXPECT_EQ(parse_seconds(c.text), c.expected);
  }
}

TEST(ParseWholeNumber, DigitsOnly) {
  const std::vector<NumberCase> cases = {
      {"0", 0},
      {"42", 42},
      {"007", 7},
      {"", std::nullopt},
      {"4 2", std::nullopt},
      {"-1", std::nullopt},
      {"1e3", std::nullopt},
      {"1K", std::nullopt},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE("'" + c.text + "'");
    EXPECT_EQ(parse_whole_number(c.text), c.expected);
  }
}

TEST(ParseBool, TrueFalseAndCommonSpellings) {
  const std::vector<std::pair<std::string, std::optional<bool>>> cases = {
      {"true", true},     {"TRUE", true},          {"1", true},         {"yes", true},       {"on", true},
      {"false", false},   {"False", false},        {"0", false},        {"no", false},       {"off", false},
      {"", std::nullopt}, {"maybe", std::nullopt}, {"2", std::nullopt}, {"t", std::nullopt},
  };
  for (const auto& [text, expected] : cases) {
    SCOPED_TRACE("'" + text + "'");
    EXPECT_EQ(parse_bool(text), expected);
  }
}

struct EndpointCase {
  std::string text;
  bool ok;
  std::string host;
  uint16_t port;
};

TEST(ParseEndpoint, AllAcceptedFormsAndRejections) {
  const std::vector<EndpointCase> cases = {
      {"127.0.0.1:2525", true, "127.0.0.1", 2525},
      {"0.0.0.0:25", true, "0.0.0.0", 25},
      {"localhost:1025", true, "localhost", 1025},
      {"mail.example.test:587", true, "mail.example.test", 587},
      {"[::1]:8025", true, "::1", 8025},
      {"[::]:25", true, "::", 25},
      {"[fe80::1:2]:25", true, "fe80::1:2", 25},
      {"[::ffff:127.0.0.1]:25", true, "::ffff:127.0.0.1", 25},
      {":1025", true, "0.0.0.0", 1025},
      {"1025", true, "0.0.0.0", 1025},
      {"0", true, "0.0.0.0", 0},
      {":0", true, "0.0.0.0", 0},
      {"65535", true, "0.0.0.0", 65535},
      {"", false, "", 0},
      {":", false, "", 0},
      {"65536", false, "", 0},
      {":65536", false, "", 0},
      {"host:99999", false, "", 0},
      {"000001025", false, "", 0},
      {"localhost", false, "", 0},
      {"localhost:", false, "", 0},
      {"::1:25", false, "", 0},
      {"::1", false, "", 0},
      {"[::1]", false, "", 0},
      {"[::1]:", false, "", 0},
      {"[::1]25", false, "", 0},
      {"[::1:25", false, "", 0},
      {"[]:25", false, "", 0},
      {"[example.test]:25", false, "", 0},
      {"host name:25", false, "", 0},
      {"-host:25", false, "", 0},
      {"host:-1", false, "", 0},
      {"host:+1", false, "", 0},
      {"host:2 5", false, "", 0},
      {"a..b:25", false, "", 0},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE("'" + c.text + "'");
    auto ep = parse_endpoint(c.text);
    ASSERT_EQ(ep.has_value(), c.ok);
    if (c.ok) {
      EXPECT_EQ(ep->host, c.host);
      EXPECT_EQ(ep->port, c.port);
    }
  }
}

TEST(EndpointText, BracketsIpv6AndRoundTrips) {
  const std::vector<std::pair<Endpoint, std::string>> cases = {
      {{"0.0.0.0", 1025}, "0.0.0.0:1025"},
      {{"localhost", 0}, "localhost:0"},
      {{"::1", 8025}, "[::1]:8025"},
      {{"::", 25}, "[::]:25"},
  };
  for (const auto& [ep, text] : cases) {
    EXPECT_EQ(ep.text(), text);
    auto back = parse_endpoint(text);
    ASSERT_TRUE(back.has_value()) << text;
    EXPECT_EQ(back->host, ep.host);
    EXPECT_EQ(back->port, ep.port);
  }
}

TEST(IsHostname, DnsLabelsOnly) {
  const std::vector<std::pair<std::string, bool>> cases = {
      {"mailjar", true},
      {"mx.example.test", true},
      {"a-b.c", true},
      {"127.0.0.1", true},
      {std::string(63, 'a') + ".test", true},
      {std::string(64, 'a') + ".test", false},
      {"", false},
      {".", false},
      {"a.", false},
      {".a", false},
      {"a..b", false},
      {"-a", false},
      {"a-", false},
      {"a_b", false},
      {"a b", false},
      {"a\r\n250 x", false},
      {"a:b", false},
      {std::string(254, 'a'), false},
  };
  for (const auto& [text, ok] : cases) {
    SCOPED_TRACE("'" + text + "'");
    EXPECT_EQ(is_hostname(text), ok);
  }
}

TEST(FormatSize, ShortestExactSpelling) {
  EXPECT_EQ(format_size(0), "0");
  EXPECT_EQ(format_size(512), "512");
  EXPECT_EQ(format_size(1000), "1000");
  EXPECT_EQ(format_size(1024), "1K");
  EXPECT_EQ(format_size(1536), "1536");
  EXPECT_EQ(format_size(65536), "64K");
  EXPECT_EQ(format_size(26214400), "25M");
  EXPECT_EQ(format_size(2147483648ULL), "2G");
  for (uint64_t n : {1ULL, 1000ULL, 1024ULL, 4096ULL, 26214400ULL, 2147483648ULL, 1536ULL}) {
    EXPECT_EQ(parse_size(format_size(n)), n) << n;
  }
}

TEST(Quote, EscapesControlBytesAndShortensLongValues) {
  EXPECT_EQ(quote("abc"), "'abc'");
  EXPECT_EQ(quote(""), "''");
  EXPECT_EQ(quote("a\r\nb"), "'a\\x0d\\x0ab'");
  EXPECT_EQ(quote(std::string(100, 'x')), "'" + std::string(80, 'x') + "...'");
}

TEST(EditDistance, Levenshtein) {
  EXPECT_EQ(edit_distance("", ""), 0u);
  EXPECT_EQ(edit_distance("abc", ""), 3u);
  EXPECT_EQ(edit_distance("serve", "serve"), 0u);
  EXPECT_EQ(edit_distance("serv", "serve"), 1u);
  EXPECT_EQ(edit_distance("--max-mesage-size", "--max-message-size"), 1u);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
}

struct DescribeCase {
  ValueSpec spec;
  std::string expected;
};

TEST(DescribeExpected, StatesTheAcceptedForm) {
  const std::vector<DescribeCase> cases = {
      {{ValueType::kCount, "N", 1, 100000}, "a whole number from 1 to 100000"},
      {{ValueType::kChoice, "off|optional|required"}, "off, optional or required"},
      {{ValueType::kChoice, "allow|deny"}, "allow or deny"},
      {{ValueType::kBool}, "true or false"},
      {{ValueType::kSize, "BYTES", 1024, 2147483648ULL},
       "a size from 1K to 2G (bytes, or a number with suffix K, M or G; 1K = 1024)"},
      {{ValueType::kSeconds, "SECONDS", 1, 3600}, "a duration from 1 to 3600 seconds (e.g. 300, 30s or 5m)"},
      {{ValueType::kEndpoint, "HOST:PORT"}, "HOST:PORT, [IPV6]:PORT, :PORT or PORT (port 0-65535)"},
      {{ValueType::kText, "DIR"}, "a non-empty directory path"},
      {{ValueType::kText, "FILE"}, "a non-empty file path"},
  };
  for (const auto& c : cases) EXPECT_EQ(describe_expected(c.spec), c.expected);
}

TEST(ParseValue, ChecksRangesAndChoices) {
  const ValueSpec count{ValueType::kCount, "N", 1, 10};
  EXPECT_FALSE(parse_value(count, "0"));
  EXPECT_EQ(parse_value(count, "1")->number, 1u);
  EXPECT_EQ(parse_value(count, "10")->number, 10u);
  EXPECT_FALSE(parse_value(count, "11"));

  const ValueSpec choice{ValueType::kChoice, "error|warn|info|debug"};
  EXPECT_EQ(parse_value(choice, "warn")->text, "warn");
  EXPECT_EQ(parse_value(choice, "DEBUG")->text, "debug");
  EXPECT_FALSE(parse_value(choice, "trace"));
  EXPECT_FALSE(parse_value(choice, ""));
  EXPECT_FALSE(parse_value(choice, "warn|info"));

  const ValueSpec text{ValueType::kText, "DIR"};
  EXPECT_EQ(parse_value(text, "/tmp/x y")->text, "/tmp/x y");
  EXPECT_FALSE(parse_value(text, ""));
  EXPECT_FALSE(parse_value(text, "a\nb"));
}

}  // namespace
}  // namespace mailjar::config::internal
