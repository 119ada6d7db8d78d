// NAME
//   mime.cpp - GMime adapter: raw RFC 5322 bytes -> core::MessageSummary; also the GMime plumbing that
//   detail.cpp shares (declared in mime_internal.h).
// STANDARDS
//   RFC 5322, RFC 2045-2049, RFC 2047, RFC 2231, RFC 6532; RFC 3339 for the Date output; RFC 3629 for the
//   UTF-8 validity of every string returned.
// SECURITY
//   The input is hostile. GMime does the tokenising; this file bounds what is walked (MimeLimits), never
//   trusts a charset name, decodes only the one text part it uses (and only a bounded prefix of it), and
//   replaces invalid UTF-8 in everything it returns. Constructs known to overflow GMime's stack (huge
//   encoded-word/RFC 2231 charsets, deeply nested address groups) are neutralised in a private copy of
//   the input before GMime sees it. No exception leaves parse_summary(): GMime is C, and the C++ code
//   below is wrapped in a catch-all.
#include "core/ascii.h"
#include "core/names.h"
#include "core/utf8.h"
#include "mime/mime.h"

#include <gmime/gmime.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "mime/mime_internal.h"

namespace mailjar::mime {

// ===================================================================================================
// Shared with detail.cpp (declared in mime_internal.h).

namespace internal {

using core::utf8_sequence_length;

namespace {

constexpr std::size_t kMaxCharsetNameBytes = 64;

std::once_flag g_init_once;
GMimeParserOptions* g_parser_options = nullptr;  // read-only after init(); shared by all threads

// ---------------------------------------------------------------------------------------------------
// UTF-8 helpers.

constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD

// Length of the run of ASCII bytes other than NUL at the start of `s`; eight bytes at a time.
std::size_t ascii_prefix(const char* s, std::size_t n) {
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v;
    std::memcpy(&v, s + i, 8);
    if ((v & kHigh) != 0 || ((v - kOnes) & ~v & kHigh) != 0) break;  // a high bit, or a zero byte
  }
  while (i < n && static_cast<unsigned char>(s[i]) < 0x80 && s[i] != '\0') ++i;
  return i;
}

// Appends `s` to `out` as valid UTF-8: each invalid byte becomes U+FFFD and NUL bytes are dropped.
// Returns true when `s` was valid UTF-8 (nothing replaced; dropped NULs do not count).
bool append_valid_utf8(std::string_view s, std::string& out) {
  bool clean = true;
  std::size_t i = 0;
  while (i < s.size()) {
    const std::size_t run = ascii_prefix(s.data() + i, s.size() - i);
    out.append(s.data() + i, run);
    i += run;
    if (i >= s.size()) break;
    if (s[i] == '\0') {
      ++i;
      continue;
    }
    const std::size_t n = utf8_sequence_length(s, i);
    if (n == 0) {
      clean = false;
      out.append(kReplacement);
      ++i;
    } else {
      out.append(s.data() + i, n);
      i += n;
    }
  }
  return clean;
}

// ---------------------------------------------------------------------------------------------------
// Charset conversion.

bool is_utf8_compatible_charset(const char* charset) {
  if (!charset || !*charset) return true;
  static constexpr const char* kCompatible[] = {"utf-8", "utf8", "us-ascii", "ascii", "ansi_x3.4-1968"};
  for (const char* c : kCompatible) {
    if (g_ascii_strcasecmp(charset, c) == 0) return true;
  }
  return false;
}

// Converts `len` bytes in `charset` to UTF-8 with iconv; bytes iconv rejects become U+FFFD.
// Returns false when no converter exists for the charset.
bool iconv_to_utf8(const char* data, std::size_t len, const char* charset, bool truncated, std::string& out) {
  if (std::strlen(charset) > kMaxCharsetNameBytes) return false;  // no real charset has such a name
  const char* iconv_name = g_mime_charset_iconv_name(charset);
  if (!iconv_name) return false;
  iconv_t cd = g_mime_iconv_open("UTF-8", iconv_name);
  if (cd == reinterpret_cast<iconv_t>(-1)) return false;
  out.clear();
  out.reserve(len + len / 2 + 16);
  char buffer[4096];
  char* in = const_cast<char*>(data);
  std::size_t in_left = len;
  while (true) {
    char* outp = buffer;
    std::size_t out_left = sizeof(buffer);
    const std::size_t rc = iconv(cd, in_left ? &in : nullptr, in_left ? &in_left : nullptr, &outp, &out_left);
    out.append(buffer, sizeof(buffer) - out_left);
    if (rc != static_cast<std::size_t>(-1)) {
      if (in_left == 0) {
        // Flush any shift state (ISO-2022-JP ends in ASCII anyway, but be exact).
        outp = buffer;
        out_left = sizeof(buffer);
        iconv(cd, nullptr, nullptr, &outp, &out_left);
        out.append(buffer, sizeof(buffer) - out_left);
        break;
      }
      continue;
    }
    if (errno == E2BIG) continue;
    if (errno == EINVAL && truncated) break;  // the input was cut inside a character
    if (errno == EILSEQ || errno == EINVAL) {
      // Invalid or truncated input sequence: mark it and resynchronise one byte later.
      out.append(kReplacement);
      if (in_left == 0) break;
      ++in;
      --in_left;
      if (in_left == 0) break;
      continue;
    }
    break;  // unexpected iconv failure: keep what was converted
  }
  g_mime_iconv_close(cd);
  return true;
}

// Length of `data` without a trailing incomplete UTF-8 sequence (for input cut at an arbitrary byte).
std::size_t without_partial_utf8_tail(const char* data, std::size_t len) {
  std::size_t k = len;
  for (std::size_t back = 0; back < 4 && k > 0; ++back) {
    const unsigned char c = static_cast<unsigned char>(data[k - 1]);
    if (c < 0x80) return len;  // ASCII: complete
    if ((c & 0xC0) == 0xC0) {  // lead byte of the last sequence
      const std::size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
      return (len - (k - 1)) < need ? k - 1 : len;
    }
    --k;  // continuation byte: keep looking for its lead
  }
  return len;
}

// ---------------------------------------------------------------------------------------------------
// Parse notes. Reached from GMime's warning callback through a thread_local pointer (the parser options
// are shared, so their user_data cannot be per-parse).

thread_local ParseNotes* t_notes = nullptr;

void on_parser_warning(gint64 offset, GMimeParserWarning code, const gchar* item, gpointer) {
  if (!t_notes) return;
  const char* what = nullptr;
  switch (code) {
    case GMIME_CRIT_INVALID_HEADER_NAME:
      what = "invalid header name";
      break;
    case GMIME_CRIT_CONFLICTING_HEADER:
      what = "conflicting header";
      break;
    case GMIME_CRIT_CONFLICTING_PARAMETER:
      what = "conflicting parameter";
      break;
    case GMIME_CRIT_MULTIPART_WITHOUT_BOUNDARY:
      what = "multipart without boundary";
      break;
    case GMIME_CRIT_NESTING_OVERFLOW:
      what = "MIME nesting overflow";
      break;
    case GMIME_CRIT_PART_WITHOUT_HEADERS_OR_CONTENT:
      what = "part without headers or content";
      break;
    case GMIME_WARN_TRUNCATED_MESSAGE:
      what = "truncated message";
      break;
    default:
      return;  // GMIME_WARN_*: recoverable oddities, not worth a note
  }
  t_notes->add(what);
}

// ---------------------------------------------------------------------------------------------------
// address groups recursively, so a few hundred kilobytes of crafted header can overflow the stack.
// Before parsing, the bytes that would trigger this are neutralised in a private copy (the stored raw
// message is never touched): each change turns a pathological construct into plain text.

constexpr std::size_t kMaxEncodedCharset = 64;  // RFC 2047 "=?charset?" and RFC 2231 "charset'" lengths
constexpr int kMaxAddressColons = 32;           // ':' per address header field (each can open a group)

// Finds the first occurrence of `c` at or after `from`, remembering the answer so that a scan asking in
// increasing order stays linear.
struct NextByte {
  char c;
  std::size_t cached = 0;
  std::size_t last_from = 0;
  bool valid = false;
  std::size_t find(std::string_view s, std::size_t from) {
    if (!valid || from < last_from || (cached != std::string_view::npos && cached < from)) {
      last_from = from;
      const void* p = from < s.size() ? std::memchr(s.data() + from, c, s.size() - from) : nullptr;
      cached = p ? static_cast<std::size_t>(static_cast<const char*>(p) - s.data()) : std::string_view::npos;
      valid = true;
    }
    return cached;
  }
};

// Finds the end of the header field containing a position: the first '\n' at or after it that is not
// followed by a folding space or tab (or the end of the input). Cached like NextByte.
struct NextFieldEnd {
  std::size_t cached = 0;
  std::size_t last_from = 0;
  bool valid = false;
  std::size_t find(std::string_view s, std::size_t from) {
    if (valid && from >= last_from && cached >= from) return cached;
    last_from = from;
    std::size_t pos = from;
    while (true) {
      const void* p = pos < s.size() ? std::memchr(s.data() + pos, '\n', s.size() - pos) : nullptr;
      if (!p) {
        cached = s.size();
        break;
      }
      const std::size_t nl = static_cast<std::size_t>(static_cast<const char*>(p) - s.data());
      if (nl + 1 >= s.size() || (s[nl + 1] != ' ' && s[nl + 1] != '\t')) {
        cached = nl;
        break;
      }
      pos = nl + 1;
    }
    valid = true;
    return cached;
  }
};

bool is_address_header(std::string_view line) {
  static constexpr std::string_view kNames[] = {"from",
                                                "to",
                                                "cc",
                                                "bcc",
                                                "reply-to",
                                                "sender",
                                                "resent-from",
                                                "resent-to",
                                                "resent-cc",
                                                "resent-bcc",
                                                "resent-sender",
                                                "resent-reply-to",
                                                "return-receipt-to",
                                                "disposition-notification-to",
                                                "mail-followup-to",
                                                "mail-reply-to",
                                                "errors-to",
                                                "apparently-to"};
  const std::size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon > 40) return false;
  const std::string_view name = trim(line.substr(0, colon));
  for (std::string_view n : kNames) {
    if (core::ascii_iequals(name, n)) return true;
  }
  return false;
}

// Returns the positions to overwrite (with the byte to write), in increasing order.
std::vector<std::pair<std::size_t, char>> find_gmime_hazards(std::string_view s) {
  std::vector<std::pair<std::size_t, char>> fixes;
  NextByte question{'?'};
  NextByte apostrophe{'\''};
  NextFieldEnd field_end;
  // Encoded-word and RFC 2231 charsets: every '=' that starts "=?" or ends "*=", when the charset would
  // run past kMaxEncodedCharset bytes inside one header field.
  for (const char* p = static_cast<const char*>(std::memchr(s.data(), '=', s.size())); p;) {
    const std::size_t i = static_cast<std::size_t>(p - s.data());
    if (i + 1 < s.size() && s[i + 1] == '?') {
      const std::size_t q = question.find(s, i + 2);
      if (q != std::string_view::npos && q - (i + 2) > kMaxEncodedCharset && q < field_end.find(s, i + 2)) {
        fixes.emplace_back(i + 1, ' ');
      }
    }
    std::size_t star = i;
    while (star > 0 && i - star < 8 && (s[star - 1] == ' ' || s[star - 1] == '\t')) --star;
    if (star > 0 && s[star - 1] == '*') {
      const std::size_t q = apostrophe.find(s, i + 1);
      if (q != std::string_view::npos && q - (i + 1) > kMaxEncodedCharset && q < field_end.find(s, i + 1)) {
        fixes.emplace_back(star - 1, '_');
      }
    }
    p = i + 1 < s.size() ? static_cast<const char*>(std::memchr(s.data() + i + 1, '=', s.size() - i - 1))
                         : nullptr;
  }
  // Address groups: count ':' in each address header field (continuation lines included).
  std::vector<std::pair<std::size_t, char>> colon_fixes;
  bool in_address = false;
  int colons = 0;
  std::size_t line_start = 0;
  while (line_start < s.size()) {
    const void* nl = std::memchr(s.data() + line_start, '\n', s.size() - line_start);
    const std::size_t line_end =
        nl ? static_cast<std::size_t>(static_cast<const char*>(nl) - s.data()) : s.size();
    const std::string_view line = s.substr(line_start, line_end - line_start);
    std::size_t scan_from = 0;
    if (!line.empty() && (line[0] == ' ' || line[0] == '\t')) {
      // Continuation of the previous field.
    } else if (!line.empty() && is_address_header(line)) {
      in_address = true;
      colons = 0;
      scan_from = line.find(':') + 1;
    } else {
      in_address = false;
    }
    if (in_address) {
      for (std::size_t k = scan_from; k < line.size(); ++k) {
        if (line[k] == ':' && ++colons > kMaxAddressColons) colon_fixes.emplace_back(line_start + k, ' ');
      }
    }
    line_start = line_end + 1;
  }
  if (!colon_fixes.empty()) {
    fixes.insert(fixes.end(), colon_fixes.begin(), colon_fixes.end());
    std::sort(fixes.begin(), fixes.end());
  }
  return fixes;
}

}  // namespace

