// Unit tests of the command line: every serve flag in both spellings and through its variable,
// precedence, every validation error with its message, help texts generated from the option table,
// the admin subcommands, and unknown flags/commands.

#include "config/options.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "config/option_table.h"

namespace mailjar::config {
namespace {

using internal::env_var_name;
using internal::serve_options;
using internal::ValueType;

// Runs the parser on `mailjar <args...>` with the environment `env` ("NAME=value" strings).
core::Result<Command> parse(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
  std::vector<const char*> argv{"mailjar"};
  for (const auto& a : args) argv.push_back(a.c_str());
  argv.push_back(nullptr);
  std::vector<const char*> envp;
  for (const auto& e : env) envp.push_back(e.c_str());
  envp.push_back(nullptr);
  return parse_command_line(static_cast<int>(argv.size() - 1), argv.data(), envp.data());
}

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// "project create" -> {"project", "create"}
std::vector<std::string> split(std::string_view text) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t space = std::min(text.find(' ', pos), text.size());
    out.emplace_back(text.substr(pos, space - pos));
    pos = space + 1;
  }
  return out;
}

const internal::ServeOption& spec_of(std::string_view flag) {
  for (const auto& spec : serve_options()) {
    if (spec.flag == flag) return spec;
  }
  ADD_FAILURE() << "no option --" << flag;
  return serve_options().front();
}

// ---- every serve flag: both spellings and the variable -----------------------------------------------

struct FlagCase {
  std::string flag;
  std::string value;                               // a valid, non-default value
  std::function<bool(const ServeOptions&)> check;  // true when `value` was applied
  std::vector<std::string> extra = {};             // other flags needed for a valid configuration
};

std::string case_name(const testing::TestParamInfo<FlagCase>& info) {
  std::string name = info.param.flag;
  for (char& c : name) {
    if (c == '-') c = '_';
  }
  return name;
}

const std::vector<FlagCase>& flag_cases() {
  static const std::vector<FlagCase> cases = {
      {"smtp", "127.0.0.1:2525",
       [](const ServeOptions& o) { return o.smtp.host == "127.0.0.1" && o.smtp.port == 2525; }},
      {"http", "[::1]:8080",
       [](const ServeOptions& o) { return o.http.host == "::1" && o.http.port == 8080; }},
      {"data-dir", "/var/lib/mailjar",
       [](const ServeOptions& o) { return o.data_dir == "/var/lib/mailjar"; }},
      {"smtps",
       ":2465",
       [](const ServeOptions& o) {
         return o.smtps_enabled && o.smtps.host == "0.0.0.0" && o.smtps.port == 2465;
       },
       {"--tls-self-signed"}},
      {"tls-cert",
       "/etc/mj/cert.pem",
       [](const ServeOptions& o) { return o.tls_cert == "/etc/mj/cert.pem"; },
       {"--tls-key=/etc/mj/key.pem"}},
      {"tls-key",
       "/etc/mj/key.pem",
       [](const ServeOptions& o) { return o.tls_key == "/etc/mj/key.pem"; },
       {"--tls-cert=/etc/mj/cert.pem"}},
      {"tls-self-signed", "true", [](const ServeOptions& o) { return o.tls_self_signed; }},
      {"smtp-auth", "required",
       [](const ServeOptions& o) { return o.smtp_auth == smtp::AuthMode::kRequired; }},
      {"smtp-auth-cleartext", "deny", [](const ServeOptions& o) { return !o.allow_cleartext_auth; }},
      {"auth", "on", [](const ServeOptions& o) { return o.api_auth; }},
      {"hostname", "mx.example.test", [](const ServeOptions& o) { return o.hostname == "mx.example.test"; }},
      {"max-command-line", "1K", [](const ServeOptions& o) { return o.limits.max_command_line == 1024; }},
      {"max-text-line", "2000", [](const ServeOptions& o) { return o.limits.max_text_line == 2000; }},
      {"max-message-size", "10M",
       [](const ServeOptions& o) { return o.limits.max_message_size == 10485760; }},
      {"max-recipients", "50", [](const ServeOptions& o) { return o.limits.max_recipients == 50; }},
      {"max-errors", "5", [](const ServeOptions& o) { return o.limits.max_errors == 5; }},
      {"sync", "normal", [](const ServeOptions& o) { return !o.sync_full; }},
      {"bare-newline", "reject",
       [](const ServeOptions& o) { return o.bare_newline == smtp::BareNewlinePolicy::kReject; }},
      {"max-connections", "64", [](const ServeOptions& o) { return o.max_connections == 64; }},
      {"max-pending-data", "2G", [](const ServeOptions& o) { return o.max_pending_data == 2147483648ULL; }},
      {"command-timeout", "2m", [](const ServeOptions& o) { return o.command_timeout_s == 120; }},
      {"data-timeout", "45s", [](const ServeOptions& o) { return o.data_timeout_s == 45; }},
      {"min-data-rate", "0", [](const ServeOptions& o) { return o.min_data_rate == 0; }},
      {"http-max-connections", "10", [](const ServeOptions& o) { return o.http_max_connections == 10; }},
      {"http-max-body", "1G", [](const ServeOptions& o) { return o.http_max_body == 1073741824; }},
      {"http-timeout", "90", [](const ServeOptions& o) { return o.http_timeout_s == 90; }},
      {"http-max-json", "64K", [](const ServeOptions& o) { return o.http_max_json == 65536; }},
      {"http-max-json-depth", "8", [](const ServeOptions& o) { return o.http_max_json_depth == 8; }},
      {"allowed-hosts", "mail.test, proxy.example",
       [](const ServeOptions& o) {
         return o.allowed_hosts == std::vector<std::string>{"mail.test", "proxy.example"};
       }},
      {"http-workers", "3", [](const ServeOptions& o) { return o.http_workers == 3; }},
      {"mime-max-parts", "50", [](const ServeOptions& o) { return o.mime_max_parts == 50; }},
      {"mime-max-depth", "5", [](const ServeOptions& o) { return o.mime_max_depth == 5; }},
      {"detail-cache", "0", [](const ServeOptions& o) { return o.detail_cache == 0; }},
      {"mailhog-max-body", "64K", [](const ServeOptions& o) { return o.mailhog_max_body == 65536; }},
      {"mailhog-max-reply", "1G", [](const ServeOptions& o) { return o.mailhog_max_reply == 1073741824; }},
      {"threads", "4", [](const ServeOptions& o) { return o.threads == 4; }},
      {"workers", "8", [](const ServeOptions& o) { return o.workers == 8; }},
      {"log-level", "debug", [](const ServeOptions& o) { return o.log_level == "debug"; }},
      {"analyzers", " headers , other ",
       [](const ServeOptions& o) { return o.analyzers == std::vector<std::string>{"headers", "other"}; }},
      {"analysis-queue", "0", [](const ServeOptions& o) { return o.analysis_queue == 0; }},
  };
  return cases;
}

