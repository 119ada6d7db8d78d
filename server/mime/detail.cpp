// NAME
//   detail.cpp - GMime adapter for the message API: a stored message's headers, bodies, inline parts and
//   attachments (with checksums), one part's bytes, and new messages built from send requests.
// STANDARDS
//   RFC 5322 (header fields, unfolding), RFC 2045-2049 (MIME structure and transfer encodings), RFC 2047
//   (encoded words, written by GMime), RFC 2231 (parameters), RFC 2369 and RFC 8058 (List-Unsubscribe,
//   List-Unsubscribe-Post), RFC 2387 (multipart/related), RFC 2392 (Content-ID), RFC 3501 section 6.4.5
//   (the section numbering that part IDs follow).
// SECURITY
//   Parsed input is hostile: it goes through the same hardening as parse_summary() (mime_internal.h), the
//   walk is bounded by MimeLimits, every string returned is valid UTF-8, and decoded part bytes are never
//   interpreted. Decoded content is never longer than its encoded form, so every buffer here is bounded by
//   the size of the input. A send request is only trusted after validation: CR, LF and NUL are refused
//   wherever they could start a new header line, and GMime does all encoding and folding of what is
//   written. No exception leaves this file: the C++ code around GMime is wrapped in catch-alls.
#include "core/ascii.h"
#include "mime/detail.h"

#include <gmime/gmime.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "core/id.h"
#include "mime/mime_internal.h"

namespace mailjar::mime {
namespace {

using internal::GObjectPtr;
using core::is_ascii_space;
using internal::LeafRole;
using internal::make_valid_utf8;
using internal::ParseNotes;
using internal::trim;
using internal::truncate_utf8_bytes;

constexpr std::size_t kMaxHeaderFields = 10000;    // header fields listed per message
constexpr std::size_t kMaxUnsubscribeLinks = 32;   // List-Unsubscribe URIs kept
constexpr std::size_t kMaxUnsubscribeErrors = 16;  // List-Unsubscribe problems reported
constexpr std::size_t kMaxQuotedBytes = 100;       // bytes of offending input quoted in an error
constexpr std::size_t kMaxFileNameBytes = 1024;    // of a part's decoded file name
constexpr std::size_t kMaxParseErrorBytes = 1024;
constexpr std::size_t kMaxPartIdBytes = 256;  // a longer part ID cannot name any part

// Send requests.
constexpr std::size_t kMaxSendRecipients = 1000;  // To + Cc + Bcc
constexpr std::size_t kMaxSendHeaders = 200;      // extra header fields
constexpr std::size_t kMaxSendAttachments = 500;  // stays well inside MimeLimits::max_parts
constexpr std::size_t kMaxSendTags = 64;
constexpr std::size_t kMaxHeaderNameBytes = 76;
constexpr std::size_t kMaxEmailBytes = 254;  // RFC 5321 4.5.3.1.3 path limit, without the brackets
constexpr std::size_t kMaxHostnameBytes = 253;
constexpr std::size_t kMaxUnencodedLine = 78;  // RFC 5322 2.1.1: longer lines are sent quoted-printable

constexpr char kHex[] = "0123456789abcdef";

// ---------------------------------------------------------------------------------------------------
// Small helpers.

std::string lower_ascii(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = g_ascii_tolower(c);
  return out;
}

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && core::ascii_iequals(s.substr(0, prefix.size()), prefix);
}

// `s` quoted for an error message: valid UTF-8, at most kMaxQuotedBytes.
std::string quoted(std::string_view s) {
  std::string q = make_valid_utf8(s);
  if (q.size() > kMaxQuotedBytes) {
    truncate_utf8_bytes(q, kMaxQuotedBytes);
    q.append("...");
  }
  return "\"" + q + "\"";
}

std::string join_notes(const ParseNotes& notes) {
  std::string out;
  for (const auto& n : notes.notes) {
    if (!out.empty()) out.append("; ");
    out.append(n);
  }
  truncate_utf8_bytes(out, kMaxParseErrorBytes);
  return out;
}

// Unfolds a raw header value (RFC 5322 2.2.3: CRLF followed by WSP is the WSP alone) and trims it. Bare
// CR and LF are dropped too, so the result is always one line. 8-bit bytes are kept if they are UTF-8
// (RFC 6532), else guessed like undeclared 8-bit text.
std::string unfold_value(const char* raw) {
  if (!raw) return {};
  std::string line;
  for (const char* p = raw; *p; ++p) {
    if (*p != '\r' && *p != '\n') line.push_back(*p);
  }
  const std::string_view trimmed = trim(line);
  return internal::text_to_utf8(trimmed.data(), trimmed.size(), nullptr, false);
}

// Lower-case "type/subtype" of a part.
std::string mime_type_of(GMimeObject* obj) {
  GMimeContentType* ct = g_mime_object_get_content_type(obj);
  if (!ct) return "application/octet-stream";
  char* type = g_mime_content_type_get_mime_type(ct);
  std::string out = lower_ascii(make_valid_utf8(type));
  g_free(type);
  return out;
}

std::string file_name_of(GMimeObject* leaf) {
  std::string name = make_valid_utf8(internal::leaf_filename(leaf));
  truncate_utf8_bytes(name, kMaxFileNameBytes);
  return name;
}

// ---------------------------------------------------------------------------------------------------
// Part bytes.

// MD5, SHA-1 and SHA-256 of a byte stream, fed in chunks. A digest the crypto library refuses (e.g.
// MD5 under a FIPS policy) is left empty.
class Digests {
 public:
  Digests() {
    const EVP_MD* kinds[3] = {EVP_md5(), EVP_sha1(), EVP_sha256()};
    for (int i = 0; i < 3; ++i) {
      ctx_[i] = EVP_MD_CTX_new();
      if (ctx_[i] && EVP_DigestInit_ex(ctx_[i], kinds[i], nullptr) != 1) {
        EVP_MD_CTX_free(ctx_[i]);
        ctx_[i] = nullptr;
      }
    }
  }
  ~Digests() {
    for (EVP_MD_CTX* c : ctx_) EVP_MD_CTX_free(c);
  }
  Digests(const Digests&) = delete;
  Digests& operator=(const Digests&) = delete;