GMimeParserOptions* parser_options() { return g_parser_options; }

std::string make_valid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  append_valid_utf8(s, out);
  return out;
}

std::string make_valid_utf8(const char* s) {
  return s ? make_valid_utf8(std::string_view(s)) : std::string();
}

// Cuts valid UTF-8 `s` to at most `max_bytes` bytes without splitting a character.
void truncate_utf8_bytes(std::string& s, std::size_t max_bytes) {
  if (s.size() <= max_bytes) return;
  std::size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  s.resize(cut);
}


std::string_view trim(std::string_view s) {
  while (!s.empty() && core::is_ascii_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && core::is_ascii_space(s.back())) s.remove_suffix(1);
  return s;
}

std::string text_to_utf8(const char* data, std::size_t len, const char* charset, bool truncated) {
  if (is_utf8_compatible_charset(charset)) {
    if (truncated) len = without_partial_utf8_tail(data, len);
    // Declared (or defaulted) UTF-8/ASCII and valid as such: the common case, one pass.
    std::string out;
    out.reserve(len);
    if (append_valid_utf8(std::string_view(data, len), out)) return out;
  } else {
    std::string converted;
    if (iconv_to_utf8(data, len, charset, truncated, converted)) return make_valid_utf8(converted);
  }
  // Mislabelled or unknown charset: let GMime guess among the fallback charsets (its result is a C
  // string, so NULs, which carry no text anyway, are removed first).
  std::string without_nul;
  if (std::memchr(data, '\0', len)) {
    without_nul.assign(data, len);
    without_nul.erase(std::remove(without_nul.begin(), without_nul.end(), '\0'), without_nul.end());
    data = without_nul.data();
    len = without_nul.size();
  }
  char* guessed = g_mime_utils_decode_8bit(g_parser_options, data, len);
  std::string out = make_valid_utf8(guessed);
  g_free(guessed);
  return out;
}

