// The option and command tables, the help texts generated from them, and the command-line parser.
// Every option is one row of kServeOptions or kAdminOptions; nothing else lists options.

#include "config/options.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

#include "config/option_table.h"
#include "config/values.h"

namespace mailjar::config {

std::string Endpoint::text() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

namespace internal {
namespace {

constexpr uint64_t kKiB = 1024;
constexpr uint64_t kMiB = 1024 * kKiB;
constexpr uint64_t kGiB = 1024 * kMiB;

// Ranges. RFC 5321 4.5.3.1: a command line is at least 512 octets, a text line at least 1000.
constexpr uint64_t kMinCommandLine = 512, kMaxCommandLine = kMiB;
constexpr uint64_t kMinTextLine = 1000, kMaxTextLine = 16 * kMiB;
constexpr uint64_t kMinMessageSize = kKiB, kMaxMessageSize = 2 * kGiB;
constexpr uint64_t kMaxRecipients = 100000;
constexpr uint64_t kMaxErrors = 1000;
constexpr uint64_t kMaxConnections = 100000;
constexpr uint64_t kMaxTimeoutSeconds = 3600;
constexpr uint64_t kMaxAnalysisQueue = 10000000;

// "a,b , c" -> {"a", "b", "c"}; "none" or "" -> {}.
std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::string item;
  const auto flush = [&] {
    const auto b = item.find_first_not_of(" \t");
    const auto e = item.find_last_not_of(" \t");
    if (b != std::string::npos) out.push_back(item.substr(b, e - b + 1));
    item.clear();
  };
  for (char c : text) {
    if (c == ',') {
      flush();
    } else {
      item.push_back(c);
    }
  }
  flush();
  if (out.size() == 1 && out[0] == "none") out.clear();
  return out;
}

std::string join_list(const std::vector<std::string>& items) {
  if (items.empty()) return "none";
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ",") + i;
  return out;
}
constexpr uint64_t kMaxThreads = 256;

std::string seconds(int s) { return std::to_string(s) + "s"; }
std::string per_core(int n) { return n == 0 ? "0 (half the cores, at least 1)" : std::to_string(n); }
std::string yes_no(bool b) { return b ? "true" : "false"; }

// Row helpers: the value column of the tables below.
constexpr ValueSpec text(std::string_view arg) { return {ValueType::kText, arg}; }
constexpr ValueSpec hostname() { return {ValueType::kHostname, "NAME"}; }
constexpr ValueSpec boolean() { return {ValueType::kBool, ""}; }
constexpr ValueSpec choice(std::string_view choices) { return {ValueType::kChoice, choices}; }
constexpr ValueSpec endpoint() { return {ValueType::kEndpoint, "HOST:PORT"}; }
constexpr ValueSpec count(std::string_view arg, uint64_t min, uint64_t max) {
  return {ValueType::kCount, arg, min, max};
}
constexpr ValueSpec size(uint64_t min, uint64_t max) { return {ValueType::kSize, "BYTES", min, max}; }
constexpr ValueSpec timeout() { return {ValueType::kSeconds, "SECONDS", 1, kMaxTimeoutSeconds}; }

// Row: flag, value (type, placeholder, range), help line, has a MAILJAR_* variable, default as shown,
// assignment.
const ServeOption kServeOptions[] = {
    {"smtp", endpoint(), "SMTP listener (STARTTLS is offered when a certificate is configured).", true,
     [](const ServeOptions& o) { return o.smtp.text(); },
     [](ServeOptions& o, const Value& v) { o.smtp = v.endpoint; }},
    {"http", endpoint(), "HTTP listener: the web UI and the REST API.", true,
     [](const ServeOptions& o) { return o.http.text(); },
     [](ServeOptions& o, const Value& v) { o.http = v.endpoint; }},
    {"data-dir", text("DIR"), "Where the database and generated TLS files are kept.", true,
     [](const ServeOptions& o) { return o.data_dir; },
     [](ServeOptions& o, const Value& v) { o.data_dir = v.text; }},
    {"smtps", endpoint(),
     "Also listen for SMTPS (implicit TLS, RFC 8314), usually :1465. Needs a certificate.", true,
     [](const ServeOptions& o) { return o.smtps_enabled ? o.smtps.text() : std::string("off"); },
     [](ServeOptions& o, const Value& v) {
       o.smtps = v.endpoint;
       o.smtps_enabled = true;
     }},
    {"tls-cert", text("FILE"), "PEM certificate (chain) for STARTTLS and SMTPS; needs --tls-key.", true,
     [](const ServeOptions& o) { return o.tls_cert.empty() ? std::string("none") : o.tls_cert; },
     [](ServeOptions& o, const Value& v) { o.tls_cert = v.text; }},
    {"tls-key", text("FILE"), "PEM private key of --tls-cert.", true,
     [](const ServeOptions& o) { return o.tls_key.empty() ? std::string("none") : o.tls_key; },
     [](ServeOptions& o, const Value& v) { o.tls_key = v.text; }},
    {"tls-self-signed", boolean(), "Create <data-dir>/tls/{cert,key}.pem if missing and use them.", true,
     [](const ServeOptions& o) { return yes_no(o.tls_self_signed); },
     [](ServeOptions& o, const Value& v) { o.tls_self_signed = v.flag; }},
    {"smtp-auth", choice("off|optional|required"),
     "SMTP AUTH: off, optional (anonymous mail goes to the default inbox) or required.", true,
     [](const ServeOptions& o) {
       return std::string(o.smtp_auth == smtp::AuthMode::kOff        ? "off"
                          : o.smtp_auth == smtp::AuthMode::kOptional ? "optional"
                                                                     : "required");
     },
     [](ServeOptions& o, const Value& v) {
       o.smtp_auth = v.text == "off"        ? smtp::AuthMode::kOff
                     : v.text == "optional" ? smtp::AuthMode::kOptional
                                            : smtp::AuthMode::kRequired;
     }},
    {"auth", choice("off|on"),
     "API access: off (open, a sandbox on a developer's machine) or on (every request needs a token from "
     "`mailjar token create`, as Bearer or HTTP Basic).",
     true, [](const ServeOptions& o) { return std::string(o.api_auth ? "on" : "off"); },
     [](ServeOptions& o, const Value& v) { o.api_auth = v.text == "on"; }},
    {"smtp-auth-cleartext", choice("allow|deny"),
     "Whether AUTH is allowed before STARTTLS (deny: only over TLS).", true,
     [](const ServeOptions& o) { return std::string(o.allow_cleartext_auth ? "allow" : "deny"); },
     [](ServeOptions& o, const Value& v) { o.allow_cleartext_auth = v.text == "allow"; }},
    {"hostname", hostname(), "Our name in the SMTP banner and EHLO reply.", true,
     [](const ServeOptions& o) { return o.hostname; },
     [](ServeOptions& o, const Value& v) { o.hostname = v.text; }},
    {"max-command-line", size(kMinCommandLine, kMaxCommandLine),
     "Longest SMTP command line incl. CRLF; longer ones get 500 5.5.2.", true,
     [](const ServeOptions& o) { return format_size(o.limits.max_command_line); },
     [](ServeOptions& o, const Value& v) { o.limits.max_command_line = v.number; }},
    {"max-text-line", size(kMinTextLine, kMaxTextLine),
     "Longest line of message content incl. CRLF; longer ones get 500 5.5.2.", true,
     [](const ServeOptions& o) { return format_size(o.limits.max_text_line); },
     [](ServeOptions& o, const Value& v) { o.limits.max_text_line = v.number; }},
    {"max-message-size", size(kMinMessageSize, kMaxMessageSize),
     "Largest message (announced as SIZE); bigger ones get 552 5.3.4.", true,
     [](const ServeOptions& o) { return format_size(o.limits.max_message_size); },
     [](ServeOptions& o, const Value& v) { o.limits.max_message_size = v.number; }},
    {"max-recipients", count("N", 1, kMaxRecipients), "RCPT TO addresses per message; more get 452 4.5.3.",
     true, [](const ServeOptions& o) { return std::to_string(o.limits.max_recipients); },
     [](ServeOptions& o, const Value& v) { o.limits.max_recipients = v.number; }},
    {"max-errors", count("N", 1, kMaxErrors), "Error replies per session before 421 4.7.0 and disconnect.",
     true, [](const ServeOptions& o) { return std::to_string(o.limits.max_errors); },
     [](ServeOptions& o, const Value& v) { o.limits.max_errors = static_cast<int>(v.number); }},
    {"bare-newline", choice("accept|reject"),
     "Message with a bare CR or LF: accept it (flagged) or reject it with 554 5.6.0.", true,
     [](const ServeOptions& o) {
       return std::string(o.bare_newline == smtp::BareNewlinePolicy::kAcceptAndFlag ? "accept" : "reject");
     },
     [](ServeOptions& o, const Value& v) {
       o.bare_newline =
           v.text == "accept" ? smtp::BareNewlinePolicy::kAcceptAndFlag : smtp::BareNewlinePolicy::kReject;
     }},
    {"sync", choice("full|normal"),
     "Before a 250: fsync each group commit (full), or write it to the WAL only (normal: survives a crash of "
     "mailjar, not of the machine).",
     true, [](const ServeOptions& o) { return std::string(o.sync_full ? "full" : "normal"); },
     [](ServeOptions& o, const Value& v) { o.sync_full = v.text == "full"; }},
    {"max-connections", count("N", 1, kMaxConnections), "SMTP sessions at once; more get 421 4.7.0.", true,
     [](const ServeOptions& o) { return std::to_string(o.max_connections); },
     [](ServeOptions& o, const Value& v) { o.max_connections = static_cast<int>(v.number); }},
    {"max-pending-data", size(kMiB, 1024 * kGiB),
     "Message content all SMTP sessions together may hold in memory, from DATA until it is stored; beyond it "
     "DATA (or the end of a message that no longer fits) gets 452 4.3.1 and the client retries later. Never less "
     "than --max-message-size.",
     true, [](const ServeOptions& o) { return format_size(o.max_pending_data); },
     [](ServeOptions& o, const Value& v) { o.max_pending_data = v.number; }},
    {"command-timeout", timeout(),
     "Time a client may take to send one whole command line, however slowly it trickles in (RFC 5321 4.5.3.2); "
     "then 421 4.4.2.",
     true, [](const ServeOptions& o) { return seconds(o.command_timeout_s); },
     [](ServeOptions& o, const Value& v) { o.command_timeout_s = static_cast<int>(v.number); }},
    {"data-timeout", timeout(),
     "Time to send message content (DATA, or one BDAT chunk): each byte received adds 1/--min-data-rate "
     "seconds, but never more than this is left; then 421 4.4.2.",
     true, [](const ServeOptions& o) { return seconds(o.data_timeout_s); },
     [](ServeOptions& o, const Value& v) { o.data_timeout_s = static_cast<int>(v.number); }},
    {"min-data-rate", size(0, kGiB),
     "Bytes per second of message content that keep extending --data-timeout (Postfix's smtpd_min_data_rate); 0: "
     "the data timeout is a total deadline.",
     true, [](const ServeOptions& o) { return format_size(o.min_data_rate); },
     [](ServeOptions& o, const Value& v) { o.min_data_rate = v.number; }},
    {"http-max-connections", count("N", 1, kMaxConnections), "HTTP connections at once.", true,
     [](const ServeOptions& o) { return std::to_string(o.http_max_connections); },
     [](ServeOptions& o, const Value& v) { o.http_max_connections = static_cast<int>(v.number); }},
    {"http-max-body", size(kKiB, 2 * kGiB), "Largest HTTP request body; bigger ones get 413.", true,
     [](const ServeOptions& o) { return format_size(o.http_max_body); },
     [](ServeOptions& o, const Value& v) { o.http_max_body = v.number; }},
    {"http-timeout", timeout(), "Time a client may take to send an HTTP request.", true,
     [](const ServeOptions& o) { return seconds(o.http_timeout_s); },
     [](ServeOptions& o, const Value& v) { o.http_timeout_s = static_cast<int>(v.number); }},
    {"http-max-json", size(kKiB, 2 * kGiB),
     "Largest JSON request body (all but POST /api/v1/send, which --max-message-size bounds); bigger ones get "
     "413.",
     true, [](const ServeOptions& o) { return format_size(o.http_max_json); },
     [](ServeOptions& o, const Value& v) { o.http_max_json = v.number; }},
    {"http-max-json-depth", count("N", 4, 1000), "Arrays and objects nested in a JSON request body; deeper gets 400.",
     true, [](const ServeOptions& o) { return std::to_string(o.http_max_json_depth); },
     [](ServeOptions& o, const Value& v) { o.http_max_json_depth = static_cast<int>(v.number); }},
    {"allowed-hosts", text("LIST"),
     "Host names (comma-separated) the API answers besides loopback ones when --http listens on loopback "
     "(DNS rebinding protection), and accepted in Origin headers; e.g. a reverse proxy's name.",
     true, [](const ServeOptions& o) { return join_list(o.allowed_hosts); },
     [](ServeOptions& o, const Value& v) { o.allowed_hosts = split_list(v.text); }},
    {"http-workers", count("N", 0, kMaxThreads),
     "API worker threads, apart from the workers that parse mail (0 = half the cores, at least 1).", true,
     [](const ServeOptions& o) { return per_core(o.http_workers); },
     [](ServeOptions& o, const Value& v) { o.http_workers = static_cast<int>(v.number); }},
    {"mime-max-parts", count("N", 1, 100000),
     "MIME parts of a message that are parsed (for its summary, views and parts); the rest is left unparsed.",
     true, [](const ServeOptions& o) { return std::to_string(o.mime_max_parts); },
     [](ServeOptions& o, const Value& v) { o.mime_max_parts = static_cast<int>(v.number); }},
    {"mime-max-depth", count("N", 1, 1000), "Nesting of multiparts and attached messages that is walked.", true,
     [](const ServeOptions& o) { return std::to_string(o.mime_max_depth); },
     [](ServeOptions& o, const Value& v) { o.mime_max_depth = static_cast<int>(v.number); }},
    {"detail-cache", size(0, 16 * kGiB),
     "Parsed messages kept for the API's views (detail, headers, HTML, text), so that opening a message parses it "
     "once; 0: none.",
     true, [](const ServeOptions& o) { return format_size(o.detail_cache); },
     [](ServeOptions& o, const Value& v) { o.detail_cache = v.number; }},
    {"mailhog-max-body", size(kKiB, 2 * kGiB),
     "MailHog API v2: bytes of a message's Content.Body and Raw.Data shown; the rest is cut, with a marker.",
     true, [](const ServeOptions& o) { return format_size(o.mailhog_max_body); },
     [](ServeOptions& o, const Value& v) { o.mailhog_max_body = v.number; }},
    {"mailhog-max-reply", size(64 * kKiB, 2 * kGiB),
     "MailHog API v2: bytes of one reply; a page ends early there (its count says how many items it has).", true,
     [](const ServeOptions& o) { return format_size(o.mailhog_max_reply); },
     [](ServeOptions& o, const Value& v) { o.mailhog_max_reply = v.number; }},
    {"threads", count("N", 0, kMaxThreads), "Network threads (0 = half the cores, at least 1).", true,
     [](const ServeOptions& o) { return per_core(o.threads); },
     [](ServeOptions& o, const Value& v) { o.threads = static_cast<int>(v.number); }},
    {"workers", count("N", 0, kMaxThreads), "Parse and storage worker threads (0 = half the cores, at least 1).", true,
     [](const ServeOptions& o) { return per_core(o.workers); },
     [](ServeOptions& o, const Value& v) { o.workers = static_cast<int>(v.number); }},
    {"analyzers", text("LIST"),
     "Analyzers run on every message, comma-separated, or none. An unknown name is refused at start (the message "
     "lists the known ones; GET /api/v1/info shows them too).",
     true, [](const ServeOptions& o) { return join_list(o.analyzers); },
     [](ServeOptions& o, const Value& v) { o.analyzers = split_list(v.text); }},
    {"analysis-queue", count("N", 0, kMaxAnalysisQueue),
     "Messages waiting for background analysis; beyond it a message is analysed only when asked (POST "
     "/api/v1/message/{ID}/analysis). 0: no background analysis.",
     true, [](const ServeOptions& o) { return std::to_string(o.analysis_queue); },
     [](ServeOptions& o, const Value& v) { o.analysis_queue = static_cast<std::size_t>(v.number); }},
    {"log-level", choice("error|warn|info|debug"), "Least severe log messages written.", true,
     [](const ServeOptions& o) { return o.log_level; },
     [](ServeOptions& o, const Value& v) { o.log_level = v.text; }},
};

const AdminOption kAdminOptions[] = {
    {"admin", boolean(), "token create: an admin token (every project) instead of a project token.", false,
     [](const AdminOptions& o) { return yes_no(o.admin); },
     [](AdminOptions& o, const Value& v) { o.admin = v.flag; }},
    {"project", text("NAME"), "Project the new inbox (or project token) belongs to.", false,
     [](const AdminOptions& o) { return o.project; },
     [](AdminOptions& o, const Value& v) { o.project = v.text; }},
    {"data-dir", text("DIR"), "Where mailjar keeps its data (the directory `serve` uses).", true,
     [](const AdminOptions& o) { return o.data_dir; },
     [](AdminOptions& o, const Value& v) { o.data_dir = v.text; }},
    {"json", boolean(), "Print machine-readable JSON instead of text.", false,
     [](const AdminOptions& o) { return yes_no(o.json); },
     [](AdminOptions& o, const Value& v) { o.json = v.flag; }},
};

const CommandSpec kCommands[] = {
    {"serve", Command::kServe, "", "",
     "Run the SMTP server that captures mail and the HTTP server (UI, API)."},
    {"project create", Command::kProjectCreate, "NAME", "data-dir json", "Create a project."},
    {"project list", Command::kProjectList, "", "data-dir json", "List the projects."},
    {"inbox create", Command::kInboxCreate, "NAME", "project data-dir json",
     "Create an inbox, with its own SMTP credentials, in a project."},
    {"inbox list", Command::kInboxList, "", "data-dir json", "List the inboxes and their SMTP credentials."},
    {"token create", Command::kTokenCreate, "NAME", "project admin data-dir json",
     "Create an API token for --auth on: for one project (--project), or for all (--admin). Printed once."},
};

// ---- small helpers ---------------------------------------------------------------------------------

core::Error invalid(std::string message) { return core::make_error("invalid_argument", std::move(message)); }

std::vector<std::string_view> words(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    std::size_t start = i;
    while (i < text.size() && text[i] != ' ') ++i;
    if (i > start) out.push_back(text.substr(start, i - start));
  }
  return out;
}