class ServeFlag : public testing::TestWithParam<FlagCase> {};

TEST_P(ServeFlag, DefaultDoesNotSatisfyTheCheck) {
  EXPECT_FALSE(GetParam().check(ServeOptions{})) << "pick a non-default value for the test";
}

TEST_P(ServeFlag, SeparateValueSpelling) {
  const FlagCase& c = GetParam();
  // Boolean flags take no separate value: the bare flag means true.
  std::vector<std::string> args = spec_of(c.flag).value.type == ValueType::kBool
                                      ? std::vector<std::string>{"serve", "--" + c.flag}
                                      : std::vector<std::string>{"serve", "--" + c.flag, c.value};
  auto r = parse(with(args, c.extra));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->kind, Command::kServe);
  EXPECT_TRUE(c.check(r->serve));
}

TEST_P(ServeFlag, EqualsSpelling) {
  const FlagCase& c = GetParam();
  auto r = parse(with({"serve", "--" + c.flag + "=" + c.value}, c.extra));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(c.check(r->serve));
}

TEST_P(ServeFlag, EnvironmentVariable) {
  const FlagCase& c = GetParam();
  const std::string var = env_var_name(c.flag);
  auto r = parse(with({"serve"}, c.extra), {"PATH=/usr/bin", var + "=" + c.value});
  ASSERT_TRUE(r.ok()) << var << ": " << r.error().message;
  EXPECT_TRUE(c.check(r->serve)) << var;
}

TEST_P(ServeFlag, InvalidValueNamesFlagOrVariableAndTheValue) {
  const FlagCase& c = GetParam();
  const auto& spec = spec_of(c.flag);
  const std::string bad = "bad\tvalue";  // invalid for every type (control character, no digits)
  const std::string expected_tail =
      ": expected " + internal::describe_expected(spec.value) + ", got 'bad\\x09value'";

  auto by_flag = parse(with({"serve", "--" + c.flag + "=" + bad}, c.extra));
  ASSERT_FALSE(by_flag.ok());
  EXPECT_EQ(by_flag.error().code, "invalid_argument");
  EXPECT_EQ(by_flag.error().message, "--" + c.flag + expected_tail);

  const std::string var = env_var_name(c.flag);
  auto by_env = parse(with({"serve"}, c.extra), {var + "=" + bad});
  ASSERT_FALSE(by_env.ok());
  EXPECT_EQ(by_env.error().message, var + expected_tail);
}

INSTANTIATE_TEST_SUITE_P(AllOptions, ServeFlag, testing::ValuesIn(flag_cases()), case_name);

TEST(ServeFlagTable, EveryOptionHasACase) {
  std::set<std::string> covered;
  for (const auto& c : flag_cases()) covered.insert(c.flag);
  for (const auto& spec : serve_options()) {
    EXPECT_TRUE(covered.contains(std::string(spec.flag))) << "--" << spec.flag << " has no FlagCase";
  }
  EXPECT_EQ(covered.size(), serve_options().size());
}

TEST(ServeFlagTable, FlagsAreUniqueAndEnvNamesFollowTheRule) {
  std::set<std::string_view> seen;
  for (const auto& spec : serve_options()) {
    EXPECT_TRUE(seen.insert(spec.flag).second) << spec.flag;
    EXPECT_TRUE(spec.has_env) << spec.flag;
  }
  EXPECT_EQ(env_var_name("max-message-size"), "MAILJAR_MAX_MESSAGE_SIZE");
  EXPECT_EQ(env_var_name("smtp"), "MAILJAR_SMTP");
  EXPECT_EQ(env_var_name("tls-self-signed"), "MAILJAR_TLS_SELF_SIGNED");
}

// ---- defaults and precedence ------------------------------------------------------------------------