std::size_t parts_prefix(std::string_view raw, int max_parts) {
  constexpr std::size_t kMaxBoundaries = 64;      // distinct boundaries remembered
  constexpr std::size_t kMaxBoundaryBytes = 256;  // RFC 2046 allows 70; longer ones are not remembered
  std::vector<std::string_view> boundaries;
  int delimiters = 0;
  std::size_t pos = 0;
  while (pos < raw.size()) {
    const std::size_t eol = raw.find('\n', pos);
    std::string_view line = raw.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > 2 && line[0] == '-' && line[1] == '-' && !boundaries.empty()) {
      std::string_view rest = line.substr(2);
      while (!rest.empty() && (rest.back() == ' ' || rest.back() == '\t')) rest.remove_suffix(1);
      if (std::find(boundaries.begin(), boundaries.end(), rest) != boundaries.end()) {
        // An opening delimiter ("--b--" closes and starts nothing).
        if (++delimiters > max_parts) return pos;
      }
    }
    // Boundaries are declared before they are used: remember every boundary= parameter seen so far (a
    // word "boundary=" in a body only adds a boundary that no line matches). Only the '=' signs of a
    // line are looked at, so the bulk of a message (base64, text) costs one memchr per line.
    for (std::size_t eq = line.find('='); eq != std::string_view::npos && boundaries.size() < kMaxBoundaries;
         eq = line.find('=', eq + 1)) {
      std::size_t name_end = eq;
      while (name_end > 0 && (line[name_end - 1] == ' ' || line[name_end - 1] == '\t')) --name_end;
      if (name_end < 8 || !core::ascii_iequals(line.substr(name_end - 8, 8), "boundary")) continue;
      std::size_t j = eq + 1;
      while (j < line.size() && (line[j] == ' ' || line[j] == '\t')) ++j;
      std::size_t end;
      if (j < line.size() && line[j] == '"') {
        end = line.find('"', ++j);
        if (end == std::string_view::npos) continue;
      } else {
        end = line.find_first_of("; \t", j);
        if (end == std::string_view::npos) end = line.size();
      }
      const std::string_view b = line.substr(j, end - j);
      if (!b.empty() && b.size() <= kMaxBoundaryBytes &&
          std::find(boundaries.begin(), boundaries.end(), b) == boundaries.end()) {
        boundaries.push_back(b);
      }
    }
    pos = eol == std::string_view::npos ? raw.size() : eol + 1;
  }
  return raw.size();
}

