// Value types shared by every module: the SMTP envelope of a message and its parsed summary.
// Plain data, no behaviour, no dependencies beyond the standard library.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mailjar::core {

// One RCPT TO: the forward-path without angle brackets and its raw ESMTP parameters
// (e.g. "NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@example.com"), exactly as the client sent them.
struct Recipient {
  std::string address;
  std::string params;
};

// What the SMTP session knew about a message when DATA/BDAT LAST completed (RFC 5321 envelope plus
// connection facts). Filled by smtp, stored verbatim by store.
struct Envelope {
  std::string mail_from;          // reverse-path without <>; empty for the null sender <>
  std::string mail_params;        // raw ESMTP parameters after MAIL FROM (SIZE=, BODY=, RET=, ENVID=, SMTPUTF8)
  std::vector<Recipient> rcpts;   // in the order accepted
  std::string helo;               // HELO/EHLO argument
  bool esmtp = false;             // EHLO (true) or HELO (false)
  std::string client_ip;
  uint16_t client_port = 0;
  std::string tls_version;        // e.g. "TLSv1.3"; empty on a cleartext session
  std::string tls_cipher;
  std::string auth_user;          // SMTP AUTH username; empty when the client did not authenticate
  bool smtputf8 = false;          // MAIL FROM carried SMTPUTF8
  bool bare_newline = false;      // the DATA contained a bare CR or LF (accepted and flagged)
  bool chunked = false;           // sent with BDAT rather than DATA
};

// A display-name + address pair as Mailpit's API shows it ({Name, Address}).
struct Address {
  std::string name;
  std::string address;
};

// The parsed summary of a message, as the list API shows it. Produced by mime, stored by store.
struct MessageSummary {
  std::vector<Address> from;      // usually one; Mailpit shows the first
  std::vector<Address> to;
  std::vector<Address> cc;
  std::vector<Address> bcc;
  std::vector<Address> reply_to;
  std::string subject;            // decoded from RFC 2047, UTF-8
  std::string date;               // the Date header as RFC 3339 UTC, empty when absent or unparseable
  std::string message_id;         // without angle brackets
  int attachments = 0;            // parts with Content-Disposition attachment (or a filename, non-inline)
  int inlines = 0;                // inline parts (Content-Disposition inline or a Content-ID in multipart/related)
  std::string snippet;            // first ~250 characters of the text body, whitespace folded, UTF-8
  std::string text_for_index;     // text body (or HTML rendered to text) for the full-text index, UTF-8
  std::vector<std::string> tags;  // from X-Tags and plus-addressing; may be empty
  bool parse_failed = false;      // GMime could not parse it: the raw bytes are still stored
  std::string parse_error;
};

}  // namespace mailjar::core