bool is_help(std::string_view arg) { return arg == "-h" || arg == "--help"; }
bool is_version(std::string_view arg) { return arg == "-V" || arg == "--version"; }

// " (did you mean 'x'?)" when one candidate is close to `typed`, else "".
std::string suggestion(std::string_view typed, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_distance = 3;  // suggest only within two edits, or an unambiguous prefix
  for (const auto& c : candidates) {
    const std::size_t d = edit_distance(typed, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  if (best.empty() && typed.size() >= 4) {
    for (const auto& c : candidates) {
      if (c.starts_with(typed)) {
        if (!best.empty()) return "";
        best = c;
      }
    }
  }
  return best.empty() ? "" : " (did you mean '" + best + "'?)";
}

template <typename O>
std::string usage_fragment(const OptionSpec<O>& spec) {
  if (spec.value.type == ValueType::kBool) return "--" + std::string(spec.flag) + "[=true|false]";
  return "--" + std::string(spec.flag) + " " + std::string(spec.value.arg);
}

std::string range_text(const ValueSpec& v) {
  switch (v.type) {
    case ValueType::kCount:
      return std::to_string(v.min) + "-" + std::to_string(v.max);
    case ValueType::kSize:
      return format_size(v.min) + "-" + format_size(v.max);
    case ValueType::kSeconds:
      return std::to_string(v.min) + "-" + std::to_string(v.max) + "s";
    default:
      return "";
  }
}

// Three lines per option: the flag and its argument, what it is for, default / range / variable.
template <typename O>
void append_option_help(std::string& out, const OptionSpec<O>& spec, const O& defaults) {
  out += "  " + usage_fragment(spec) + "\n";
  out += "      " + std::string(spec.help) + "\n";
  out += "      default: " + spec.show_default(defaults);
  if (const std::string range = range_text(spec.value); !range.empty()) out += "   range: " + range;
  if (spec.has_env) out += "   env: " + env_var_name(spec.flag);
  out += "\n";
}

const AdminOption* find_admin_option(std::string_view flag) {
  for (const auto& spec : kAdminOptions) {
    if (spec.flag == flag) return &spec;
  }
  return nullptr;
}

std::vector<const AdminOption*> admin_options_of(const CommandSpec& command) {
  std::vector<const AdminOption*> out;
  for (std::string_view flag : words(command.admin_flags)) {
    if (const AdminOption* spec = find_admin_option(flag)) out.push_back(spec);
  }
  return out;
}

std::vector<const ServeOption*> all_serve_options() {
  std::vector<const ServeOption*> out;
  for (const auto& spec : kServeOptions) out.push_back(&spec);
  return out;
}

std::string usage_line(const CommandSpec& command) {
  std::string out = "mailjar " + std::string(command.name);
  if (command.kind == Command::kServe) return out + " [options]";
  for (const AdminOption* spec : admin_options_of(command)) out += " [" + usage_fragment(*spec) + "]";
  if (!command.operand.empty()) out += " " + std::string(command.operand);
  return out;
}

std::string command_column(const CommandSpec& command) {
  std::string left = std::string(command.name);
  if (!command.operand.empty()) left += " " + std::string(command.operand);
  return left;
}

// One row per command of `group` (all commands when empty), plus `extra` rows, in aligned columns.
void append_command_list(std::string& out, std::string_view group,
                         const std::vector<std::pair<std::string, std::string>>& extra = {}) {
  std::vector<std::pair<std::string, std::string>> rows;
  for (const auto& c : kCommands) {
    if (group.empty() || words(c.name).front() == group) rows.emplace_back(command_column(c), c.summary);
  }
  rows.insert(rows.end(), extra.begin(), extra.end());
  std::size_t width = 0;
  for (const auto& row : rows) width = std::max(width, row.first.size());
  for (const auto& [left, summary] : rows)
    out += "  " + left + std::string(width + 3 - left.size(), ' ') + summary + "\n";
}

const CommandSpec& serve_command() {
  for (const auto& c : kCommands) {
    if (c.kind == Command::kServe) return c;
  }
  return kCommands[0];
}

bool is_group(std::string_view word) {
  for (const auto& c : kCommands) {
    auto w = words(c.name);
    if (w.size() == 2 && w[0] == word) return true;
  }
  return false;
}

std::string group_help(std::string_view group) {
  std::string out = "Usage: mailjar " + std::string(group) + " COMMAND [options]\n\nCommands:\n";
  append_command_list(out, group);
  out += "\nRun 'mailjar " + std::string(group) + " COMMAND --help' for the options of a command.\n";
  return out;
}

const CommandSpec* find_command(std::string_view first, std::string_view second) {
  for (const auto& c : kCommands) {
    auto w = words(c.name);
    if (w.size() == 1 && w[0] == first) return &c;
    if (w.size() == 2 && w[0] == first && w[1] == second) return &c;
  }
  return nullptr;
}

std::vector<std::string> top_level_words() {
  std::vector<std::string> out{"help"};
  for (const auto& c : kCommands) {
    std::string w(words(c.name).front());
    if (std::find(out.begin(), out.end(), w) == out.end()) out.push_back(w);
  }
  return out;
}

std::vector<std::string> sub_words(std::string_view group) {
  std::vector<std::string> out;
  for (const auto& c : kCommands) {
    auto w = words(c.name);
    if (w.size() == 2 && w[0] == group) out.emplace_back(w[1]);
  }
  return out;
}

std::string join_or(const std::vector<std::string>& items) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += i + 1 == items.size() ? " or " : ", ";
    out += items[i];
  }
  return out;
}