std::string_view harden_input(std::string_view raw, std::string& storage, ParseNotes& notes,
                              const MimeLimits& limits) {
  const std::size_t keep = parts_prefix(raw, limits.max_parts);
  if (keep < raw.size()) {
    raw = raw.substr(0, keep);
    notes.add("more than " + std::to_string(limits.max_parts) + " MIME parts: the rest is not parsed");
  }
  const auto hazards = find_gmime_hazards(raw);
  if (hazards.empty()) return raw;
  storage.assign(raw);
  for (const auto& [pos, byte] : hazards) storage[pos] = byte;
  notes.add("crafted header constructs neutralised");
  return storage;
}

GMimeMessage* construct_message(std::string_view input, ParseNotes& notes) {
  // GMime copies the buffer, and with persist_stream off it keeps no reference to it.
  GObjectPtr<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(input.data(), input.size()));
  GObjectPtr<GMimeParser> parser(g_mime_parser_new_with_stream(stream.p));
  g_mime_parser_set_format(parser.p, GMIME_FORMAT_MESSAGE);
  g_mime_parser_set_persist_stream(parser.p, FALSE);
  t_notes = &notes;
  GMimeMessage* message = g_mime_parser_construct_message(parser.p, g_parser_options);
  t_notes = nullptr;
  return message;
}

GMimeStream* open_decoded_content(GMimePart* part) {
  GMimeDataWrapper* content = g_mime_part_get_content(part);
  if (!content) return nullptr;
  GMimeStream* source = g_mime_data_wrapper_get_stream(content);
  if (!source || g_mime_stream_reset(source) == -1) return nullptr;
  // Base64, quoted-printable and uuencode need a decoding filter; other encodings are read as they are.
  const GMimeContentEncoding encoding = g_mime_data_wrapper_get_encoding(content);
  if (encoding == GMIME_CONTENT_ENCODING_BASE64 || encoding == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE ||
      encoding == GMIME_CONTENT_ENCODING_UUENCODE) {
    GMimeStream* filtered = g_mime_stream_filter_new(source);
    GMimeFilter* filter = g_mime_filter_basic_new(encoding, FALSE);
    g_mime_stream_filter_add(GMIME_STREAM_FILTER(filtered), filter);
    g_object_unref(filter);
    return filtered;
  }
  g_object_ref(source);
  return source;
}

std::string decode_text_part(GMimePart* part, std::size_t max_bytes) {
  GObjectPtr<GMimeStream> decoded(open_decoded_content(part));
  if (!decoded.p) return {};
  std::string bytes;
  char buffer[8192];
  while (bytes.size() < max_bytes) {
    const ssize_t n =
        g_mime_stream_read(decoded.p, buffer, std::min(sizeof(buffer), max_bytes - bytes.size()));
    if (n <= 0) break;
    bytes.append(buffer, static_cast<std::size_t>(n));
  }
  const char* charset = g_mime_object_get_content_type_parameter(GMIME_OBJECT(part), "charset");
  return text_to_utf8(bytes.data(), bytes.size(), charset, bytes.size() >= max_bytes);
}

const char* leaf_filename(GMimeObject* leaf) {
  if (GMIME_IS_PART(leaf)) return g_mime_part_get_filename(GMIME_PART(leaf));
  const char* filename = g_mime_object_get_content_disposition_parameter(leaf, "filename");
  return filename ? filename : g_mime_object_get_content_type_parameter(leaf, "name");
}

LeafRole classify_leaf(GMimeObject* leaf, bool in_related, bool have_text_body, bool have_html_body) {
  const char* disposition = g_mime_object_get_disposition(leaf);
  const bool attachment_disposition = disposition && g_ascii_strcasecmp(disposition, "attachment") == 0;
  const bool inline_disposition = disposition && g_ascii_strcasecmp(disposition, "inline") == 0;
  const char* filename = leaf_filename(leaf);
  const bool named = filename && *filename;
  const char* content_id = g_mime_object_get_content_id(leaf);
  const bool related_resource = in_related && content_id && *content_id;
  if (attachment_disposition) return LeafRole::kAttachment;
  if (named && !inline_disposition && !related_resource) return LeafRole::kAttachment;
  GMimeContentType* ct = g_mime_object_get_content_type(leaf);
  if (GMIME_IS_PART(leaf) && !named && ct) {
    if (!have_text_body && g_mime_content_type_is_type(ct, "text", "plain")) return LeafRole::kTextBody;
    if (!have_html_body && g_mime_content_type_is_type(ct, "text", "html")) return LeafRole::kHtmlBody;
  }
  if (inline_disposition || related_resource) return LeafRole::kInline;
  return LeafRole::kOther;
}

}  // namespace internal