  void update(const char* data, std::size_t len) {
    for (EVP_MD_CTX*& c : ctx_) {
      if (c && EVP_DigestUpdate(c, data, len) != 1) {
        EVP_MD_CTX_free(c);
        c = nullptr;
      }
    }
  }

  void finish(PartInfo& info) {
    info.md5 = hex(0);
    info.sha1 = hex(1);
    info.sha256 = hex(2);
  }

 private:
  std::string hex(int i) {
    if (!ctx_[i]) return {};
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(ctx_[i], md, &len) != 1) return {};
    std::string out;
    out.reserve(len * 2);
    for (unsigned int k = 0; k < len; ++k) {
      out.push_back(kHex[md[k] >> 4]);
      out.push_back(kHex[md[k] & 0x0F]);
    }
    return out;
  }

  EVP_MD_CTX* ctx_[3] = {nullptr, nullptr, nullptr};
};

// Serialises an attached message/rfc822 as bytes, with the line ends of the message it came from. GMime
// keeps raw header values and content, so this is the attached message as it was received.
std::string message_part_bytes(GMimeMessagePart* part, bool crlf) {
  GMimeMessage* inner = g_mime_message_part_get_message(part);
  if (!inner) return {};
  GMimeFormatOptions* format = g_mime_format_options_new();
  g_mime_format_options_set_newline_format(format,
                                           crlf ? GMIME_NEWLINE_FORMAT_DOS : GMIME_NEWLINE_FORMAT_UNIX);
  GObjectPtr<GMimeStream> stream(g_mime_stream_mem_new());
  g_mime_object_write_to_stream(GMIME_OBJECT(inner), format, stream.p);
  g_mime_format_options_free(format);
  GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(stream.p));
  return bytes ? std::string(reinterpret_cast<const char*>(bytes->data), bytes->len) : std::string();
}

// Feeds the decoded bytes of a leaf to `sink(data, len)`.
template <typename Sink>
void read_leaf(GMimeObject* leaf, bool crlf, Sink&& sink) {
  if (GMIME_IS_MESSAGE_PART(leaf)) {
    const std::string bytes = message_part_bytes(GMIME_MESSAGE_PART(leaf), crlf);
    sink(bytes.data(), bytes.size());
    return;
  }
  if (!GMIME_IS_PART(leaf)) return;
  GObjectPtr<GMimeStream> decoded(internal::open_decoded_content(GMIME_PART(leaf)));
  if (!decoded.p) return;
  char buffer[16384];
  while (true) {
    const ssize_t n = g_mime_stream_read(decoded.p, buffer, sizeof(buffer));
    if (n <= 0) break;
    sink(buffer, static_cast<std::size_t>(n));
  }
}

PartInfo describe_leaf(GMimeObject* leaf, const std::string& id, bool crlf) {
  PartInfo info;
  info.part_id = id;
  info.file_name = file_name_of(leaf);
  info.content_type = mime_type_of(leaf);
  info.content_id = make_valid_utf8(g_mime_object_get_content_id(leaf));
  Digests digests;
  read_leaf(leaf, crlf, [&](const char* data, std::size_t len) {
    digests.update(data, len);
    info.size += static_cast<int64_t>(len);
  });
  digests.finish(info);
  return info;
}

// ---------------------------------------------------------------------------------------------------
// The tree walk that numbers parts.