// ---- parsing -----------------------------------------------------------------------------------------

using Args = std::vector<std::string_view>;
using EnvMap = std::map<std::string, std::string, std::less<>>;
using Sources = std::map<std::string, std::string, std::less<>>;  // flag -> "--flag" or "MAILJAR_FLAG"

EnvMap read_env(const char* const* envp) {
  EnvMap env;
  if (envp == nullptr) return env;
  for (; *envp != nullptr; ++envp) {
    std::string_view entry(*envp);
    const std::size_t eq = entry.find('=');
    if (eq == std::string_view::npos || !entry.starts_with("MAILJAR_")) continue;
    env.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));  // first one wins
  }
  return env;
}

template <typename O>
struct FlagUse {
  const OptionSpec<O>* spec;
  std::string value;
};

template <typename O>
struct Tokens {
  std::vector<FlagUse<O>> uses;  // in command-line order
  std::vector<std::string> positionals;
  bool help = false;
};

// Splits the arguments after the command words into flag uses and positional arguments. A help flag
// anywhere (outside "--" and flag values) wins over every error.
template <typename O>
core::Result<Tokens<O>> tokenize(const Args& args, const std::vector<const OptionSpec<O>*>& allowed,
                                 const CommandSpec& command) {
  const std::string see = "; see 'mailjar " + std::string(command.name) + " --help'";
  Tokens<O> tokens;
  std::optional<core::Error> first_error;
  auto record = [&](std::string message) {
    if (!first_error) first_error = invalid(std::move(message));
  };
  bool only_positional = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (only_positional || arg == "-" || !arg.starts_with("-")) {
      tokens.positionals.emplace_back(arg);
      continue;
    }
    if (arg == "--") {
      only_positional = true;
      continue;
    }
    if (is_help(arg)) {
      tokens.help = true;
      return tokens;
    }
    const std::size_t eq = arg.find('=');
    const std::string_view name = arg.substr(0, eq);
    const OptionSpec<O>* spec = nullptr;
    if (name.starts_with("--")) {
      for (const auto* candidate : allowed) {
        if (candidate->flag == name.substr(2)) spec = candidate;
      }
    }
    if (spec == nullptr) {
      std::vector<std::string> candidates{"--help"};
      for (const auto* candidate : allowed) candidates.push_back("--" + std::string(candidate->flag));
      record("mailjar " + std::string(command.name) + ": unknown option '" + std::string(name) + "'" +
             suggestion(name, candidates) + see);
      continue;
    }
    if (eq != std::string_view::npos) {
      tokens.uses.push_back({spec, std::string(arg.substr(eq + 1))});
    } else if (spec->value.type == ValueType::kBool) {
      tokens.uses.push_back({spec, "true"});
    } else if (i + 1 < args.size() && !args[i + 1].starts_with("--")) {
      tokens.uses.push_back({spec, std::string(args[++i])});
    } else {
      record(std::string(name) + ": expected " + describe_expected(spec->value) + ", got nothing");
    }
  }
  if (first_error) return *first_error;
  return tokens;
}