// ===================================================================================================
// Summaries.

namespace {

using internal::decode_text_part;
using internal::GObjectPtr;
using core::is_ascii_space;
using internal::kReplacement;
using internal::LeafRole;
using internal::make_valid_utf8;
using internal::ParseNotes;
using internal::text_to_utf8;
using internal::trim;
using internal::truncate_utf8_bytes;
using internal::utf8_sequence_length;

using core::kMaxTagBytes;  // bytes per tag (longer ones are cut)
using core::kMaxTags;      // tags kept per message
constexpr std::size_t kMaxParseErrorBytes = 1024;
constexpr int kMaxAddressNesting = 4;        // groups inside groups (not legal, but parsed)
constexpr std::size_t kMaxAddresses = 1000;  // per header, after flattening

void append_utf8(std::string& out, uint32_t cp) {
  if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    out.append(kReplacement);
  } else if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Folds runs of whitespace (ASCII and U+00A0) into one space and trims; stops after `max_chars`
// characters of output. Input must be valid UTF-8.
std::string fold_whitespace(std::string_view s, std::size_t max_chars) {
  std::string out;
  out.reserve(std::min(s.size(), max_chars * 2));
  std::size_t chars = 0;
  bool pending_space = false;
  std::size_t i = 0;
  while (i < s.size() && chars < max_chars) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (is_ascii_space(static_cast<char>(c))) {
      pending_space = true;
      ++i;
      continue;
    }
    if (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0xA0) {
      pending_space = true;
      i += 2;
      continue;
    }
    if (pending_space && !out.empty()) {
      out.push_back(' ');
      if (++chars >= max_chars) break;
    }
    pending_space = false;
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      ++i;
      ++chars;
      continue;
    }
    std::size_t n = utf8_sequence_length(s, i);
    if (n == 0) n = 1;  // not expected: the input is valid
    out.append(s.data() + i, n);
    i += n;
    ++chars;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// HTML to text.

bool is_block_tag(std::string_view name) {
  static constexpr std::string_view kBlock[] = {
      "address", "article", "aside", "blockquote", "br",    "dd", "div",    "dl", "dt", "footer", "form",
      "h1",      "h2",      "h3",    "h4",         "h5",    "h6", "header", "hr", "li", "main",   "nav",
      "ol",      "p",       "pre",   "section",    "table", "td", "th",     "tr", "ul"};
  for (std::string_view b : kBlock) {
    if (core::ascii_iequals(name, b)) return true;
  }
  return false;
}

// Decodes the entity starting at html[i] == '&' into out; returns bytes consumed (1 if not an entity).
std::size_t decode_entity(std::string_view html, std::size_t i, std::string& out) {
  const std::size_t max_len = std::min<std::size_t>(html.size() - i, 12);
  const std::size_t semi = html.substr(i, max_len).find(';');
  if (semi == std::string_view::npos || semi < 2) {
    out.push_back('&');
    return 1;
  }
  const std::string_view name = html.substr(i + 1, semi - 1);
  if (name[0] == '#') {
    uint32_t cp = 0;
    bool ok = name.size() > 1;
    const bool hex = ok && (name[1] == 'x' || name[1] == 'X');
    for (std::size_t k = hex ? 2 : 1; ok && k < name.size(); ++k) {
      const char c = name[k];
      int digit;
      if (c >= '0' && c <= '9') {
        digit = c - '0';
      } else if (hex && g_ascii_isxdigit(c)) {
        digit = g_ascii_xdigit_value(c);
      } else {
        ok = false;
        break;
      }
      cp = cp * (hex ? 16 : 10) + static_cast<uint32_t>(digit);
      if (cp > 0x10FFFF) ok = false;
    }
    if (ok && name.size() > (hex ? 2u : 1u)) {
      append_utf8(out, cp);
      return semi + 1;
    }
    out.push_back('&');
    return 1;
  }
  static constexpr struct {
    std::string_view name;
    std::string_view text;
  } kEntities[] = {{"amp", "&"},
                   {"lt", "<"},
                   {"gt", ">"},
                   {"quot", "\""},
                   {"apos", "'"},
                   {"nbsp", " "},
                   {"copy", "\xC2\xA9"},
                   {"reg", "\xC2\xAE"},
                   {"hellip", "\xE2\x80\xA6"},
                   {"mdash", "\xE2\x80\x94"},
                   {"ndash", "\xE2\x80\x93"},
                   {"rsquo", "\xE2\x80\x99"},
                   {"lsquo", "\xE2\x80\x98"},
                   {"rdquo", "\xE2\x80\x9D"},
                   {"ldquo", "\xE2\x80\x9C"},
                   {"euro", "\xE2\x82\xAC"},
                   {"trade", "\xE2\x84\xA2"},
                   {"zwnj", ""}};
  for (const auto& e : kEntities) {
    if (name == e.name) {
      out.append(e.text);
      return semi + 1;
    }
  }
  out.push_back('&');
  return 1;
}

// Renders HTML (valid UTF-8) to plain text: drops tags and comments, skips the content of script,
// style, title and template elements, decodes character references, and folds whitespace (a block
// element boundary becomes a newline). A tolerant scanner, not an HTML5 parser: good enough for a
// snippet and the search index.
std::string html_to_text(std::string_view html) {
  std::string raw;  // text with entities decoded, whitespace not yet folded; '\n' marks blocks
  raw.reserve(html.size() / 2);
  std::size_t i = 0;
  const std::size_t n = html.size();
  while (i < n) {
    const char c = html[i];
    if (c == '&') {
      i += decode_entity(html, i, raw);
      continue;
    }
    if (c != '<') {
      raw.push_back(c);
      ++i;
      continue;
    }
    // A tag, a comment, a declaration, or a stray '<'.
    if (html.compare(i, 4, "<!--") == 0) {
      const std::size_t end = html.find("-->", i + 4);
      i = end == std::string_view::npos ? n : end + 3;
      continue;
    }
    std::size_t j = i + 1;
    const bool closing = j < n && html[j] == '/';
    if (closing) ++j;
    const std::size_t name_start = j;
    while (j < n && (g_ascii_isalnum(html[j]) || html[j] == '-' || html[j] == ':')) ++j;
    const std::string_view name = html.substr(name_start, j - name_start);
    if (name.empty() && !(j < n && (html[j] == '!' || html[j] == '?'))) {
      raw.push_back('<');  // not a tag: "a < b"
      ++i;
      continue;
    }
    // Find the end of the tag, honouring quoted attribute values.
    char quote = 0;
    while (j < n) {
      const char d = html[j];
      if (quote) {
        if (d == quote) quote = 0;
      } else if (d == '"' || d == '\'') {
        quote = d;
      } else if (d == '>') {
        break;
      }
      ++j;
    }
    i = j < n ? j + 1 : n;
    if (is_block_tag(name)) raw.push_back('\n');
    if (!closing && (core::ascii_iequals(name, "script") || core::ascii_iequals(name, "style") || core::ascii_iequals(name, "title") ||
                     core::ascii_iequals(name, "template"))) {
      // Skip to the matching end tag (case-insensitive).
      std::string end_tag = "</";
      end_tag.append(name);
      std::size_t k = i;
      bool found = false;
      while (k + end_tag.size() <= n) {
        if (html[k] == '<' && core::ascii_iequals(html.substr(k, end_tag.size()), end_tag)) {
          found = true;
          break;
        }
        ++k;
      }
      if (!found) {
        i = n;
        continue;
      }
      const std::size_t close = html.find('>', k);
      i = close == std::string_view::npos ? n : close + 1;
    }
  }
  // Fold whitespace: a run containing a block break becomes '\n', any other run one space.
  std::string out;
  out.reserve(raw.size());
  bool in_space = false;
  bool saw_newline = false;
  std::size_t k = 0;
  while (k < raw.size()) {
    const unsigned char ch = static_cast<unsigned char>(raw[k]);
    const bool nbsp = ch == 0xC2 && k + 1 < raw.size() && static_cast<unsigned char>(raw[k + 1]) == 0xA0;
    if (is_ascii_space(static_cast<char>(ch)) || nbsp) {
      in_space = true;
      if (ch == '\n') saw_newline = true;
      k += nbsp ? 2 : 1;
      continue;
    }
    if (in_space && !out.empty()) out.push_back(saw_newline ? '\n' : ' ');
    in_space = false;
    saw_newline = false;
    out.push_back(static_cast<char>(ch));
    ++k;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Parse state and GMime walking.
void flatten_addresses(InternetAddressList* list, std::vector<core::Address>& out, int nesting) {
  if (!list || nesting > kMaxAddressNesting) return;
  const int count = internet_address_list_length(list);
  for (int i = 0; i < count && out.size() < kMaxAddresses; ++i) {
    InternetAddress* ia = internet_address_list_get_address(list, i);
    if (INTERNET_ADDRESS_IS_GROUP(ia)) {
      flatten_addresses(internet_address_group_get_members(INTERNET_ADDRESS_GROUP(ia)), out, nesting + 1);
    } else if (INTERNET_ADDRESS_IS_MAILBOX(ia)) {
      core::Address a;
      a.name = make_valid_utf8(internet_address_get_name(ia));
      a.address = make_valid_utf8(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia)));
      if (!a.name.empty() || !a.address.empty()) out.push_back(std::move(a));
    }
  }
}

std::string format_date_rfc3339(GDateTime* date) {
  if (!date) return {};
  GDateTime* utc = g_date_time_to_utc(date);
  if (!utc) return {};
  std::string out;
  const int year = g_date_time_get_year(utc);
  if (year >= 1 && year <= 9999) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02dZ", year, g_date_time_get_month(utc),
                  g_date_time_get_day_of_month(utc), g_date_time_get_hour(utc), g_date_time_get_minute(utc),
                  g_date_time_get_second(utc));
    out = buf;
  }
  g_date_time_unref(utc);
  return out;
}