// Visits the leaves of a message in order with their part IDs: the top-level body is "1" when it is a
// leaf; the children of a multipart are its ID plus ".1", ".2", ... (without prefix at the top level).
// Attached messages are leaves. Bounded by MimeLimits (every object visited counts towards max_parts,
// multiparts deeper than max_depth are skipped), so the same bytes and limits always give the same IDs.
class LeafWalker {
 public:
  LeafWalker(const MimeLimits& limits, ParseNotes& notes) : limits_(limits), notes_(notes) {}

  // visit(leaf, id, in_related) returns false to stop the walk.
  template <typename Visit>
  void walk(GMimeObject* root, Visit&& visit) {
    walk_object(root, std::string(), 0, false, visit);
  }

 private:
  template <typename Visit>
  bool walk_object(GMimeObject* obj, const std::string& id, int depth, bool in_related, Visit& visit) {
    if (!obj) return true;
    if (parts_seen_ >= limits_.max_parts) {
      notes_.add("part limit reached: remaining parts ignored");
      return false;
    }
    ++parts_seen_;
    if (GMIME_IS_MULTIPART(obj)) {
      if (depth + 1 > limits_.max_depth) {
        notes_.add("depth limit reached: deeper parts ignored");
        return true;
      }
      GMimeContentType* ct = g_mime_object_get_content_type(obj);
      const bool related = in_related || (ct && g_mime_content_type_is_type(ct, "multipart", "related"));
      GMimeMultipart* mp = GMIME_MULTIPART(obj);
      const int count = g_mime_multipart_get_count(mp);
      for (int i = 0; i < count; ++i) {
        const std::string child_id = id.empty() ? std::to_string(i + 1) : id + "." + std::to_string(i + 1);
        if (!walk_object(g_mime_multipart_get_part(mp, i), child_id, depth + 1, related, visit)) return false;
      }
      return true;
    }
    if (!GMIME_IS_PART(obj) && !GMIME_IS_MESSAGE_PART(obj)) return true;
    return visit(obj, id.empty() ? std::string("1") : id, in_related);
  }

  const MimeLimits& limits_;
  ParseNotes& notes_;
  int parts_seen_ = 0;
};

// Whether the message uses CRLF line ends (judged by its first line).
bool uses_crlf(std::string_view raw) {
  const std::size_t nl = raw.find('\n');
  return nl != std::string_view::npos && nl > 0 && raw[nl - 1] == '\r';
}

// ---------------------------------------------------------------------------------------------------
// Headers.

void append_header_list(GMimeObject* obj, std::vector<std::pair<gint64, GMimeHeader*>>& out) {
  GMimeHeaderList* list = obj ? g_mime_object_get_header_list(obj) : nullptr;
  const int count = list ? g_mime_header_list_get_count(list) : 0;
  for (int i = 0; i < count; ++i) {
    GMimeHeader* h = g_mime_header_list_get_header_at(list, i);
    if (h) out.emplace_back(g_mime_header_get_offset(h), h);
  }
}