template <typename O>
core::Result<void> apply(O& options, const OptionSpec<O>& spec, std::string_view text,
                         const std::string& source) {
  auto value = parse_value(spec.value, text);
  if (!value) return invalid(source + ": expected " + describe_expected(spec.value) + ", got " + quote(text));
  spec.assign(options, *value);
  return {};
}

// Built-in defaults are already in `options`; variables come next, then flags. A variable whose flag is
// also given is not looked at (the flag replaces it), and a variable set to "" counts as unset.
template <typename O>
core::Result<void> apply_all(O& options, const std::vector<const OptionSpec<O>*>& allowed,
                             const Tokens<O>& tokens, const EnvMap& env, Sources& sources) {
  std::set<std::string_view> flagged;
  for (const auto& use : tokens.uses) flagged.insert(use.spec->flag);
  for (const auto* spec : allowed) {
    if (!spec->has_env || flagged.contains(spec->flag)) continue;
    const std::string var = env_var_name(spec->flag);
    auto it = env.find(var);
    if (it == env.end() || it->second.empty()) continue;
    if (auto r = apply(options, *spec, it->second, var); !r) return r;
    sources[std::string(spec->flag)] = var;
  }
  for (const auto& use : tokens.uses) {
    const std::string source = "--" + std::string(use.spec->flag);
    if (auto r = apply(options, *use.spec, use.value, source); !r) return r;
    sources[std::string(use.spec->flag)] = source;
  }
  return {};
}