void add_tag(std::vector<std::string>& tags, std::string_view tag) {
  tag = trim(tag);
  if (tag.empty() || tags.size() >= kMaxTags) return;
  std::string t = make_valid_utf8(tag);
  truncate_utf8_bytes(t, kMaxTagBytes);
  if (core::name_problem(t, "tag", kMaxTagBytes)) return;  // e.g. a control character: not a tag
  if (std::find(tags.begin(), tags.end(), t) == tags.end()) tags.push_back(std::move(t));
}

void add_plus_tags(const std::vector<core::Address>& addrs, std::vector<std::string>& tags) {
  for (const auto& a : addrs) {
    const std::string_view addr = a.address;
    const std::size_t at = addr.rfind('@');
    const std::string_view local = addr.substr(0, at == std::string_view::npos ? addr.size() : at);
    const std::size_t plus = local.find('+');
    if (plus != std::string_view::npos) add_tag(tags, local.substr(plus + 1));
  }
}

// A text part chosen for the body, decoded later (only one is ever decoded).
struct BodyCandidate {
  GMimePart* part = nullptr;
  bool embedded = false;  // inside an attached message/rfc822
};

struct Walker {
  Walker(const MimeLimits& l, ParseNotes& n) : limits(l), notes(n) {}
  const MimeLimits& limits;
  ParseNotes& notes;
  int parts_seen = 0;
  bool depth_noted = false;
  bool parts_noted = false;
  int attachments = 0;
  int inlines = 0;
  std::vector<std::string> filenames;
  std::size_t filenames_bytes = 0;
  BodyCandidate plain, html, embedded_plain, embedded_html;