// GMime keeps the top-level Content-* fields with the body part, the others with the message: both lists,
// back in the order of the input.
void collect_headers(GMimeMessage* msg, MessageDetail& out, ParseNotes& notes) {
  std::vector<std::pair<gint64, GMimeHeader*>> fields;
  append_header_list(GMIME_OBJECT(msg), fields);
  append_header_list(g_mime_message_get_mime_part(msg), fields);
  std::stable_sort(fields.begin(), fields.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  if (fields.size() > kMaxHeaderFields) {
    fields.resize(kMaxHeaderFields);
    notes.add("header limit reached: remaining header fields not listed");
  }
  out.headers.reserve(fields.size());
  for (const auto& [offset, h] : fields) {
    out.headers.emplace_back(make_valid_utf8(g_mime_header_get_raw_name(h)),
                             unfold_value(g_mime_header_get_raw_value(h)));
  }
}

const std::string* first_header(const MessageDetail& d, std::string_view name, int* count = nullptr) {
  const std::string* found = nullptr;
  int n = 0;
  for (const auto& [k, v] : d.headers) {
    if (!core::ascii_iequals(k, name)) continue;
    ++n;
    if (!found) found = &v;
  }
  if (count) *count = n;
  return found;
}

// Return-Path: "<addr>" (or a bare address) -> "addr"; "<>" -> "".
std::string return_path_address(std::string_view value) {
  value = trim(value);
  if (!value.empty() && value.front() == '<') {
    const std::size_t close = value.find('>');
    value = value.substr(1, close == std::string_view::npos ? std::string_view::npos : close - 1);
  }
  return std::string(trim(value));
}

// ---------------------------------------------------------------------------------------------------
// List-Unsubscribe (RFC 2369) and List-Unsubscribe-Post (RFC 8058), checked the way Mailpit does: every
// URI in <>, separated by commas only, each a mailto: or http(s): URI without spaces; an https URI
// needs List-Unsubscribe-Post: List-Unsubscribe=One-Click, and that header needs an https URI.

class UnsubscribeChecker {
 public:
  explicit UnsubscribeChecker(ListUnsubscribe& out) : out_(out) {}

  void check(int header_count, int post_count) {
    if (header_count > 1) error("more than one List-Unsubscribe header: only the first is used");
    if (post_count > 1) error("more than one List-Unsubscribe-Post header: only the first is used");
    if (out_.header.empty()) {
      if (!out_.header_post.empty()) error("List-Unsubscribe-Post without a List-Unsubscribe header");
      return;
    }
    parse_links(out_.header);
    if (out_.links.empty() && out_.errors.empty()) error("List-Unsubscribe has no link");
    const bool one_click = core::ascii_iequals(trim(out_.header_post), "List-Unsubscribe=One-Click");
    if (!out_.header_post.empty() && !one_click) {
      error("List-Unsubscribe-Post is " + quoted(out_.header_post) +
            ", RFC 8058 requires \"List-Unsubscribe=One-Click\"");
    }
    if (has_https_ && out_.header_post.empty()) {
      error(
          "an https link needs \"List-Unsubscribe-Post: List-Unsubscribe=One-Click\" for one-click "
          "unsubscription (RFC 8058)");
    }
    if (!out_.header_post.empty() && !has_https_) {
      error("List-Unsubscribe-Post is set but List-Unsubscribe has no https link (RFC 8058)");
    }
  }

 private:
  void error(std::string message) {
    if (out_.errors.size() < kMaxUnsubscribeErrors) out_.errors.push_back(std::move(message));
  }

  void parse_links(std::string_view v) {
    std::size_t i = 0;
    bool expect_separator = false;  // after a <...>, only whitespace and one comma may follow
    while (i < v.size()) {
      const char c = v[i];
      if (is_ascii_space(c)) {
        ++i;
      } else if (c == ',') {
        expect_separator = false;
        ++i;
      } else if (c == '<' && !expect_separator) {
        const std::size_t close = v.find('>', i + 1);
        if (close == std::string_view::npos) {
          error(quoted(v.substr(i)) + " is not closed with >");
          return;
        }
        add_link(v.substr(i + 1, close - i - 1));
        i = close + 1;
        expect_separator = true;
      } else {
        // Text outside <>: up to the next comma or '<'.
        std::size_t end = v.find_first_of(",<", i);
        if (end == std::string_view::npos) end = v.size();
        const std::string_view junk = trim(v.substr(i, end - i));
        error(expect_separator ? quoted(junk) + " is not a valid separator (only commas may separate links)"
                               : quoted(junk) + " is not contained in <>");
        expect_separator = false;
        i = end;
      }
    }
  }

  void add_link(std::string_view uri) {
    if (uri.empty()) {
      error("an empty <> link");
      return;
    }
    if (std::any_of(uri.begin(), uri.end(), is_ascii_space)) {
      error(quoted(uri) + " contains spaces");
      return;
    }
    const bool mailto = starts_with_ci(uri, "mailto:") && uri.size() > 7;
    const bool https = starts_with_ci(uri, "https://") && uri.size() > 8;
    const bool http = starts_with_ci(uri, "http://") && uri.size() > 7;
    if (!mailto && !https && !http) {
      error(quoted(uri) + " is not a mailto: or http(s): link");
      return;
    }
    if (out_.links.size() >= kMaxUnsubscribeLinks) {
      if (!too_many_)
        error("too many links: only the first " + std::to_string(kMaxUnsubscribeLinks) + " kept");
      too_many_ = true;
      return;
    }
    has_https_ = has_https_ || https;
    out_.links.emplace_back(uri);
  }

  ListUnsubscribe& out_;
  bool has_https_ = false;
  bool too_many_ = false;
};

void fill_list_unsubscribe(MessageDetail& d) {
  int header_count = 0;
  int post_count = 0;
  const std::string* header = first_header(d, "List-Unsubscribe", &header_count);
  const std::string* post = first_header(d, "List-Unsubscribe-Post", &post_count);
  d.list_unsubscribe.header = header ? *header : std::string();
  d.list_unsubscribe.header_post = post ? *post : std::string();
  UnsubscribeChecker(d.list_unsubscribe).check(header_count, post_count);
}

// ---------------------------------------------------------------------------------------------------
// Building messages.

core::Error invalid(std::string message) { return core::make_error("invalid", std::move(message)); }

bool has_line_break_or_nul(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) != s.npos;
}

bool has_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const unsigned char u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7F;
  });
}

// An addr-spec as the API accepts it: local@domain, both non-empty, at most kMaxEmailBytes, without
// controls, spaces or the characters that would end or split an address in a header field (so quoted
// local parts are refused). A non-ASCII domain is written in its IDNA (xn--) form by GMime.
bool valid_email(std::string_view email) {
  if (email.empty() || email.size() > kMaxEmailBytes || has_control(email)) return false;
  for (const char c : email) {
    if (c == ' ' || std::strchr("<>,;:\"()\\", c)) return false;
  }
  const std::size_t at = email.rfind('@');
  return at != std::string_view::npos && at > 0 && at + 1 < email.size();
}