std::string unexpected_argument(const CommandSpec& command, const std::string& arg,
                                const std::string& after) {
  std::string message = "mailjar " + std::string(command.name) + ": unexpected argument '" + arg + "'";
  if (parse_bool(arg) && !after.empty()) {
    message += " (a boolean flag takes its value as " + after + "=" + arg + ")";
  }
  return message + "; see 'mailjar " + std::string(command.name) + " --help'";
}

// The flag written just before positional `arg`, if that flag is boolean ("--tls-self-signed false").
template <typename O>
std::string boolean_flag_before(const Args& args, const std::string& arg,
                                const std::vector<const OptionSpec<O>*>& allowed) {
  for (std::size_t i = 1; i < args.size(); ++i) {
    if (args[i] != arg) continue;
    for (const auto* spec : allowed) {
      if (spec->value.type == ValueType::kBool && args[i - 1] == "--" + std::string(spec->flag)) {
        return std::string(args[i - 1]);
      }
    }
  }
  return "";
}

bool is_wildcard(const std::string& host) { return host == "0.0.0.0" || host == "::"; }
bool is_ipv6(const std::string& host) { return host.find(':') != std::string::npos; }

// Two listeners on the same port collide when they share the host or one is a wildcard of the other's
// address family ("::" is dual-stack and collides with everything).
bool collide(const Endpoint& a, const Endpoint& b) {
  if (a.port == 0 || a.port != b.port) return false;
  if (a.host == b.host || a.host == "::" || b.host == "::") return true;
  if (is_wildcard(a.host) && !is_ipv6(b.host)) return true;
  if (is_wildcard(b.host) && !is_ipv6(a.host)) return true;
  return false;
}

