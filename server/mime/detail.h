// NAME
//   mime detail - the whole of a stored message for the message API: headers, text and HTML bodies,
//   inline parts and attachments with their part IDs and checksums, one part's decoded bytes, and the
//   building of a new message from an HTTP send request (Mailpit's POST /api/v1/send).
// STANDARDS
//   RFC 5322, RFC 2045-2049, RFC 2047, RFC 2231, RFC 2369 and RFC 8058 (List-Unsubscribe,
//   List-Unsubscribe-Post), RFC 2392 (Content-ID).
// SECURITY
//   Input is hostile. Never crashes, never throws; bounded by MimeLimits (depth, parts). Part bytes are
//   returned decoded (base64/quoted-printable) and never interpreted.
// CONTRACT
//   Part IDs are the dotted 1-based positions of a leaf part in the MIME tree, like IMAP section numbers:
//   a single-part message's body is "1"; in multipart/mixed[alternative[text,html], pdf] the PDF is "2",
//   the HTML "1.2". A message/rfc822 attachment is one part (its inside is not walked for attachments).
//   The same raw bytes always give the same IDs, so an ID from parse_detail() works with get_part().
//   Thread-safety as parse_summary(): after mime::init(), any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "mime/mime.h"

namespace mailjar::mime {

struct PartInfo {
  std::string part_id;       // "1.2"
  std::string file_name;     // decoded (RFC 2231/2047), may be empty
  std::string content_type;  // "image/png" (type/subtype only, lower-case)
  std::string content_id;    // without <>, may be empty
  int64_t size = 0;          // decoded bytes
  std::string md5, sha1, sha256;  // lower-case hex of the decoded bytes
};

struct ListUnsubscribe {
  std::string header;        // the List-Unsubscribe value, unfolded ("" when absent)
  std::string header_post;   // List-Unsubscribe-Post value ("" when absent)
  std::vector<std::string> links;   // the <...> URIs in order (mailto: and http(s):)
  std::vector<std::string> errors;  // problems found: not in <>, not mailto/https, https without Post, ...
};

struct MessageDetail {
  // Every header field in order, name as written, value unfolded (CRLF+WSP -> WSP) and NOT decoded.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string return_path;   // Return-Path address without <>, "" when absent
  std::string text;          // the first text/plain body part (not an attachment), decoded to UTF-8
  std::string html;          // the first text/html body part (not an attachment), decoded to UTF-8
  std::vector<PartInfo> inline_parts;  // non-body parts with Content-Disposition inline or a Content-ID
                                       // referenced from a multipart/related
  std::vector<PartInfo> attachments;   // parts with Content-Disposition attachment, or a file name and not inline
  ListUnsubscribe list_unsubscribe;
  bool parse_failed = false;
  std::string parse_error;
};

MessageDetail parse_detail(std::string_view raw, const MimeLimits& limits = {});

struct PartContent {
  std::string content_type;  // type/subtype
  std::string file_name;
  std::string data;          // decoded bytes
};

// The decoded bytes of one part; nullopt when there is no part with that ID.
std::optional<PartContent> get_part(std::string_view raw, std::string_view part_id, const MimeLimits& limits = {});

// Mailpit's send request (POST /api/v1/send), already decoded from JSON by the caller.
struct SendAddress {
  std::string email;
  std::string name;
};
struct SendAttachment {
  std::string content;       // the decoded bytes (the caller base64-decodes)
  std::string file_name;
  std::string content_type;  // empty: guessed from the file name, else application/octet-stream
  std::string content_id;    // set: an inline part (multipart/related with the HTML)
};
struct SendRequest {
  SendAddress from;                       // required (email)
  std::vector<SendAddress> to, cc, bcc;   // at least one recipient in total
  std::vector<SendAddress> reply_to;
  std::string subject;
  std::string text;
  std::string html;
  std::vector<SendAttachment> attachments;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers, in order
  std::vector<std::string> tags;          // written as one X-Tags header
};

// Builds an RFC 5322 message (CRLF line ends, UTF-8 with RFC 2047 words where needed, quoted-printable
// or base64 bodies, Date and Message-ID "<ULID-like-unique@hostname>" added unless given in headers).
// Bcc recipients are NOT written as a header (they belong to the envelope only, as on a real MTA).
// Errors ("invalid"): missing From email, no recipients, an address or header name with CR/LF/NUL,
// a header name that is not RFC 5322 ftext.
core::Result<std::string> build_message(const SendRequest& request, std::string_view hostname, int64_t now_ms);

}  // namespace mailjar::mime