// RFC 5322 3.6.8 field-name: printable US-ASCII except ':'.
bool valid_header_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxHeaderNameBytes) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    const unsigned char u = static_cast<unsigned char>(c);
    return u >= 33 && u <= 126 && c != ':';
  });
}

// RFC 2392 content-id without the angle brackets: printable ASCII, no spaces, no <>.
bool valid_content_id(std::string_view cid) {
  if (cid.empty() || cid.size() > 250) return false;
  return std::all_of(cid.begin(), cid.end(), [](char c) {
    const unsigned char u = static_cast<unsigned char>(c);
    return u > 32 && u < 127 && c != '<' && c != '>';
  });
}

core::Result<void> check_address(const SendAddress& a, const char* field) {
  if (!valid_email(a.email)) {
    return invalid(std::string(field) + " address " + quoted(a.email) + " is not a valid email address");
  }
  if (has_line_break_or_nul(a.name)) {
    return invalid(std::string(field) + " name " + quoted(a.name) + " contains CR, LF or NUL");
  }
  return {};
}

// Header fields the builder writes from the request's own fields (or that define the MIME structure).
bool reserved_header(std::string_view name) {
  static constexpr std::string_view kReserved[] = {"From",
                                                   "To",
                                                   "Cc",
                                                   "Bcc",
                                                   "Reply-To",
                                                   "Subject",
                                                   "MIME-Version",
                                                   "Content-Type",
                                                   "Content-Transfer-Encoding",
                                                   "Content-Disposition",
                                                   "Content-ID"};
  return std::any_of(std::begin(kReserved), std::end(kReserved),
                     [&](std::string_view r) { return core::ascii_iequals(name, r); });
}

core::Result<void> validate(const SendRequest& r) {
  if (r.from.email.empty()) return invalid("From email is required");
  if (auto ok = check_address(r.from, "From"); !ok) return ok;
  const std::size_t recipients = r.to.size() + r.cc.size() + r.bcc.size();
  if (recipients == 0) return invalid("at least one recipient (To, Cc or Bcc) is required");
  if (recipients > kMaxSendRecipients) {
    return invalid("too many recipients (at most " + std::to_string(kMaxSendRecipients) + ")");
  }
  if (r.reply_to.size() > kMaxSendRecipients) return invalid("too many Reply-To addresses");
  const std::pair<const std::vector<SendAddress>*, const char*> lists[] = {
      {&r.to, "To"}, {&r.cc, "Cc"}, {&r.bcc, "Bcc"}, {&r.reply_to, "Reply-To"}};
  for (const auto& [list, field] : lists) {
    for (const auto& a : *list) {
      if (auto ok = check_address(a, field); !ok) return ok;
    }
  }
  if (has_line_break_or_nul(r.subject)) return invalid("Subject contains CR, LF or NUL");
  if (r.headers.size() > kMaxSendHeaders) {
    return invalid("too many headers (at most " + std::to_string(kMaxSendHeaders) + ")");
  }
  for (const auto& [name, value] : r.headers) {
    if (!valid_header_name(name)) {
      return invalid("header name " + quoted(name) + " is not a valid field name (RFC 5322 ftext)");
    }
    if (reserved_header(name)) return invalid("header " + quoted(name) + " is set from its own field");
    if (has_line_break_or_nul(value))
      return invalid("header " + quoted(name) + " value contains CR, LF or NUL");
  }
  if (r.tags.size() > kMaxSendTags)
    return invalid("too many tags (at most " + std::to_string(kMaxSendTags) + ")");
  for (const auto& t : r.tags) {
    if (has_line_break_or_nul(t) || t.find(',') != std::string::npos) {
      return invalid("tag " + quoted(t) + " contains a comma, CR, LF or NUL");
    }
  }
  if (r.attachments.size() > kMaxSendAttachments) {
    return invalid("too many attachments (at most " + std::to_string(kMaxSendAttachments) + ")");
  }
  for (const auto& a : r.attachments) {
    if (has_control(a.file_name))
      return invalid("attachment file name " + quoted(a.file_name) + " contains controls");
    if (!a.content_id.empty() && !valid_content_id(a.content_id)) {
      return invalid("attachment content id " + quoted(a.content_id) + " is not valid");
    }
    if (has_control(a.content_type))
      return invalid("attachment content type " + quoted(a.content_type) + " is not valid");
  }
  return {};
}

