// NAME
//   config - command-line flags + MAILJAR_* environment variables -> validated Options structs.
// CONTRACT
//   Every option has exactly one documented default (here) and one help line (in options.cpp's table).
//   Precedence: built-in default < environment variable < command-line flag. Validation happens once,
//   in parse_*(); the rest of the program takes the structs by const reference and trusts them.
//   Environment variable names: "MAILJAR_" + the long flag name upper-cased with '-' -> '_'
//   (--max-message-size -> MAILJAR_MAX_MESSAGE_SIZE).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/result.h"
#include "smtp/session.h"

namespace mailjar::config {

struct Endpoint {
  std::string host;        // "127.0.0.1", "0.0.0.0", "::1", "localhost"
  uint16_t port = 0;       // 0 = pick a free port (the bound port is logged)
  std::string text() const;
};

// `mailjar serve`
struct ServeOptions {
  Endpoint smtp{"0.0.0.0", 1025};        // --smtp HOST:PORT
  Endpoint http{"0.0.0.0", 8025};        // --http HOST:PORT
  std::string data_dir = "./data";       // --data-dir DIR
  bool sync_full = true;                 // --sync full|normal: fsync every group commit (full), or only
                                         // write it to the WAL before the 250 (normal: survives a crash
                                         // of mailjar, not of the OS or the power)
  bool smtps_enabled = false;            // set when --smtps is given
  Endpoint smtps{"0.0.0.0", 1465};       // --smtps HOST:PORT  implicit TLS (needs a certificate)
  std::string tls_cert;                  // --tls-cert FILE (PEM)
  std::string tls_key;                   // --tls-key FILE (PEM)
  bool tls_self_signed = false;          // --tls-self-signed: make <data-dir>/tls/{cert,key}.pem if missing
  smtp::AuthMode smtp_auth = smtp::AuthMode::kOptional;   // --smtp-auth off|optional|required
  bool allow_cleartext_auth = true;      // --smtp-auth-cleartext allow|deny
  std::string hostname = "mailjar";      // --hostname NAME
  smtp::Limits limits;                   // --max-command-line, --max-text-line, --max-message-size,
                                         // --max-recipients, --max-errors
  smtp::BareNewlinePolicy bare_newline = smtp::BareNewlinePolicy::kAcceptAndFlag;  // --bare-newline accept|reject
  int max_connections = 512;             // --max-connections N   (SMTP sessions at once; more get 421 4.7.0)
  std::size_t max_pending_data = 536870912;  // --max-pending-data BYTES: message content held in memory by all
                                             // SMTP sessions together until stored; beyond it 452 4.3.1
  int command_timeout_s = 300;           // --command-timeout SECONDS (RFC 5321 4.5.3.2: 5 minutes): to send
                                         // one whole command line, however slowly
  int data_timeout_s = 300;              // --data-timeout SECONDS: to send message content (DATA, a BDAT
                                         // chunk), extended by --min-data-rate, never beyond this much left
  std::size_t min_data_rate = 500;       // --min-data-rate BYTES: per second of message content that keeps
                                         // extending the data deadline (Postfix's smtpd_min_data_rate); 0: none
  int http_max_connections = 1024;       // --http-max-connections N
  std::size_t http_max_body = 33554432;  // --http-max-body BYTES (request bodies)
  int http_timeout_s = 60;               // --http-timeout SECONDS (reading a request)
  std::size_t http_max_json = 1048576;   // --http-max-json BYTES (a JSON body other than /send's)
  int http_max_json_depth = 32;          // --http-max-json-depth N (arrays/objects nested in a JSON body)
  std::vector<std::string> allowed_hosts;  // --allowed-hosts LIST: Host names accepted besides loopback ones
  int http_workers = 0;                  // --http-workers N  API worker threads; 0 = half the cores (min 1)
  int mime_max_parts = 1000;             // --mime-max-parts N: MIME parts of a message parsed (the rest is not)
  int mime_max_depth = 32;               // --mime-max-depth N: nesting of multiparts walked
  std::size_t detail_cache = 67108864;   // --detail-cache BYTES: parsed messages kept for the API's views
  std::size_t mailhog_max_body = 1048576;    // --mailhog-max-body BYTES  (Body, Raw.Data of one v2 item)
  std::size_t mailhog_max_reply = 33554432;  // --mailhog-max-reply BYTES (one v2 reply; then the page ends)
  int threads = 0;                       // --threads N   network threads; 0 = half the cores (min 1)
  int workers = 0;                       // --workers N   parse/storage worker threads; 0 = half the cores (min 1)
  std::vector<std::string> analyzers{"headers"};  // --analyzers LIST (comma-separated, or none)
  std::size_t analysis_queue = 10000;    // --analysis-queue N  messages waiting for background analysis
  std::string log_level = "info";        // --log-level error|warn|info|debug
  bool api_auth = false;                 // --auth off|on: API tokens required (mailjar token create)
};

// `mailjar project create NAME`, `mailjar inbox create --project P NAME`, `mailjar inbox list`
struct AdminOptions {
  std::string data_dir = "./data";       // --data-dir DIR
  std::string project = "default";       // --project NAME (inbox create, token create)
  bool admin = false;                    // --admin (token create: a token for every project)
  bool json = false;                     // --json: machine-readable output
  std::vector<std::string> args;         // positional arguments after the subcommand
};

// What the command line asked for.
struct Command {
  enum Kind {
    kHelp,
    kVersion,
    kServe,
    kProjectCreate,
    kProjectList,
    kInboxCreate,
    kInboxList,
    kTokenCreate
  } kind = kHelp;
  std::string help_text;                 // for kHelp: the text to print (top-level or per subcommand)
  ServeOptions serve;
  AdminOptions admin;
};

// Parses argv (argv[0] is the program) and the environment (`envp`: "NAME=value" strings; pass
// `environ`). Errors ("invalid_argument") name the flag or variable and the accepted values, e.g.
// "--max-recipients: expected a whole number from 1 to 100000, got 'abc'".
core::Result<Command> parse_command_line(int argc, const char* const* argv, const char* const* envp);

// Texts for `mailjar --help` and `mailjar serve --help` (every option, its default and its variable).
std::string top_help();
std::string serve_help();

constexpr const char* kVersion = "0.1.0";

}  // namespace mailjar::config