core::Result<void> validate_serve(const ServeOptions& o, const Sources& sources) {
  auto name = [&](std::string_view flag) {
    auto it = sources.find(flag);
    return it != sources.end() ? it->second : "--" + std::string(flag);
  };
  const bool has_cert = !o.tls_cert.empty();
  const bool has_key = !o.tls_key.empty();
  if (has_cert != has_key) {
    const std::string given = has_cert ? name("tls-cert") : name("tls-key");
    const std::string missing = has_cert ? "--tls-key" : "--tls-cert";
    return invalid(
        given + " is set but " + missing +
        " is not: --tls-cert and --tls-key must be given together (a PEM certificate and its key)");
  }
  if (has_cert && o.tls_self_signed) {
    return invalid(name("tls-self-signed") +
                   " cannot be combined with --tls-cert/--tls-key: use your certificate or a generated one");
  }
  const bool tls = has_cert || o.tls_self_signed;
  if (o.smtps_enabled && !tls) {
    return invalid(name("smtps") +
                   ": implicit TLS needs a certificate: give --tls-cert and --tls-key, or --tls-self-signed");
  }
  if (!tls && o.smtp_auth == smtp::AuthMode::kRequired && !o.allow_cleartext_auth) {
    return invalid(name("smtp-auth-cleartext") + " deny with " + name("smtp-auth") +
                   " required and no TLS configured: nobody could ever log in; give --tls-cert and --tls-key "
                   "or --tls-self-signed, or allow cleartext AUTH");
  }
  std::vector<std::pair<std::string, const Endpoint*>> listeners{{name("smtp"), &o.smtp},
                                                                 {name("http"), &o.http}};
  if (o.smtps_enabled) listeners.emplace_back(name("smtps"), &o.smtps);
  for (std::size_t i = 0; i < listeners.size(); ++i) {
    for (std::size_t j = i + 1; j < listeners.size(); ++j) {
      if (collide(*listeners[i].second, *listeners[j].second)) {
        return invalid(listeners[i].first + " (" + listeners[i].second->text() + ") and " +
                       listeners[j].first + " (" + listeners[j].second->text() +
                       ") would listen on the same port");
      }
    }
  }
  return {};
}