// Content type for an attachment without one, from its file name's extension.
const char* guess_content_type(std::string_view file_name) {
  static constexpr std::pair<std::string_view, const char*> kTypes[] = {
      {"7z", "application/x-7z-compressed"},
      {"bmp", "image/bmp"},
      {"css", "text/css"},
      {"csv", "text/csv"},
      {"doc", "application/msword"},
      {"docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
      {"eml", "message/rfc822"},
      {"gif", "image/gif"},
      {"gz", "application/gzip"},
      {"htm", "text/html"},
      {"html", "text/html"},
      {"ics", "text/calendar"},
      {"ico", "image/vnd.microsoft.icon"},
      {"jpeg", "image/jpeg"},
      {"jpg", "image/jpeg"},
      {"js", "text/javascript"},
      {"json", "application/json"},
      {"md", "text/markdown"},
      {"mp3", "audio/mpeg"},
      {"mp4", "video/mp4"},
      {"odt", "application/vnd.oasis.opendocument.text"},
      {"ods", "application/vnd.oasis.opendocument.spreadsheet"},
      {"pdf", "application/pdf"},
      {"png", "image/png"},
      {"ppt", "application/vnd.ms-powerpoint"},
      {"pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"},
      {"rtf", "application/rtf"},
      {"svg", "image/svg+xml"},
      {"tar", "application/x-tar"},
      {"tif", "image/tiff"},
      {"tiff", "image/tiff"},
      {"txt", "text/plain"},
      {"wav", "audio/wav"},
      {"webp", "image/webp"},
      {"xls", "application/vnd.ms-excel"},
      {"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
      {"xml", "application/xml"},
      {"zip", "application/zip"},
  };
  const std::size_t dot = file_name.rfind('.');
  if (dot == std::string_view::npos || dot + 1 >= file_name.size()) return "application/octet-stream";
  const std::string_view ext = file_name.substr(dot + 1);
  for (const auto& [e, type] : kTypes) {
    if (core::ascii_iequals(ext, e)) return type;
  }
  return "application/octet-stream";
}

GMimeDataWrapper* wrap_bytes(std::string_view bytes) {
  GObjectPtr<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(bytes.data(), bytes.size()));
  return g_mime_data_wrapper_new_with_stream(stream.p, GMIME_CONTENT_ENCODING_DEFAULT);
}

// Whether UTF-8 text (LF line ends) may go as 7bit: printable ASCII, tabs, line breaks, short lines.
bool fits_7bit(std::string_view text) {
  std::size_t line = 0;
  for (const char c : text) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (c == '\n') {
      line = 0;
      continue;
    }
    if ((u < 0x20 && c != '\t') || u >= 0x7F || ++line > kMaxUnencodedLine) return false;
  }
  return true;
}

// A text/<subtype> part in UTF-8. Line ends are normalised to LF here and written as CRLF, so the text
// read back has CRLF line ends; 7bit when it fits, else quoted-printable.
GMimeObject* text_part(const char* subtype, std::string_view text) {
  std::string normalised;
  normalised.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;
    normalised.push_back(text[i]);
  }
  normalised = make_valid_utf8(normalised);
  GMimePart* part = g_mime_part_new_with_type("text", subtype);
  g_mime_object_set_content_type_parameter(GMIME_OBJECT(part), "charset", "utf-8");
  GObjectPtr<GMimeDataWrapper> content(wrap_bytes(normalised));
  g_mime_part_set_content(part, content.p);
  g_mime_part_set_content_encoding(
      part, fits_7bit(normalised) ? GMIME_CONTENT_ENCODING_7BIT : GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
  return GMIME_OBJECT(part);
}

GMimeObject* attachment_part(const SendAttachment& a, bool inline_part) {
  const std::string type = a.content_type.empty() ? guess_content_type(a.file_name) : a.content_type;
  GMimeContentType* ct = g_mime_content_type_parse(internal::parser_options(), type.c_str());
  if (!ct || !g_mime_content_type_get_media_type(ct) || !g_mime_content_type_get_media_subtype(ct)) {
    if (ct) g_object_unref(ct);
    ct = g_mime_content_type_new("application", "octet-stream");
  }
  GMimePart* part = g_mime_part_new();
  g_mime_object_set_content_type(GMIME_OBJECT(part), ct);
  g_object_unref(ct);
  GObjectPtr<GMimeDataWrapper> content(wrap_bytes(a.content));
  g_mime_part_set_content(part, content.p);
  g_mime_part_set_content_encoding(part, GMIME_CONTENT_ENCODING_BASE64);
  if (!a.file_name.empty()) g_mime_part_set_filename(part, make_valid_utf8(a.file_name).c_str());
  g_mime_object_set_disposition(GMIME_OBJECT(part), inline_part ? "inline" : "attachment");
  if (!a.content_id.empty()) g_mime_object_set_content_id(GMIME_OBJECT(part), a.content_id.c_str());
  return GMIME_OBJECT(part);
}

// Adds `child` to `multipart`, giving up the caller's reference.
void add_part(GMimeMultipart* multipart, GMimeObject* child) {
  g_mime_multipart_add(multipart, child);
  g_object_unref(child);
}