  void note_filename(const char* filename) {
    if (!filename || !*filename || filenames_bytes > limits.max_index_text / 4) return;
    std::string name = make_valid_utf8(filename);
    filenames_bytes += name.size() + 1;
    filenames.push_back(std::move(name));
  }

  // Counts a leaf of the message itself (not of an attached message) the way MessageDetail lists it,
  // and remembers the body candidates (an attached message's bodies in their own slots).
  void classify(GMimeObject* leaf, bool in_related, bool embedded) {
    BodyCandidate& text_slot = embedded ? embedded_plain : plain;
    BodyCandidate& html_slot = embedded ? embedded_html : html;
    switch (internal::classify_leaf(leaf, in_related, text_slot.part != nullptr, html_slot.part != nullptr)) {
      case LeafRole::kAttachment:
        if (!embedded) ++attachments;
        break;
      case LeafRole::kInline:
        if (!embedded) ++inlines;
        break;
      case LeafRole::kTextBody:
        text_slot = {GMIME_PART(leaf), embedded};
        break;
      case LeafRole::kHtmlBody:
        html_slot = {GMIME_PART(leaf), embedded};
        break;
      case LeafRole::kOther:
        break;
    }
    note_filename(internal::leaf_filename(leaf));
  }

  void walk(GMimeObject* obj, int depth, bool embedded, bool in_related) {
    if (!obj) return;
    if (parts_seen >= limits.max_parts) {
      if (!parts_noted) notes.add("part limit reached: remaining parts ignored");
      parts_noted = true;
      return;
    }
    ++parts_seen;
    if (GMIME_IS_MULTIPART(obj)) {
      if (depth + 1 > limits.max_depth) {
        if (!depth_noted) notes.add("depth limit reached: deeper parts ignored");
        depth_noted = true;
        return;
      }
      GMimeMultipart* mp = GMIME_MULTIPART(obj);
      GMimeContentType* ct = g_mime_object_get_content_type(obj);
      const bool related = in_related || (ct && g_mime_content_type_is_type(ct, "multipart", "related"));
      const int count = g_mime_multipart_get_count(mp);
      for (int i = 0; i < count; ++i) walk(g_mime_multipart_get_part(mp, i), depth + 1, embedded, related);
      return;
    }
    if (GMIME_IS_MESSAGE_PART(obj)) {
      classify(obj, in_related, embedded);
      if (depth + 1 > limits.max_depth) {
        if (!depth_noted) notes.add("depth limit reached: deeper parts ignored");
        depth_noted = true;
        return;
      }
      GMimeMessage* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
      if (inner) walk(g_mime_message_get_mime_part(inner), depth + 1, true, false);
      return;
    }
    if (GMIME_IS_PART(obj)) classify(obj, in_related, embedded);
  }
};

// Fallback when GMime could not build a message: read "Name: value" lines up to the first blank or
// non-header line (for Subject), and treat everything after them as the text body.
void salvage_without_gmime(std::string_view raw, const MimeLimits& limits, core::MessageSummary& out) {
  std::size_t pos = 0;
  std::size_t body_start = 0;
  while (pos < raw.size()) {
    std::size_t eol = raw.find('\n', pos);
    if (eol == std::string_view::npos) eol = raw.size();
    std::string_view line = raw.substr(pos, eol - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const bool continuation = !line.empty() && (line[0] == ' ' || line[0] == '\t') && pos > 0;
    const std::size_t colon = line.find(':');
    bool header = continuation;
    if (!continuation && colon != std::string_view::npos && colon > 0) {
      header = true;
      for (std::size_t k = 0; k < colon; ++k) {
        const unsigned char c = static_cast<unsigned char>(line[k]);
        if (c <= 32 || c >= 127) header = false;
      }
    }
    if (line.empty()) {
      body_start = std::min(eol + 1, raw.size());
      break;
    }
    if (!header) {
      body_start = pos;
      break;
    }
    if (!continuation && colon == 7 && core::ascii_iequals(line.substr(0, 7), "subject") && out.subject.empty()) {
      const std::string value(trim(line.substr(8)));
      char* decoded = g_mime_utils_header_decode_text(internal::parser_options(), value.c_str());
      out.subject = make_valid_utf8(decoded);
      g_free(decoded);
    }
    pos = eol + 1;
    body_start = std::min(pos, raw.size());
  }
  const std::string_view body =
      raw.substr(body_start, std::min(raw.size() - body_start, limits.max_index_text));
  out.text_for_index = text_to_utf8(body.data(), body.size(), nullptr, body.size() < raw.size() - body_start);
  truncate_utf8_bytes(out.text_for_index, limits.max_index_text);
  out.snippet = fold_whitespace(out.text_for_index, limits.snippet_chars);
}

}  // namespace