Command help_command(std::string text) {
  Command c;
  c.kind = Command::kHelp;
  c.help_text = std::move(text);
  return c;
}

core::Result<Command> parse_serve(const CommandSpec& spec, const Args& args, const EnvMap& env) {
  const auto allowed = all_serve_options();
  auto tokens = tokenize<ServeOptions>(args, allowed, spec);
  if (!tokens) return tokens.error();
  if (tokens->help) return help_command(serve_help());
  if (!tokens->positionals.empty()) {
    const std::string& arg = tokens->positionals.front();
    return invalid(unexpected_argument(spec, arg, boolean_flag_before(args, arg, allowed)));
  }
  Command command;
  command.kind = Command::kServe;
  Sources sources;
  if (auto r = apply_all(command.serve, allowed, *tokens, env, sources); !r) return r.error();
  if (auto r = validate_serve(command.serve, sources); !r) return r.error();
  return command;
}

core::Result<Command> parse_admin(const CommandSpec& spec, const Args& args, const EnvMap& env) {
  const auto allowed = admin_options_of(spec);
  auto tokens = tokenize<AdminOptions>(args, allowed, spec);
  if (!tokens) return tokens.error();
  if (tokens->help) return help_command(command_help(spec));
  const std::size_t wanted = spec.operand.empty() ? 0 : 1;
  if (tokens->positionals.size() < wanted) {
    return invalid("mailjar " + std::string(spec.name) + ": missing " + std::string(spec.operand) +
                   " (usage: " + usage_line(spec) + ")");
  }
  if (tokens->positionals.size() > wanted) {
    const std::string& arg = tokens->positionals[wanted];
    return invalid(unexpected_argument(spec, arg, boolean_flag_before(args, arg, allowed)));
  }
  Command command;
  command.kind = spec.kind;
  Sources sources;
  if (auto r = apply_all(command.admin, allowed, *tokens, env, sources); !r) return r.error();
  command.admin.args = std::move(tokens->positionals);
  return command;
}