// The MIME tree: [mixed: [alternative: text, [related: html, inline parts...]], attachments...], each
// container only when it has more than one child to hold.
GMimeObject* build_body(const SendRequest& r) {
  std::vector<const SendAttachment*> inline_parts, attachments;
  for (const auto& a : r.attachments) (a.content_id.empty() ? attachments : inline_parts).push_back(&a);
  const bool has_html = !r.html.empty();

  GMimeObject* html = nullptr;
  if (has_html) {
    html = text_part("html", r.html);
    if (!inline_parts.empty()) {
      GMimeMultipart* related = g_mime_multipart_new_with_subtype("related");
      g_mime_object_set_content_type_parameter(GMIME_OBJECT(related), "type", "text/html");
      add_part(related, html);
      for (const auto* a : inline_parts) add_part(related, attachment_part(*a, true));
      html = GMIME_OBJECT(related);
    }
  }
  GMimeObject* body = nullptr;
  if (!r.text.empty() && html) {
    GMimeMultipart* alternative = g_mime_multipart_new_with_subtype("alternative");
    add_part(alternative, text_part("plain", r.text));
    add_part(alternative, html);
    body = GMIME_OBJECT(alternative);
  } else {
    body = html ? html : text_part("plain", r.text);
  }
  // Inline parts without HTML to refer to them travel as inline parts of the mixed container.
  const bool loose_inline = !has_html && !inline_parts.empty();
  if (attachments.empty() && !loose_inline) return body;
  GMimeMultipart* mixed = g_mime_multipart_new_with_subtype("mixed");
  add_part(mixed, body);
  if (loose_inline) {
    for (const auto* a : inline_parts) add_part(mixed, attachment_part(*a, true));
  }
  for (const auto* a : attachments) add_part(mixed, attachment_part(*a, false));
  return GMIME_OBJECT(mixed);
}

std::string safe_hostname(std::string_view hostname) {
  const bool ok = !hostname.empty() && hostname.size() <= kMaxHostnameBytes &&
                  std::all_of(hostname.begin(), hostname.end(),
                              [](char c) { return g_ascii_isalnum(c) || c == '.' || c == '-'; });
  return ok ? std::string(hostname) : std::string("localhost");
}

void add_mailboxes(GMimeMessage* msg, GMimeAddressType type, const std::vector<SendAddress>& list) {
  for (const auto& a : list) {
    g_mime_message_add_mailbox(msg, type, make_valid_utf8(a.name).c_str(), a.email.c_str());
  }
}

}  // namespace

// ===================================================================================================

MessageDetail parse_detail(std::string_view raw, const MimeLimits& limits) {
  init();
  MessageDetail out;
  ParseNotes notes;
  try {
    std::string hardened;
    const std::string_view input = internal::harden_input(raw, hardened, notes, limits);
    GObjectPtr<GMimeMessage> message(internal::construct_message(input, notes));
    if (!message.p) {
      // No header block GMime recognises (empty or headerless input): all of it is text.
      out.parse_failed = true;
      notes.notes.insert(notes.notes.begin(), "no message could be parsed");
      out.text = internal::text_to_utf8(input.data(), input.size(), nullptr, false);
    } else {
      collect_headers(message.p, out, notes);
      if (const std::string* rp = first_header(out, "Return-Path"))
        out.return_path = return_path_address(*rp);
      fill_list_unsubscribe(out);

      const bool crlf = uses_crlf(input);
      GMimePart* text_body = nullptr;
      GMimePart* html_body = nullptr;
      LeafWalker walker(limits, notes);
      walker.walk(g_mime_message_get_mime_part(message.p), [&](GMimeObject* leaf, const std::string& id,
                                                               bool in_related) {
        switch (internal::classify_leaf(leaf, in_related, text_body != nullptr, html_body != nullptr)) {
          case LeafRole::kTextBody:
            text_body = GMIME_PART(leaf);
            break;
          case LeafRole::kHtmlBody:
            html_body = GMIME_PART(leaf);
            break;
          case LeafRole::kInline:
            out.inline_parts.push_back(describe_leaf(leaf, id, crlf));
            break;
          case LeafRole::kAttachment:
            out.attachments.push_back(describe_leaf(leaf, id, crlf));
            break;
          case LeafRole::kOther:
            break;
        }
        return true;
      });
      // Decoded content is never longer than the input, so this bound never cuts a body.
      const std::size_t whole = input.size() + 1;
      if (text_body) out.text = internal::decode_text_part(text_body, whole);
      if (html_body) out.html = internal::decode_text_part(html_body, whole);
    }
  } catch (const std::exception& e) {
    out.parse_failed = true;
    notes.add(std::string("internal error: ") + e.what());
  } catch (...) {
    out.parse_failed = true;
    notes.add("internal error");
  }
  out.parse_error = join_notes(notes);
  return out;
}

