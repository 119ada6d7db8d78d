// NAME
//   SMTP command-line parser: pure functions from one received command line to a parsed value or an
//   error kind. No state, no replies (the session maps errors to replies), no allocation except for the
//   parsed address.
// STANDARDS
//   RFC 5321 4.1 (command syntax, paths, source routes), RFC 6531 (SMTPUTF8 addresses), RFC 1870 (SIZE),
//   RFC 6152 (BODY), RFC 3461 (RET, ENVID, NOTIFY, ORCPT, xtext), RFC 4954 (AUTH=), RFC 3030 (BDAT).
// SECURITY
//   Input is untrusted and already bounded by Limits::max_command_line. Every function accepts any byte
//   sequence and returns an error kind rather than asserting.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mailjar::smtp {

enum class Verb {
  kUnknown,
  kEhlo,
  kHelo,
  kMail,
  kRcpt,
  kData,
  kBdat,
  kRset,
  kNoop,
  kQuit,
  kVrfy,
  kHelp,
  kStartTls,
  kAuth,
  kHttp,  // GET/POST/CONNECT/...: an HTTP client or proxy talking to the SMTP port
};

// A command line without its line terminator, split into verb and argument.
struct CommandLine {
  Verb verb = Verb::kUnknown;
  std::string_view arg;  // after the verb and the spaces following it; trailing spaces removed
};

// Splits `line` (CRLF already removed) at the first space. Verbs are case-insensitive.
CommandLine parse_command_line(std::string_view line);

// What the bytes of a command line are.
enum class LineBytes {
  kAscii,    // printable ASCII (and spaces/tabs) only
  kUtf8,     // also non-ASCII, all of it well-formed UTF-8
  kInvalid,  // NUL, another control character (bare CR, ...), DEL, or malformed UTF-8
};
LineBytes classify_line(std::string_view line);

enum class ParseError {
  kNone,
  kSyntax,            // the command or a parameter is malformed -> 501 5.5.4
  kUnknownParameter,  // a well-formed parameter this server does not know -> 555 5.5.4
  kConflict,          // a parameter given twice with different values (`conflict` names it) -> 501 5.5.4
};

enum class Body { kUnspecified, k7Bit, k8BitMime, kBinaryMime };

// MAIL FROM:<reverse-path> [SP mail-parameters]
// A parameter repeated with the same value is accepted (Python's smtplib sends "SMTPUTF8 SMTPUTF8" when
// the caller asked for it too); repeated with another value it is kConflict.
struct MailFrom {
  std::string address;        // without <> and without a source route; empty for the null sender <>
  std::string_view params;    // the raw parameters exactly as sent (outer spaces trimmed)
  std::string_view conflict;  // kConflict: the parameter's name as sent
  bool address_utf8 = false;  // the address contains non-ASCII characters
  bool has_size = false;
  std::uint64_t size = 0;  // SIZE= (saturated at UINT64_MAX for absurdly long digit strings)
  Body body = Body::kUnspecified;
  bool smtputf8 = false;
};

// RCPT TO:<forward-path> [SP rcpt-parameters]
struct RcptTo {
  std::string address;        // without <> and without a source route
  std::string_view params;    // raw, as sent
  std::string_view conflict;  // kConflict: the parameter's name as sent
  bool address_utf8 = false;
};

// `arg` is the CommandLine::arg of MAIL ("FROM:<...> ..."). A space after the colon is tolerated.
ParseError parse_mail_from(std::string_view arg, MailFrom& out);
// `arg` is the CommandLine::arg of RCPT ("TO:<...> ..."). "<Postmaster>" without a domain is accepted.
ParseError parse_rcpt_to(std::string_view arg, RcptTo& out);

// BDAT SP chunk-size [SP "LAST"]. False on any syntax error (then the chunk length is unknown).
bool parse_bdat(std::string_view arg, std::uint64_t& size, bool& last);

// AUTH SP mechanism [SP initial-response]. False when the mechanism is missing or more arguments follow.
bool parse_auth(std::string_view arg, std::string_view& mechanism, std::string_view& initial_response);

// RFC 3461 xtext: printable ASCII except '+' and '=', with "+XX" (uppercase hex) escapes.
bool is_xtext(std::string_view s);

}  // namespace mailjar::smtp