// `mailjar help [COMMAND...]`
core::Result<Command> parse_help(const Args& topic) {
  if (topic.empty()) return help_command(top_help());
  if (is_group(topic[0])) {
    if (topic.size() == 1) return help_command(group_help(topic[0]));
    if (const CommandSpec* c = find_command(topic[0], topic[1]); c != nullptr && topic.size() == 2) {
      return help_command(command_help(*c));
    }
  } else if (const CommandSpec* c = find_command(topic[0], ""); c != nullptr && topic.size() == 1) {
    return help_command(command_help(*c));
  }
  std::string joined;
  for (auto word : topic) joined += (joined.empty() ? "" : " ") + std::string(word);
  return invalid("mailjar help: unknown command '" + joined + "'; see 'mailjar --help'");
}

}  // namespace

std::span<const ServeOption> serve_options() { return kServeOptions; }
std::span<const AdminOption> admin_options() { return kAdminOptions; }
std::span<const CommandSpec> commands() { return kCommands; }

std::string env_var_name(std::string_view flag) {
  std::string out = "MAILJAR_";
  for (char c : flag) out += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string command_help(const CommandSpec& command) {
  if (command.kind == Command::kServe) return serve_help();
  std::string out =
      "Usage: " + usage_line(command) + "\n\n" + std::string(command.summary) + "\n\nOptions:\n";
  const AdminOptions defaults;
  for (const AdminOption* spec : admin_options_of(command)) append_option_help(out, *spec, defaults);
  out += "  -h, --help\n      Show this help.\n";
  return out;
}

}  // namespace internal

std::string top_help() {
  std::string out = "mailjar " + std::string(kVersion) +
                    " - an email testing sandbox: a fake SMTP server that captures mail,\n"
                    "with a web UI and a REST API.\n\nUsage: mailjar COMMAND [options]\n\nCommands:\n";
  internal::append_command_list(
      out, "", {{"help [COMMAND]", "Show the help of a command (same as 'mailjar COMMAND --help')."}});
  out += "\nOptions:\n  -h, --help       Show this help.\n  -V, --version    Print the version.\n";
  out += "\nRun 'mailjar COMMAND --help' for the options of a command, e.g. 'mailjar serve --help'.\n";
  out += "Every option of 'serve' can also be set through a MAILJAR_* environment variable.\n";
  return out;
}

std::string serve_help() {
  const internal::CommandSpec& command = internal::serve_command();
  std::string out =
      "Usage: " + internal::usage_line(command) + "\n\n" + std::string(command.summary) + "\n\nOptions:\n";
  const ServeOptions defaults;
  for (const auto& spec : internal::kServeOptions) internal::append_option_help(out, spec, defaults);
  out += "  -h, --help\n      Show this help.\n";
  out +=
      "\nValues: sizes are bytes or a number with suffix K, M or G (1K = 1024); durations are seconds or a\n"
      "number with suffix s or m; addresses are HOST:PORT, [IPV6]:PORT, :PORT (all interfaces) or PORT,\n"
      "and port 0 picks a free port. Write '--flag value' or '--flag=value'; boolean flags are '--flag'\n"
      "or '--flag=false'.\n"
      "Precedence: built-in default < MAILJAR_* environment variable < command-line flag. A variable set\n"
      "to an empty string counts as unset.\n";
  return out;
}

core::Result<Command> parse_command_line(int argc, const char* const* argv, const char* const* envp) {
  internal::Args args;
  for (int i = 1; argv != nullptr && i < argc && argv[i] != nullptr; ++i) args.emplace_back(argv[i]);
  const internal::EnvMap env = internal::read_env(envp);

  if (args.empty() || internal::is_help(args[0])) return internal::help_command(top_help());
  const std::string_view first = args[0];
  if (internal::is_version(first)) {
    Command command;
    command.kind = Command::kVersion;
    return command;
  }
  if (first == "help") return internal::parse_help(internal::Args(args.begin() + 1, args.end()));
  if (first.starts_with("-")) {
    return internal::invalid("mailjar: unknown option '" + std::string(first) + "'" +
                             internal::suggestion(first, {"--help", "--version"}) + "; see 'mailjar --help'");
  }
  if (internal::is_group(first)) {
    const std::string group(first);
    if (args.size() < 2) {
      return internal::invalid("mailjar " + group + ": missing command (" +
                               internal::join_or(internal::sub_words(group)) + "); see 'mailjar " + group +
                               " --help'");
    }
    if (internal::is_help(args[1])) return internal::help_command(internal::group_help(group));
    const internal::CommandSpec* spec = internal::find_command(first, args[1]);
    if (spec == nullptr) {
      return internal::invalid("mailjar " + group + ": unknown command '" + std::string(args[1]) + "'" +
                               internal::suggestion(args[1], internal::sub_words(group)) + "; see 'mailjar " +
                               group + " --help'");
    }
    return internal::parse_admin(*spec, internal::Args(args.begin() + 2, args.end()), env);
  }
  const internal::CommandSpec* spec = internal::find_command(first, "");
  if (spec == nullptr) {
    return internal::invalid("mailjar: unknown command '" + std::string(first) + "'" +
                             internal::suggestion(first, internal::top_level_words()) +
                             "; see 'mailjar --help'");
  }
  return internal::parse_serve(*spec, internal::Args(args.begin() + 1, args.end()), env);
}

}  // namespace mailjar::config