void init() {
  std::call_once(internal::g_init_once, [] {
    g_mime_init();
    GMimeParserOptions* options = g_mime_parser_options_new();
    g_mime_parser_options_set_address_compliance_mode(options, GMIME_RFC_COMPLIANCE_LOOSE);
    g_mime_parser_options_set_parameter_compliance_mode(options, GMIME_RFC_COMPLIANCE_LOOSE);
    g_mime_parser_options_set_rfc2047_compliance_mode(options, GMIME_RFC_COMPLIANCE_LOOSE);
    g_mime_parser_options_set_allow_addresses_without_domain(options, TRUE);
    // Undeclared 8-bit text: UTF-8 if it is valid, else the most likely Western encodings.
    const char* fallback[] = {"utf-8", "windows-1252", "iso-8859-1", nullptr};
    g_mime_parser_options_set_fallback_charsets(options, fallback);
    g_mime_parser_options_set_warning_callback(options, internal::on_parser_warning, nullptr);
    internal::g_parser_options = options;
  });
}

core::MessageSummary parse_summary(std::string_view raw, const MimeLimits& limits) {
  init();
  core::MessageSummary out;
  ParseNotes notes;
  try {
    std::string hardened;
    const std::string_view input = internal::harden_input(raw, hardened, notes, limits);
    GObjectPtr<GMimeMessage> message(internal::construct_message(input, notes));
    if (!message.p) {
      out.parse_failed = true;
      notes.notes.insert(notes.notes.begin(), "no message could be parsed");
      salvage_without_gmime(input, limits, out);
    } else {
      GMimeMessage* msg = message.p;
      flatten_addresses(g_mime_message_get_from(msg), out.from, 0);
      flatten_addresses(g_mime_message_get_to(msg), out.to, 0);
      flatten_addresses(g_mime_message_get_cc(msg), out.cc, 0);
      flatten_addresses(g_mime_message_get_bcc(msg), out.bcc, 0);
      flatten_addresses(g_mime_message_get_reply_to(msg), out.reply_to, 0);
      out.subject = make_valid_utf8(g_mime_message_get_subject(msg));
      out.date = format_date_rfc3339(g_mime_message_get_date(msg));
      out.message_id = make_valid_utf8(g_mime_message_get_message_id(msg));

      // Tags: every X-Tags header, then plus-addressing of To and Cc.
      GMimeHeaderList* headers = g_mime_object_get_header_list(GMIME_OBJECT(msg));
      const int header_count = headers ? g_mime_header_list_get_count(headers) : 0;
      for (int i = 0; i < header_count; ++i) {
        GMimeHeader* h = g_mime_header_list_get_header_at(headers, i);
        const char* name = g_mime_header_get_name(h);
        if (!name || g_ascii_strcasecmp(name, "X-Tags") != 0) continue;
        const std::string value = make_valid_utf8(g_mime_header_get_value(h));
        std::size_t start = 0;
        while (start <= value.size()) {
          std::size_t comma = value.find(',', start);
          if (comma == std::string::npos) comma = value.size();
          add_tag(out.tags, std::string_view(value).substr(start, comma - start));
          start = comma + 1;
        }
      }
      add_plus_tags(out.to, out.tags);
      add_plus_tags(out.cc, out.tags);

      Walker walker(limits, notes);
      walker.walk(g_mime_message_get_mime_part(msg), 0, false, false);
      out.attachments = walker.attachments;
      out.inlines = walker.inlines;
      // Only a bounded prefix of the body is decoded: enough source bytes for max_index_text of text
      // (HTML needs more, its markup is dropped).
      const std::size_t text_source = limits.max_index_text * 4 + 64;
      const std::size_t html_source = limits.max_index_text * 16 + 64;
      // Preference: text/plain, then text/html, of the message itself, then of an attached message; a
      // part whose text is only whitespace does not count.
      std::string body;
      const auto blank = [](const std::string& t) { return std::all_of(t.begin(), t.end(), is_ascii_space); };
      if (walker.plain.part) body = decode_text_part(walker.plain.part, text_source);
      if (blank(body) && walker.html.part)
        body = html_to_text(decode_text_part(walker.html.part, html_source));
      if (blank(body) && walker.embedded_plain.part)
        body = decode_text_part(walker.embedded_plain.part, text_source);
      if (blank(body) && walker.embedded_html.part) {
        body = html_to_text(decode_text_part(walker.embedded_html.part, html_source));
      }
      out.snippet = fold_whitespace(body, limits.snippet_chars);

      std::string names;
      for (const auto& f : walker.filenames) {
        names.push_back('\n');
        names.append(f);
      }
      truncate_utf8_bytes(names, limits.max_index_text);
      truncate_utf8_bytes(body, limits.max_index_text - names.size());
      out.text_for_index = std::move(body);
      out.text_for_index.append(names);
    }
  } catch (const std::exception& e) {
    out.parse_failed = true;
    notes.add(std::string("internal error: ") + e.what());
  } catch (...) {
    out.parse_failed = true;
    notes.add("internal error");
  }
  for (const auto& n : notes.notes) {
    if (!out.parse_error.empty()) out.parse_error.append("; ");
    out.parse_error.append(n);
  }
  truncate_utf8_bytes(out.parse_error, kMaxParseErrorBytes);
  return out;
}

}  // namespace mailjar::mime
