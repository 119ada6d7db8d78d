// NAME
//   mime_internal.h - private to server/mime: the GMime plumbing shared by mime.cpp (summaries) and
//   detail.cpp (the message API): hardened parsing, content decoding, charset conversion to UTF-8, and
//   the one rule that says whether a leaf part is a body, an inline part or an attachment.
// SECURITY
//   Everything here takes hostile input. construct_message() neutralises the constructs known to
//   overflow GMime's stack before GMime sees them; every string function returns valid UTF-8.
//   Call mime::init() before any of it.
#pragma once

#include <gmime/gmime.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "mime/mime.h"

namespace mailjar::mime::internal {

// Owns one GObject reference.
template <typename T>
struct GObjectPtr {
  T* p = nullptr;
  GObjectPtr() = default;
  explicit GObjectPtr(T* ptr) : p(ptr) {}
  GObjectPtr(const GObjectPtr&) = delete;
  GObjectPtr& operator=(const GObjectPtr&) = delete;
  ~GObjectPtr() {
    if (p) g_object_unref(p);
  }
};

// The process-wide parser options set up by mime::init() (read-only afterwards, shared by all threads).
GMimeParserOptions* parser_options();

// ---------------------------------------------------------------------------------------------------
// Text.

// `s` as valid UTF-8: each invalid byte becomes U+FFFD and NUL bytes are dropped. nullptr gives "".
std::string make_valid_utf8(std::string_view s);
std::string make_valid_utf8(const char* s);

// Cuts valid UTF-8 `s` to at most `max_bytes` bytes without splitting a character.
void truncate_utf8_bytes(std::string& s, std::size_t max_bytes);

// Converts text in the declared charset (possibly absent or bogus) to valid UTF-8. `truncated` says the
// input was cut at an arbitrary byte, so an incomplete final character is dropped, not replaced.
std::string text_to_utf8(const char* data, std::size_t len, const char* charset, bool truncated);

std::string_view trim(std::string_view s);

// ---------------------------------------------------------------------------------------------------
// Parsing.

// What went wrong or looked odd while one message was parsed (at most 16 distinct notes).
struct ParseNotes {
  std::vector<std::string> notes;
  void add(std::string note) {
    if (notes.size() >= 16) return;
    for (const auto& n : notes) {
      if (n == note) return;
    }
    notes.push_back(std::move(note));
  }
};

// The length of the prefix of `raw` that holds at most `max_parts` opening MIME delimiter lines
// ("--boundary" for a boundary= declared earlier in the message); raw.size() when it has no more. GMime
// builds an object for every part it meets (a 10 MB message of 100,000 parts cost 1.5 s of CPU and
// 700 MB), so it is only given this prefix. Linear in the size of `raw`.
std::size_t parts_prefix(std::string_view raw, int max_parts);

// Returns `raw` (or its prefix of at most limits.max_parts parts, see parts_prefix), or a copy of that in
// `storage` with the constructs that overflow GMime's stack (huge encoded-word/RFC 2231 charsets, deeply
// nested address groups) turned into plain text; what was done is noted in `notes`. Byte offsets are
// unchanged. Everything GMime parses must go through this first.
std::string_view harden_input(std::string_view raw, std::string& storage, ParseNotes& notes,
                              const MimeLimits& limits);

// Parses hardened input as a message (GMime's serious warnings go to `notes`). Returns a new reference,
// or nullptr when GMime could not build a message at all (empty or headerless input).
GMimeMessage* construct_message(std::string_view input, ParseNotes& notes);

// A stream of the part's content with the transfer encoding (base64, quoted-printable, uuencode)
// removed; a new reference, or nullptr when the part has no content. Decoded content is never longer
// than its encoded form.
GMimeStream* open_decoded_content(GMimePart* part);

// At most `max_bytes` of the part's decoded content (the rest is never decoded), converted from the
// part's charset to valid UTF-8.
std::string decode_text_part(GMimePart* part, std::size_t max_bytes);

// The decoded file name of a leaf (a GMimePart or GMimeMessagePart): the Content-Disposition filename,
// else the Content-Type name; nullptr when neither is set.
const char* leaf_filename(GMimeObject* leaf);

// How the message API shows a leaf part of a message (MessageDetail and MessageSummary use this one rule,
// so the summary's counts match the detail's lists).
enum class LeafRole {
  kAttachment,  // Content-Disposition attachment, or a file name without inline disposition (unless it
                // is a Content-ID part of a multipart/related)
  kTextBody,    // the first text/plain that is not an attachment and has no file name
  kHtmlBody,    // the first text/html, same conditions
  kInline,      // not a body: Content-Disposition inline, or a Content-ID inside a multipart/related
  kOther,       // none of these (e.g. a second nameless text part, a delivery-status report)
};
LeafRole classify_leaf(GMimeObject* leaf, bool in_related, bool have_text_body, bool have_html_body);

}  // namespace mailjar::mime::internal