TEST(ServeDefaults, NoFlagsNoVariablesGivesTheDocumentedDefaults) {
  auto r = parse({"serve"}, {"HOME=/root", "MAILJAR_BIN=/usr/bin/mailjar"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  const ServeOptions& o = r->serve;
  const ServeOptions d;
  for (const auto& spec : serve_options()) EXPECT_EQ(spec.show_default(o), spec.show_default(d)) << spec.flag;
  EXPECT_EQ(o.smtp.text(), "0.0.0.0:1025");
  EXPECT_EQ(o.http.text(), "0.0.0.0:8025");
  EXPECT_EQ(o.data_dir, "./data");
  EXPECT_FALSE(o.smtps_enabled);
  EXPECT_EQ(o.smtps.text(), "0.0.0.0:1465");
  EXPECT_EQ(o.smtp_auth, smtp::AuthMode::kOptional);
  EXPECT_TRUE(o.allow_cleartext_auth);
  EXPECT_EQ(o.limits.max_message_size, 26214400u);
  EXPECT_EQ(o.limits.max_command_line, 4096u);
  EXPECT_EQ(o.command_timeout_s, 300);
  EXPECT_EQ(o.log_level, "info");
}

struct PrecedenceCase {
  std::string flag;
  std::string env_value;
  std::string flag_arg;  // the whole argument, e.g. "--max-message-size=20M"
  std::function<bool(const ServeOptions&)> env_applied;
  std::function<bool(const ServeOptions&)> flag_applied;
};

TEST(ServePrecedence, DefaultThenVariableThenFlag) {
  const std::vector<PrecedenceCase> cases = {
      {"max-message-size", "10M", "--max-message-size=20M",
       [](const ServeOptions& o) { return o.limits.max_message_size == 10485760; },
       [](const ServeOptions& o) { return o.limits.max_message_size == 20971520; }},
      {"smtp", ":2525", "--smtp=127.0.0.1:3535", [](const ServeOptions& o) { return o.smtp.port == 2525; },
       [](const ServeOptions& o) { return o.smtp.port == 3535 && o.smtp.host == "127.0.0.1"; }},
      {"tls-self-signed", "true", "--tls-self-signed=false",
       [](const ServeOptions& o) { return o.tls_self_signed; },
       [](const ServeOptions& o) { return !o.tls_self_signed; }},
      {"log-level", "debug", "--log-level=warn", [](const ServeOptions& o) { return o.log_level == "debug"; },
       [](const ServeOptions& o) { return o.log_level == "warn"; }},
      {"smtp-auth", "off", "--smtp-auth=required",
       [](const ServeOptions& o) { return o.smtp_auth == smtp::AuthMode::kOff; },
       [](const ServeOptions& o) { return o.smtp_auth == smtp::AuthMode::kRequired; }},
      {"command-timeout", "10", "--command-timeout=20s",
       [](const ServeOptions& o) { return o.command_timeout_s == 10; },
       [](const ServeOptions& o) { return o.command_timeout_s == 20; }},
      {"data-dir", "/from/env", "--data-dir=/from/flag",
       [](const ServeOptions& o) { return o.data_dir == "/from/env"; },
       [](const ServeOptions& o) { return o.data_dir == "/from/flag"; }},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.flag);
    const std::string var = env_var_name(c.flag) + "=" + c.env_value;
    auto from_env = parse({"serve"}, {var});
    ASSERT_TRUE(from_env.ok()) << from_env.error().message;
    EXPECT_TRUE(c.env_applied(from_env->serve));
    auto from_flag = parse({"serve", c.flag_arg}, {var});
    ASSERT_TRUE(from_flag.ok()) << from_flag.error().message;
    EXPECT_TRUE(c.flag_applied(from_flag->serve));
  }
}

TEST(ServePrecedence, LastOfARepeatedFlagWins) {
  auto r = parse({"serve", "--max-recipients", "5", "--max-recipients=7"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->serve.limits.max_recipients, 7u);
}

TEST(ServePrecedence, AVariableOverriddenByItsFlagIsNotValidated) {
  auto r = parse({"serve", "--max-recipients=7"}, {"MAILJAR_MAX_RECIPIENTS=lots"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->serve.limits.max_recipients, 7u);
}

TEST(ServeEnvironment, EmptyUnknownAndForeignVariablesAreIgnored) {
  auto r = parse({"serve"}, {"MAILJAR_BIN=/x", "MAILJAR_NOT_AN_OPTION=zzz", "MAILJAR_MAX_RECIPIENTS=",
                             "SMTP=garbage", "MAX_RECIPIENTS=3", "MAILJAR_SMTP", "=odd"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->serve.limits.max_recipients, 1000u);
  EXPECT_EQ(r->serve.smtp.port, 1025);
}

TEST(ServeEnvironment, NullEnvironmentIsAllowed) {
  const char* argv[] = {"mailjar", "serve", nullptr};
  auto r = parse_command_line(2, argv, nullptr);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kind, Command::kServe);
}

// ---- value grammar through the command line -----------------------------------------------------------

TEST(ServeValues, SizesAreKibBased) {
  const std::vector<std::pair<std::string, std::size_t>> cases = {
      {"25M", 26214400}, {"26214400", 26214400}, {"1K", 1024}, {"2G", 2147483648ULL}, {"512k", 524288}};
  for (const auto& [text, bytes] : cases) {
    auto r = parse({"serve", "--max-message-size", text});
    ASSERT_TRUE(r.ok()) << text << ": " << r.error().message;
    EXPECT_EQ(r->serve.limits.max_message_size, bytes) << text;
  }
}

TEST(ServeValues, TimeoutsTakeSecondsOrSuffixes) {
  const std::vector<std::pair<std::string, int>> cases = {
      {"30", 30}, {"30s", 30}, {"5m", 300}, {"60m", 3600}};
  for (const auto& [text, secs] : cases) {
    auto r = parse({"serve", "--data-timeout=" + text});
    ASSERT_TRUE(r.ok()) << text << ": " << r.error().message;
    EXPECT_EQ(r->serve.data_timeout_s, secs) << text;
  }
}

TEST(ServeValues, EndpointForms) {
  const std::vector<std::tuple<std::string, std::string, uint16_t>> cases = {
      {"127.0.0.1:25", "127.0.0.1", 25},
      {"[::1]:2525", "::1", 2525},
      {":2525", "0.0.0.0", 2525},
      {"2525", "0.0.0.0", 2525},
      {"localhost:0", "localhost", 0}};
  for (const auto& [text, host, port] : cases) {
    auto r = parse({"serve", "--smtp", text});
    ASSERT_TRUE(r.ok()) << text << ": " << r.error().message;
    EXPECT_EQ(r->serve.smtp.host, host);
    EXPECT_EQ(r->serve.smtp.port, port);
  }
}

TEST(ServeValues, BooleanSpellings) {
  const std::vector<std::pair<std::vector<std::string>, bool>> cases = {
      {{"--tls-self-signed"}, true},        {{"--tls-self-signed=true"}, true},
      {{"--tls-self-signed=false"}, false}, {{"--tls-self-signed=1"}, true},
      {{"--tls-self-signed=no"}, false},    {{}, false},
  };
  for (const auto& [args, expected] : cases) {
    auto r = parse(with({"serve"}, args));
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->serve.tls_self_signed, expected);
  }
  auto env_false = parse({"serve"}, {"MAILJAR_TLS_SELF_SIGNED=false"});
  ASSERT_TRUE(env_false.ok());
  EXPECT_FALSE(env_false->serve.tls_self_signed);
}

TEST(ServeValues, ChoicesAreCaseInsensitive) {
  auto r = parse({"serve", "--log-level=DEBUG", "--smtp-auth", "Off", "--bare-newline=REJECT"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->serve.log_level, "debug");
  EXPECT_EQ(r->serve.smtp_auth, smtp::AuthMode::kOff);
  EXPECT_EQ(r->serve.bare_newline, smtp::BareNewlinePolicy::kReject);
}

TEST(ServeValues, FlagValueMayStartWithASingleDash) {
  auto r = parse({"serve", "--data-dir", "-weird-dir"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->serve.data_dir, "-weird-dir");
}

// ---- ranges (the numbers from the brief, not read from the table) ---------------------------------------

struct RangeCase {
  std::string flag;
  uint64_t min;
  uint64_t max;
};

TEST(ServeRanges, BoundsAreAcceptedAndOneBeyondIsRejected) {
  const std::vector<RangeCase> cases = {
      {"max-command-line", 512, 1048576},
      {"max-text-line", 1000, 16777216},
      {"max-message-size", 1024, 2147483648ULL},
      {"max-recipients", 1, 100000},
      {"max-errors", 1, 1000},
      {"max-connections", 1, 100000},
      {"max-pending-data", 1048576, 1099511627776ULL},
      {"http-max-connections", 1, 100000},
      {"http-max-body", 1024, 2147483648ULL},
      {"command-timeout", 1, 3600},
      {"data-timeout", 1, 3600},
      {"min-data-rate", 0, 1073741824},
      {"http-timeout", 1, 3600},
      {"threads", 0, 256},
      {"workers", 0, 256},
      {"http-workers", 0, 256},
      {"http-max-json", 1024, 2147483648ULL},
      {"http-max-json-depth", 4, 1000},
      {"mime-max-parts", 1, 100000},
      {"mime-max-depth", 1, 1000},
      {"detail-cache", 0, 17179869184ULL},
      {"mailhog-max-body", 1024, 2147483648ULL},
      {"mailhog-max-reply", 65536, 2147483648ULL},
      {"analysis-queue", 0, 10000000},
  };
  std::set<std::string> covered;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.flag);
    covered.insert(c.flag);
    for (uint64_t ok : {c.min, c.max}) {
      auto r = parse({"serve", "--" + c.flag, std::to_string(ok)});
      EXPECT_TRUE(r.ok()) << ok << ": " << (r.ok() ? "" : r.error().message);
    }
    std::vector<uint64_t> bad{c.max + 1};
    if (c.min > 0) bad.push_back(c.min - 1);
    for (uint64_t n : bad) {
      auto r = parse({"serve", "--" + c.flag, std::to_string(n)});
      ASSERT_FALSE(r.ok()) << n;
      const std::string& m = r.error().message;
      EXPECT_TRUE(m.starts_with("--" + c.flag + ": expected ")) << m;
      EXPECT_NE(m.find(", got '" + std::to_string(n) + "'"), std::string::npos) << m;
    }
  }
  for (const auto& spec : serve_options()) {
    const auto t = spec.value.type;
    if (t == ValueType::kCount || t == ValueType::kSize || t == ValueType::kSeconds) {
      EXPECT_TRUE(covered.contains(std::string(spec.flag))) << "--" << spec.flag << " has no RangeCase";
    }
  }
}

// ---- error messages -----------------------------------------------------------------------------------

struct ErrorCase {
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::string message;  // exact, or (when `exact` is false) a substring
  bool exact = true;
};

void expect_errors(const std::vector<ErrorCase>& cases) {
  for (const auto& c : cases) {
    std::string joined;
    for (const auto& a : c.args) joined += a + " ";
    for (const auto& e : c.env) joined += "[" + e + "] ";
    SCOPED_TRACE(joined);
    auto r = parse(c.args, c.env);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, "invalid_argument");
    if (c.exact) {
      EXPECT_EQ(r.error().message, c.message);
    } else {
      EXPECT_NE(r.error().message.find(c.message), std::string::npos) << r.error().message;
    }
  }
}

TEST(ServeErrors, ValueErrorsNameTheSourceTheFormAndTheValue) {
  expect_errors({
      {{"serve", "--max-recipients", "abc"},
       {},
       "--max-recipients: expected a whole number from 1 to 100000, got 'abc'"},
      {{"serve"},
       {"MAILJAR_SMTP_AUTH=maybe"},
       "MAILJAR_SMTP_AUTH: expected off, optional or required, got 'maybe'"},
      {{"serve", "--max-message-size=3G"},
       {},
       "--max-message-size: expected a size from 1K to 2G (bytes, or a number with suffix K, M or G; 1K = "
       "1024), "
       "got '3G'"},
      {{"serve"},
       {"MAILJAR_MAX_MESSAGE_SIZE=25X"},
       "MAILJAR_MAX_MESSAGE_SIZE: expected a size from 1K to 2G (bytes, or a number with suffix K, M or G; "
       "1K = 1024), got '25X'"},
      {{"serve", "--max-command-line=511"},
       {},
       "--max-command-line: expected a size from 512 to 1M (bytes, or a number with suffix K, M or G; 1K = "
       "1024), "
       "got '511'"},
      {{"serve", "--command-timeout", "2h"},
       {},
       "--command-timeout: expected a duration from 1 to 3600 seconds (e.g. 300, 30s or 5m), got '2h'"},
      {{"serve", "--data-timeout=61m"},
       {},
       "--data-timeout: expected a duration from 1 to 3600 seconds (e.g. 300, 30s or 5m), got '61m'"},
      {{"serve", "--smtp", "::1:25"},
       {},
       "--smtp: expected HOST:PORT, [IPV6]:PORT, :PORT or PORT (port 0-65535), got '::1:25'"},
      {{"serve"},
       {"MAILJAR_HTTP=:70000"},
       "MAILJAR_HTTP: expected HOST:PORT, [IPV6]:PORT, :PORT or PORT (port 0-65535), got ':70000'"},
      {{"serve", "--tls-self-signed=maybe"}, {}, "--tls-self-signed: expected true or false, got 'maybe'"},
      {{"serve"},
       {"MAILJAR_TLS_SELF_SIGNED=yes please"},
       "MAILJAR_TLS_SELF_SIGNED: expected true or false, got 'yes please'"},
      {{"serve", "--smtp-auth-cleartext=never"},
       {},
       "--smtp-auth-cleartext: expected allow or deny, got 'never'"},
      {{"serve", "--bare-newline", "fix"}, {}, "--bare-newline: expected accept or reject, got 'fix'"},
      {{"serve", "--sync", "always"}, {}, "--sync: expected full or normal, got 'always'"},
      {{"serve", "--log-level=trace"}, {}, "--log-level: expected error, warn, info or debug, got 'trace'"},
      {{"serve", "--data-dir="}, {}, "--data-dir: expected a non-empty directory path, got ''"},
      {{"serve", "--tls-cert="}, {}, "--tls-cert: expected a non-empty file path, got ''"},
      {{"serve", "--hostname", "mail jar"}, {}, "--hostname: expected a host name", false},
      {{"serve", "--hostname=evil\r\n250 ok"}, {}, "got 'evil\\x0d\\x0a250 ok'", false},
      {{"serve", "--threads=-1"}, {}, "--threads: expected a whole number from 0 to 256, got '-1'"},
      {{"serve", "--workers", "257"}, {}, "--workers: expected a whole number from 0 to 256, got '257'"},
      {{"serve", "--max-errors=0"}, {}, "--max-errors: expected a whole number from 1 to 1000, got '0'"},
  });
}

TEST(ServeErrors, MissingValues) {
  expect_errors({
      {{"serve", "--smtp"},
       {},
       "--smtp: expected HOST:PORT, [IPV6]:PORT, :PORT or PORT (port 0-65535), got nothing"},
      {{"serve", "--max-recipients", "--http=:1"},
       {},
       "--max-recipients: expected a whole number from 1 to 100000, got nothing"},
      {{"serve", "--log-level"}, {}, "--log-level: expected error, warn, info or debug, got nothing"},
  });
}

TEST(ServeErrors, CrossOptionChecks) {
  expect_errors({
      {{"serve", "--tls-cert", "c.pem"},
       {},
       "--tls-cert is set but --tls-key is not: --tls-cert and --tls-key must be given together",
       false},
      {{"serve", "--tls-key=k.pem"}, {}, "--tls-key is set but --tls-cert is not", false},
      {{"serve"}, {"MAILJAR_TLS_CERT=c.pem"}, "MAILJAR_TLS_CERT is set but --tls-key is not", false},
      {{"serve", "--smtps", ":1465"}, {}, "--smtps: implicit TLS needs a certificate", false},
      {{"serve"}, {"MAILJAR_SMTPS=:1465"}, "MAILJAR_SMTPS: implicit TLS needs a certificate", false},
      {{"serve", "--smtp-auth-cleartext=deny", "--smtp-auth=required"},
       {},
       "--smtp-auth-cleartext deny with --smtp-auth required and no TLS configured: nobody could ever log in",
       false},
      {{"serve", "--smtp-auth=required"},
       {"MAILJAR_SMTP_AUTH_CLEARTEXT=deny"},
       "MAILJAR_SMTP_AUTH_CLEARTEXT deny with --smtp-auth required",
       false},
      {{"serve", "--tls-self-signed", "--tls-cert=c.pem", "--tls-key=k.pem"},
       {},
       "--tls-self-signed cannot be combined with --tls-cert/--tls-key",
       false},
      {{"serve", "--smtp=:8025"},
       {},
       "--smtp (0.0.0.0:8025) and --http (0.0.0.0:8025) would listen on the same port"},
      {{"serve", "--http=127.0.0.1:1025"}, {}, "would listen on the same port", false},
      {{"serve", "--smtps=[::]:1025", "--tls-self-signed"}, {}, "--smtps ([::]:1025)", false},
  });
}

TEST(ServeErrors, CrossOptionChecksAcceptValidCombinations) {
  const std::vector<std::vector<std::string>> ok = {
      {"serve", "--smtps=:1465", "--tls-self-signed"},
      {"serve", "--smtps=:1465", "--tls-cert=c.pem", "--tls-key=k.pem"},
      {"serve", "--smtp-auth=required", "--smtp-auth-cleartext=deny", "--tls-self-signed"},
      {"serve", "--smtp-auth=required", "--smtp-auth-cleartext=deny", "--tls-cert=c", "--tls-key=k"},
      {"serve", "--smtp-auth=optional", "--smtp-auth-cleartext=deny"},
      {"serve", "--smtp-auth=required"},
      {"serve", "--smtp=:0", "--http=:0"},  // both pick a free port
      {"serve", "--smtp=127.0.0.1:2000", "--http=127.0.0.2:2000"},
      {"serve", "--smtp=0.0.0.0:2000", "--http=[::1]:2000"},  // different address families
      {"serve", "--tls-self-signed=false", "--tls-cert=c", "--tls-key=k"},
  };
  for (const auto& args : ok) {
    auto r = parse(args);
    EXPECT_TRUE(r.ok()) << args.back() << ": " << (r.ok() ? "" : r.error().message);
  }
  auto r =
      parse({"serve", "--smtp-auth=required", "--smtp-auth-cleartext=deny"}, {"MAILJAR_TLS_SELF_SIGNED=1"});
  EXPECT_TRUE(r.ok());
}

// ---- unknown flags, commands and arguments ---------------------------------------------------------------

TEST(CommandLineErrors, UnknownThingsAreNamedWithAPointerToHelp) {
  expect_errors({
      {{"serve", "--bogus"}, {}, "mailjar serve: unknown option '--bogus'; see 'mailjar serve --help'"},
      {{"serve", "--bogus=1"}, {}, "mailjar serve: unknown option '--bogus'; see 'mailjar serve --help'"},
      {{"serve", "--max-mesage-size=1M"},
       {},
       "mailjar serve: unknown option '--max-mesage-size' (did you mean '--max-message-size'?); see 'mailjar "
       "serve "
       "--help'"},
      {{"serve", "-x"}, {}, "mailjar serve: unknown option '-x'; see 'mailjar serve --help'"},
      {{"serve", "--version"}, {}, "unknown option '--version'", false},
      {{"serve", "extra"}, {}, "mailjar serve: unexpected argument 'extra'; see 'mailjar serve --help'"},
      {{"serve", "--tls-self-signed", "false"},
       {},
       "mailjar serve: unexpected argument 'false' (a boolean flag takes its value as "
       "--tls-self-signed=false); see "
       "'mailjar serve --help'"},
      {{"bogus"}, {}, "mailjar: unknown command 'bogus'; see 'mailjar --help'"},
      {{"serv"}, {}, "mailjar: unknown command 'serv' (did you mean 'serve'?); see 'mailjar --help'"},
      {{"--bogus"}, {}, "mailjar: unknown option '--bogus'; see 'mailjar --help'"},
      {{"--verison"},
       {},
       "mailjar: unknown option '--verison' (did you mean '--version'?); see 'mailjar --help'"},
      {{"project"}, {}, "mailjar project: missing command (create or list); see 'mailjar project --help'"},
      {{"inbox", "delete"}, {}, "mailjar inbox: unknown command 'delete'; see 'mailjar inbox --help'"},
      {{"inbox", "craete"}, {}, "mailjar inbox: unknown command 'craete' (did you mean 'create'?)", false},
      {{"project", "create"}, {}, "mailjar project create: missing NAME", false},
      {{"project", "create", "a", "b"}, {}, "mailjar project create: unexpected argument 'b'", false},
      {{"project", "list", "x"}, {}, "mailjar project list: unexpected argument 'x'", false},
      {{"project", "list", "--project=x"}, {}, "mailjar project list: unknown option '--project'", false},
      {{"inbox", "list", "--smtp=:25"}, {}, "mailjar inbox list: unknown option '--smtp'", false},
      {{"inbox", "create", "x", "--project"}, {}, "--project: expected a non-empty name, got nothing"},
      {{"inbox", "create", "x", "--project="}, {}, "--project: expected a non-empty name, got ''"},
      {{"project", "list", "--json=perhaps"}, {}, "--json: expected true or false, got 'perhaps'"},
      {{"project", "list"},
       {"MAILJAR_DATA_DIR=a\nb"},
       "MAILJAR_DATA_DIR: expected a non-empty directory path, got 'a\\x0ab'"},
      {{"help", "bogus"}, {}, "mailjar help: unknown command 'bogus'; see 'mailjar --help'"},
      {{"help", "project", "delete"}, {}, "mailjar help: unknown command 'project delete'", false},
  });
}

TEST(CommandLineErrors, FirstErrorIsReportedButHelpWins) {
  auto err = parse({"serve", "--bogus", "--max-recipients=abc"});
  ASSERT_FALSE(err.ok());
  EXPECT_NE(err.error().message.find("--bogus"), std::string::npos);

  auto help = parse({"serve", "--bogus", "--max-recipients=abc", "--help"});
  ASSERT_TRUE(help.ok());
  EXPECT_EQ(help->kind, Command::kHelp);
  EXPECT_EQ(help->help_text, serve_help());
}

TEST(CommandLineErrors, DoubleDashEndsOptions) {
  auto r = parse({"project", "create", "--", "--weird-name"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->admin.args, std::vector<std::string>{"--weird-name"});
  auto help_as_name = parse({"inbox", "create", "--", "--help"});
  ASSERT_TRUE(help_as_name.ok());
  EXPECT_EQ(help_as_name->kind, Command::kInboxCreate);
}

// ---- top level: help and version ---------------------------------------------------------------------

TEST(TopLevel, HelpAndVersion) {
  struct Case {
    std::vector<std::string> args;
    Command::Kind kind;
    std::string help_text;
  };
  const std::vector<Case> cases = {
      {{}, Command::kHelp, top_help()},
      {{"--help"}, Command::kHelp, top_help()},
      {{"-h"}, Command::kHelp, top_help()},
      {{"help"}, Command::kHelp, top_help()},
      {{"--version"}, Command::kVersion, ""},
      {{"-V"}, Command::kVersion, ""},
      {{"serve", "--help"}, Command::kHelp, serve_help()},
      {{"serve", "-h"}, Command::kHelp, serve_help()},
      {{"serve", "--smtp=:25", "--help"}, Command::kHelp, serve_help()},
      {{"help", "serve"}, Command::kHelp, serve_help()},
  };
  for (const auto& c : cases) {
    auto r = parse(c.args);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->kind, c.kind);
    EXPECT_EQ(r->help_text, c.help_text);
  }
  EXPECT_STREQ(kVersion, "0.1.0");
}

TEST(TopLevel, TopHelpListsEveryCommand) {
  const std::string help = top_help();
  for (const auto& c : internal::commands()) {
    EXPECT_NE(help.find(std::string(c.name)), std::string::npos) << c.name;
    EXPECT_NE(help.find(std::string(c.summary)), std::string::npos) << c.name;
  }
  for (const char* s : {"--help", "-h", "--version", "-V", kVersion, "help [COMMAND]"}) {
    EXPECT_NE(help.find(s), std::string::npos) << s;
  }
}

// ---- help texts generated from the table ---------------------------------------------------------------

TEST(ServeHelp, MentionsEveryFlagItsArgumentDefaultAndVariable) {
  const std::string help = serve_help();
  const ServeOptions defaults;
  for (const auto& spec : serve_options()) {
    SCOPED_TRACE(std::string(spec.flag));
    const std::string flag = "--" + std::string(spec.flag);
    const std::size_t at = help.find("  " + flag + (spec.value.type == ValueType::kBool ? "[" : " "));
    ASSERT_NE(at, std::string::npos);
    // The option's own block: up to the next option line.
    const std::size_t end = help.find("\n  --", at + 1);
    const std::string block = help.substr(at, end == std::string::npos ? std::string::npos : end - at);
    if (spec.value.type != ValueType::kBool) {
      EXPECT_NE(block.find(std::string(spec.value.arg)), std::string::npos);
    }
    EXPECT_NE(block.find(std::string(spec.help)), std::string::npos);
    EXPECT_NE(block.find("default: " + spec.show_default(defaults)), std::string::npos) << block;
    EXPECT_NE(block.find("env: " + env_var_name(spec.flag)), std::string::npos) << block;
  }
}

TEST(ServeHelp, ShowsReadableDefaultsAndRanges) {
  const std::string help = serve_help();
  for (const char* s :
       {"default: 0.0.0.0:1025", "default: 25M", "range: 1K-2G", "default: 300s", "range: 1-3600s",
        "default: optional", "default: off", "default: 0 (half the cores, at least 1)", "range: 1-100000",
        "--tls-self-signed[=true|false]", "--smtp-auth off|optional|required", "Precedence"}) {
    EXPECT_NE(help.find(s), std::string::npos) << s;
  }
}

TEST(AdminHelp, EachCommandHelpListsItsFlags) {
  for (const auto& c : internal::commands()) {
    SCOPED_TRACE(std::string(c.name));
    auto r = parse(with(split(c.name), {"--help"}));
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->kind, Command::kHelp);
    EXPECT_EQ(r->help_text, internal::command_help(c));
    EXPECT_NE(r->help_text.find("Usage: mailjar " + std::string(c.name)), std::string::npos);
    if (c.kind == Command::kServe) continue;
    for (const auto& spec : internal::admin_options()) {
      const auto accepted_flags = split(c.admin_flags);
      const bool accepted =
          std::find(accepted_flags.begin(), accepted_flags.end(), spec.flag) != accepted_flags.end();
      EXPECT_EQ(r->help_text.find("--" + std::string(spec.flag)) != std::string::npos, accepted) << spec.flag;
    }
    if (!c.operand.empty()) {
      EXPECT_NE(r->help_text.find(std::string(c.operand)), std::string::npos);
    }
  }
  const std::string inbox_create = internal::command_help(internal::commands()[3]);
  EXPECT_NE(inbox_create.find("env: MAILJAR_DATA_DIR"), std::string::npos) << inbox_create;
  EXPECT_NE(inbox_create.find("default: default"), std::string::npos) << inbox_create;
}