std::optional<PartContent> get_part(std::string_view raw, std::string_view part_id,
                                    const MimeLimits& limits) {
  // Only "N" or "N.N..." with decimal N can name a part; anything else is answered without parsing.
  if (part_id.empty() || part_id.size() > kMaxPartIdBytes || part_id.front() == '.' ||
      part_id.back() == '.' || part_id.find("..") != std::string_view::npos ||
      !std::all_of(part_id.begin(), part_id.end(), [](char c) { return g_ascii_isdigit(c) || c == '.'; })) {
    return std::nullopt;
  }
  init();
  try {
    ParseNotes notes;
    std::string hardened;
    const std::string_view input = internal::harden_input(raw, hardened, notes, limits);
    GObjectPtr<GMimeMessage> message(internal::construct_message(input, notes));
    if (!message.p) return std::nullopt;
    const bool crlf = uses_crlf(input);
    std::optional<PartContent> found;
    LeafWalker walker(limits, notes);
    walker.walk(g_mime_message_get_mime_part(message.p), [&](GMimeObject* leaf, const std::string& id, bool) {
      if (id != part_id) return true;
      PartContent content;
      content.content_type = mime_type_of(leaf);
      content.file_name = file_name_of(leaf);
      read_leaf(leaf, crlf, [&](const char* data, std::size_t len) { content.data.append(data, len); });
      found = std::move(content);
      return false;
    });
    return found;
  } catch (...) {
    return std::nullopt;
  }
}

core::Result<std::string> build_message(const SendRequest& request, std::string_view hostname,
                                        int64_t now_ms) {
  if (auto ok = validate(request); !ok) return ok.error();
  init();
  try {
    static core::IdGenerator ids;  // thread-safe; unique Message-IDs within this process
    GObjectPtr<GMimeMessage> msg(g_mime_message_new(TRUE));
    add_mailboxes(msg.p, GMIME_ADDRESS_TYPE_FROM, {request.from});
    add_mailboxes(msg.p, GMIME_ADDRESS_TYPE_REPLY_TO, request.reply_to);
    add_mailboxes(msg.p, GMIME_ADDRESS_TYPE_TO, request.to);
    add_mailboxes(msg.p, GMIME_ADDRESS_TYPE_CC, request.cc);
    // Bcc is deliberately not written: it is part of the envelope only.
    if (!request.subject.empty()) {
      g_mime_message_set_subject(msg.p, make_valid_utf8(request.subject).c_str(), "utf-8");
    }
    const auto given = [&](std::string_view name) {
      return std::any_of(request.headers.begin(), request.headers.end(),
                         [&](const auto& h) { return core::ascii_iequals(h.first, name); });
    };
    if (!given("Date")) {
      GDateTime* date = g_date_time_new_from_unix_utc(now_ms / 1000);
      if (date) {
        g_mime_message_set_date(msg.p, date);
        g_date_time_unref(date);
      }
    }
    if (!given("Message-ID")) {
      const std::string id = ids.next(now_ms) + "@" + safe_hostname(hostname);
      g_mime_message_set_message_id(msg.p, id.c_str());
    }
    std::string tags;
    for (const auto& t : request.tags) {
      const std::string_view tag = trim(t);
      if (tag.empty()) continue;
      if (!tags.empty()) tags.append(", ");
      tags.append(tag);
    }
    if (!tags.empty())
      g_mime_object_append_header(GMIME_OBJECT(msg.p), "X-Tags", make_valid_utf8(tags).c_str(), "utf-8");
    for (const auto& [name, value] : request.headers) {
      g_mime_object_append_header(GMIME_OBJECT(msg.p), name.c_str(), make_valid_utf8(value).c_str(), "utf-8");
    }
    GMimeObject* body = build_body(request);
    const bool single_part = GMIME_IS_PART(body);
    g_mime_message_set_mime_part(msg.p, body);
    g_object_unref(body);

    GMimeFormatOptions* format = g_mime_format_options_new();
    g_mime_format_options_set_newline_format(format, GMIME_NEWLINE_FORMAT_DOS);
    GObjectPtr<GMimeStream> stream(g_mime_stream_mem_new());
    const ssize_t written = g_mime_object_write_to_stream(GMIME_OBJECT(msg.p), format, stream.p);
    g_mime_format_options_free(format);
    GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(stream.p));
    if (written < 0 || !bytes) return core::make_error("internal", "the message could not be written");
    std::string out(reinterpret_cast<const char*>(bytes->data), bytes->len);
    // GMime ends the message with a line break; when a single-part body did not end with one, that break
    // is not part of the text, and the message ends where the text does.
    const std::string& single_body = request.html.empty() ? request.text : request.html;
    if (single_part && !single_body.empty() && single_body.back() != '\n' && out.size() >= 2 &&
        out.compare(out.size() - 2, 2, "\r\n") == 0) {
      out.resize(out.size() - 2);
    }
    return out;
  } catch (const std::exception& e) {
    return core::make_error("internal", e.what());
  } catch (...) {
    return core::make_error("internal", "the message could not be built");
  }
}

}  // namespace mailjar::mime