TEST(AdminHelp, GroupHelpListsItsCommands) {
  for (const std::string group : {"project", "inbox"}) {
    for (const auto& args :
         std::vector<std::vector<std::string>>{{group, "--help"}, {group, "-h"}, {"help", group}}) {
      auto r = parse(args);
      ASSERT_TRUE(r.ok()) << r.error().message;
      EXPECT_EQ(r->kind, Command::kHelp);
      EXPECT_NE(r->help_text.find(group + " create NAME"), std::string::npos) << r->help_text;
      EXPECT_NE(r->help_text.find(group + " list"), std::string::npos);
      EXPECT_EQ(r->help_text.find("serve"), std::string::npos);
    }
  }
  auto r = parse({"help", "inbox", "create"});
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r->help_text.find("--project NAME"), std::string::npos);
}

// ---- admin subcommands -----------------------------------------------------------------------------------

struct AdminCase {
  std::vector<std::string> args;
  std::vector<std::string> env;
  Command::Kind kind;
  std::string data_dir;
  std::string project;
  bool json;
  std::vector<std::string> positional;
};

TEST(AdminCommands, ParseSubcommandsFlagsAndArguments) {
  const std::vector<AdminCase> cases = {
      {{"project", "create", "acme"}, {}, Command::kProjectCreate, "./data", "default", false, {"acme"}},
      {{"project", "create", "acme", "--json"},
       {},
       Command::kProjectCreate,
       "./data",
       "default",
       true,
       {"acme"}},
      {{"project", "create", "--data-dir", "/d", "acme"},
       {},
       Command::kProjectCreate,
       "/d",
       "default",
       false,
       {"acme"}},
      {{"project", "create", "--data-dir=/d", "--json=false", "acme"},
       {},
       Command::kProjectCreate,
       "/d",
       "default",
       false,
       {"acme"}},
      {{"project", "list"}, {}, Command::kProjectList, "./data", "default", false, {}},
      {{"project", "list", "--json", "--data-dir", "/d"},
       {},
       Command::kProjectList,
       "/d",
       "default",
       true,
       {}},
      {{"inbox", "create", "signup"}, {}, Command::kInboxCreate, "./data", "default", false, {"signup"}},
      {{"inbox", "create", "--project", "acme", "signup"},
       {},
       Command::kInboxCreate,
       "./data",
       "acme",
       false,
       {"signup"}},
      {{"inbox", "create", "signup", "--project=acme", "--json"},
       {},
       Command::kInboxCreate,
       "./data",
       "acme",
       true,
       {"signup"}},
      {{"inbox", "list"}, {}, Command::kInboxList, "./data", "default", false, {}},
      {{"inbox", "list", "--data-dir=/x", "--json=true"}, {}, Command::kInboxList, "/x", "default", true, {}},
      // MAILJAR_DATA_DIR: default < variable < flag.
      {{"inbox", "list"}, {"MAILJAR_DATA_DIR=/env"}, Command::kInboxList, "/env", "default", false, {}},
      {{"inbox", "list", "--data-dir=/flag"},
       {"MAILJAR_DATA_DIR=/env"},
       Command::kInboxList,
       "/flag",
       "default",
       false,
       {}},
      {{"project", "create", "p"},
       {"MAILJAR_DATA_DIR=/env"},
       Command::kProjectCreate,
       "/env",
       "default",
       false,
       {"p"}},
      // Only --data-dir has a variable; serve's variables do not disturb admin commands.
      {{"project", "list"},
       {"MAILJAR_PROJECT=x", "MAILJAR_JSON=true", "MAILJAR_MAX_RECIPIENTS=bad"},
       Command::kProjectList,
       "./data",
       "default",
       false,
       {}},
  };
  for (const auto& c : cases) {
    std::string joined;
    for (const auto& a : c.args) joined += a + " ";
    SCOPED_TRACE(joined);
    auto r = parse(c.args, c.env);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->kind, c.kind);
    EXPECT_EQ(r->admin.data_dir, c.data_dir);
    EXPECT_EQ(r->admin.project, c.project);
    EXPECT_EQ(r->admin.json, c.json);
    EXPECT_EQ(r->admin.args, c.positional);
  }
}

TEST(AdminCommands, TableHasEveryCommandKind) {
  std::set<Command::Kind> kinds;
  for (const auto& c : internal::commands()) kinds.insert(c.kind);
  EXPECT_EQ(kinds, (std::set<Command::Kind>{Command::kServe, Command::kProjectCreate, Command::kProjectList,
                                            Command::kInboxCreate, Command::kInboxList, Command::kTokenCreate}));
}

TEST(ServeAnalyzers, NoneOrNoNamesMeanNoAnalyzersAndTheDefaultIsHeaders) {
  EXPECT_EQ(ServeOptions{}.analyzers, std::vector<std::string>{"headers"});
  for (const char* value : {"none", " , "}) {
    auto r = parse({"serve", std::string("--analyzers=") + value});
    ASSERT_TRUE(r.ok()) << value << ": " << r.error().message;
    EXPECT_TRUE(r->serve.analyzers.empty()) << value;
  }
}

}  // namespace
}  // namespace mailjar::config
