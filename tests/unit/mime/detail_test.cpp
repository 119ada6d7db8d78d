// Tests for mime/detail.h: part IDs and classification, decoding and checksums, charsets, headers,
// Return-Path, List-Unsubscribe, get_part, hostile input (the real-world corpus in tests/fixtures/mime,
// deep nesting, thousands of parts) and build_message round trips.
#include "mime/detail.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "mime/mime.h"
#include "utf8_check.h"
#include "tests/unit/testing.h"

namespace mailjar::mime {
namespace {

namespace fs = std::filesystem;
using mailjar::testing::crlf;

constexpr int64_t kNow = 1704164645000;  // 2024-01-02T03:04:05Z

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<fs::path> corpus_files() {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(MAILJAR_MIME_FIXTURES)) {
    if (entry.path().extension() == ".eml") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Strict RFC 3629 check (utf8_check.h); part text may hold NUL bytes.
bool valid_utf8(const std::string& s) { return mailjar::mime::testing::valid_utf8(s, /*reject_nul=*/false); }

void expect_all_valid_utf8(const MessageDetail& d, const std::string& context) {
  SCOPED_TRACE(context);
  for (const auto& [name, value] : d.headers) {
    EXPECT_TRUE(valid_utf8(name));
    EXPECT_TRUE(valid_utf8(value));
    EXPECT_EQ(value.find_first_of("\r\n"), std::string::npos);
  }
  EXPECT_TRUE(valid_utf8(d.return_path));
  EXPECT_TRUE(valid_utf8(d.text));
  EXPECT_TRUE(valid_utf8(d.html));
  EXPECT_TRUE(valid_utf8(d.parse_error));
  for (const auto* list : {&d.inline_parts, &d.attachments}) {
    for (const auto& p : *list) {
      EXPECT_TRUE(valid_utf8(p.file_name));
      EXPECT_TRUE(valid_utf8(p.content_type));
      EXPECT_TRUE(valid_utf8(p.content_id));
    }
  }
  EXPECT_TRUE(valid_utf8(d.list_unsubscribe.header));
  EXPECT_TRUE(valid_utf8(d.list_unsubscribe.header_post));
  for (const auto& l : d.list_unsubscribe.links) EXPECT_TRUE(valid_utf8(l));
  for (const auto& e : d.list_unsubscribe.errors) EXPECT_TRUE(valid_utf8(e));
}

// "id|type|name|cid" for each part, for compact table comparisons.
std::vector<std::string> describe(const std::vector<PartInfo>& parts) {
  std::vector<std::string> out;
  for (const auto& p : parts)
    out.push_back(p.part_id + "|" + p.content_type + "|" + p.file_name + "|" + p.content_id);
  return out;
}

class DetailTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { init(); }
};

// ---------------------------------------------------------------------------------------------------
// Part IDs and classification.

struct LayoutCase {
  const char* name;
  const char* raw;  // "\n" line ends, converted to CRLF
  const char* text;
  const char* html;
  std::vector<std::string> inline_parts;
  std::vector<std::string> attachments;
};

class Layouts : public DetailTest, public ::testing::WithParamInterface<LayoutCase> {};

TEST_P(Layouts, PartIdsAndRoles) {
  const LayoutCase& c = GetParam();
  const std::string raw = crlf(c.raw);
  const MessageDetail d = parse_detail(raw);
  EXPECT_FALSE(d.parse_failed) << d.parse_error;
  EXPECT_EQ(d.text, crlf(c.text));
  EXPECT_EQ(d.html, crlf(c.html));
  EXPECT_EQ(describe(d.inline_parts), c.inline_parts);
  EXPECT_EQ(describe(d.attachments), c.attachments);
  // Every listed ID works with get_part and gives the same type, name and size.
  for (const auto* list : {&d.inline_parts, &d.attachments}) {
    for (const auto& p : *list) {
      const auto part = get_part(raw, p.part_id);
      ASSERT_TRUE(part.has_value()) << p.part_id;
      EXPECT_EQ(part->content_type, p.content_type);
      EXPECT_EQ(part->file_name, p.file_name);
      EXPECT_EQ(static_cast<int64_t>(part->data.size()), p.size);
    }
  }
  // The summary counts what the detail lists.
  const core::MessageSummary s = parse_summary(raw);
  EXPECT_EQ(s.attachments, static_cast<int>(d.attachments.size()));
  EXPECT_EQ(s.inlines, static_cast<int>(d.inline_parts.size()));
}

INSTANTIATE_TEST_SUITE_P(
    Detail, Layouts,
    ::testing::Values(
        LayoutCase{"SinglePartText",
                   "From: a@example.com\nContent-Type: text/plain; charset=utf-8\n\nHello\n",
                   "Hello\n",
                   "",
                   {},
                   {}},
        LayoutCase{"NoContentTypeIsText", "From: a@example.com\n\nJust text", "Just text", "", {}, {}},
        LayoutCase{"SinglePartHtml",
                   "From: a@example.com\nContent-Type: text/html\n\n<p>Hi</p>\n",
                   "",
                   "<p>Hi</p>\n",
                   {},
                   {}},
        LayoutCase{"SinglePartAttachment",
                   "From: a@example.com\nContent-Type: application/pdf; name=x.pdf\n"
                   "Content-Transfer-Encoding: base64\n\nYWJj\n",
                   "",
                   "",
                   {},
                   {"1|application/pdf|x.pdf|"}},
        LayoutCase{"NestedMultipart",
                   "From: a@example.com\nContent-Type: multipart/mixed; boundary=m\n\n"
                   "--m\nContent-Type: multipart/alternative; boundary=a\n\n"
                   "--a\nContent-Type: text/plain\n\nplain\n"
                   "--a\nContent-Type: text/html\n\n<b>html</b>\n"
                   "--a--\n"
                   "--m\nContent-Type: application/pdf\nContent-Disposition: attachment; filename=\"r.pdf\"\n"
                   "Content-Transfer-Encoding: base64\n\nJVBERi0=\n"
                   "--m--\n",
                   "plain",
                   "<b>html</b>",
                   {},
                   {"2|application/pdf|r.pdf|"}},
        LayoutCase{"MessageRfc822IsOnePart",
                   "From: a@example.com\nContent-Type: multipart/mixed; boundary=m\n\n"
                   "--m\nContent-Type: text/plain\n\nouter text\n"
                   "--m\nContent-Type: message/rfc822\nContent-Disposition: attachment; filename=fwd.eml\n\n"
                   "From: inner@example.com\nSubject: inner\nContent-Type: multipart/mixed; boundary=i\n\n"
                   "--i\nContent-Type: text/plain\n\ninner text\n"
                   "--i\nContent-Type: application/zip\nContent-Disposition: attachment; filename=in.zip\n\n"
                   "UEs=\n--i--\n"
                   "--m--\n",
                   "outer text",
                   "",
                   {},
                   {"2|message/rfc822|fwd.eml|"}},
        LayoutCase{"InlineImageInRelated",
                   "From: a@example.com\nContent-Type: multipart/mixed; boundary=m\n\n"
                   "--m\nContent-Type: multipart/alternative; boundary=a\n\n"
                   "--a\nContent-Type: text/plain\n\nplain\n"
                   "--a\nContent-Type: multipart/related; boundary=r\n\n"
                   "--r\nContent-Type: text/html\n\n<img src=\"cid:logo@x\">\n"
                   "--r\nContent-Type: image/png; name=logo.png\nContent-ID: <logo@x>\n"
                   "Content-Transfer-Encoding: base64\n\niVBORw0KGgo=\n"
                   "--r--\n"
                   "--a--\n"
                   "--m\nContent-Type: application/zip; name=a.zip\n\nUEs=\n"
                   "--m--\n",
                   "plain",
                   "<img src=\"cid:logo@x\">",
                   {"1.2.2|image/png|logo.png|logo@x"},
                   {"2|application/zip|a.zip|"}},
        LayoutCase{"DeeplyNestedIds",
                   "From: a@example.com\nContent-Type: multipart/mixed; boundary=m1\n\n"
                   "--m1\nContent-Type: multipart/mixed; boundary=m2\n\n"
                   "--m2\nContent-Type: multipart/mixed; boundary=m3\n\n"
                   "--m3\nContent-Type: text/plain\n\ndeep\n"
                   "--m3\nContent-Type: text/csv; name=c.csv\n\na,b\n"
                   "--m3--\n"
                   "--m2\nContent-Type: image/gif\nContent-Disposition: attachment; filename=g.gif\n\nGIF\n"
                   "--m2--\n"
                   "--m1\nContent-Type: application/pdf\nContent-Disposition: attachment\n\nPDF\n"
                   "--m1--\n",
                   "deep",
                   "",
                   {},
                   {"1.1.2|text/csv|c.csv|", "1.2|image/gif|g.gif|", "2|application/pdf||"}},
        // Apple Mail style: inline image and a second inline text part between body parts.
        LayoutCase{
            "InlineDispositionParts",
            "From: a@example.com\nContent-Type: multipart/mixed; boundary=m\n\n"
            "--m\nContent-Type: text/plain\nContent-Disposition: inline\n\nbefore\n"
            "--m\nContent-Type: image/jpeg; name=p.jpg\nContent-Disposition: inline; filename=p.jpg\n\nJPG\n"
            "--m\nContent-Type: text/plain\nContent-Disposition: inline\n\nafter\n"
            "--m\nContent-Type: text/plain\n\nnameless and not inline\n"
            "--m--\n",
            "before",
            "",
            {"2|image/jpeg|p.jpg|", "3|text/plain||"},
            {}},
        // A text part with a file name is never the body; the first nameless one is.
        LayoutCase{"NamedTextIsNotTheBody",
                   "From: a@example.com\nContent-Type: multipart/mixed; boundary=m\n\n"
                   "--m\nContent-Type: text/plain; name=notes.txt\n\nnotes\n"
                   "--m\nContent-Type: text/html\nContent-Disposition: attachment\n\n<p>file</p>\n"
                   "--m\nContent-Type: text/plain\n\nbody\n"
                   "--m--\n",
                   "body",
                   "",
                   {},
                   {"1|text/plain|notes.txt|", "2|text/html||"}},
        // Content-ID outside multipart/related and without disposition: neither inline nor attachment.
        LayoutCase{"ContentIdOutsideRelated",
                   "From: a@example.com\nContent-Type: multipart/mixed; boundary=m\n\n"
                   "--m\nContent-Type: text/plain\n\nbody\n"
                   "--m\nContent-Type: image/png\nContent-ID: <x@y>\n\nPNG\n"
                   "--m\nContent-Type: message/delivery-status\n\nStatus: 5.0.0\n"
                   "--m--\n",
                   "body",
                   "",
                   {},
                   {}}),
    [](const ::testing::TestParamInfo<LayoutCase>& info) { return std::string(info.param.name); });

TEST_F(DetailTest, CorpusNestedAttachmentIds) {
  // multipart/signed[mixed[text, inline png], smime.p7s]
  const std::string raw =
      read_file(fs::path(MAILJAR_MIME_FIXTURES) / "mime_emails_raw_email_with_nested_attachment.eml");
  const MessageDetail d = parse_detail(raw);
  EXPECT_EQ(describe(d.inline_parts), std::vector<std::string>{"1.2|image/png|truncated.png|"});
  EXPECT_EQ(describe(d.attachments), std::vector<std::string>{"2|application/pkcs7-signature|smime.p7s|"});
  EXPECT_EQ(d.text.substr(0, 42), "Here is a test of an attachment via email.");
  const auto png = get_part(raw, "1.2");
  ASSERT_TRUE(png.has_value());
  EXPECT_EQ(png->data.substr(0, 8), "\x89PNG\r\n\x1a\n");
}

TEST_F(DetailTest, CorpusAttachedMessageBytes) {
  const std::string raw =
      read_file(fs::path(MAILJAR_MIME_FIXTURES) / "attachment_emails_attachment_message_rfc822.eml");
  const MessageDetail d = parse_detail(raw);
  ASSERT_EQ(d.attachments.size(), 1u);
  EXPECT_EQ(d.attachments[0].content_type, "message/rfc822");
  EXPECT_EQ(d.attachments[0].file_name, "ForwardedMessage.eml");
  const auto part = get_part(raw, "2");
  ASSERT_TRUE(part.has_value());
  // The attached message as received: it parses on its own and keeps its attachment.
  const MessageDetail inner = parse_detail(part->data);
  EXPECT_FALSE(inner.parse_failed);
  EXPECT_EQ(describe(inner.attachments), std::vector<std::string>{"2|application/pdf|broken.pdf|"});
  EXPECT_NE(raw.find(part->data.substr(0, 200)), std::string::npos);
}

// ---------------------------------------------------------------------------------------------------
// File names.

TEST_F(DetailTest, AttachmentFileNames) {
  struct Case {
    const char* headers;  // the attachment's header lines
    const char* expected;
  };
  const Case cases[] = {
      {"Content-Type: text/plain\nContent-Disposition: attachment; filename=plain.txt", "plain.txt"},
      {"Content-Type: text/plain\nContent-Disposition: attachment; filename=\"with space.txt\"",
       "with space.txt"},
      // RFC 2231 extended value, UTF-8 and ISO-8859-1.
      {"Content-Type: text/plain\nContent-Disposition: attachment; filename*=UTF-8''na%C3%AFve.txt",
       "na\xC3\xAFve.txt"},
      {"Content-Type: text/plain\nContent-Disposition: attachment; filename*=iso-8859-1'fr'caf%E9.txt",
       "caf\xC3\xA9.txt"},
      // RFC 2231 continuations, encoded and plain.
      {"Content-Type: text/plain\nContent-Disposition: attachment;\n filename*0*=UTF-8''%E6%97%A5;\n"
       " filename*1*=%E6%9C%AC.txt",
       "\xE6\x97\xA5\xE6\x9C\xAC.txt"},
      {"Content-Type: text/plain\nContent-Disposition: attachment;\n filename*0=\"a long \";\n"
       " filename*1=\"name.txt\"",
       "a long name.txt"},
      // RFC 2047 in the Content-Type name (common, though not standard), no disposition.
      {"Content-Type: application/pdf; name=\"=?UTF-8?B?w6l0w6kucGRm?=\"", "\xC3\xA9t\xC3\xA9.pdf"},
      // The disposition filename wins over the type's name.
      {"Content-Type: application/pdf; name=type.pdf\nContent-Disposition: attachment; filename=disp.pdf",
       "disp.pdf"},
  };
  for (const auto& c : cases) {
    const std::string raw =
        crlf(std::string("From: a@example.com\nContent-Type: multipart/mixed; boundary=m\n\n"
                         "--m\nContent-Type: text/plain\n\nbody\n--m\n") +
             c.headers + "\n\nabc\n--m--\n");
    const MessageDetail d = parse_detail(raw);
    ASSERT_EQ(d.attachments.size(), 1u) << c.headers;
    EXPECT_EQ(d.attachments[0].file_name, c.expected) << c.headers;
    EXPECT_EQ(d.attachments[0].part_id, "2");
    const auto part = get_part(raw, "2");
    ASSERT_TRUE(part.has_value());
    EXPECT_EQ(part->file_name, c.expected);
  }
}

// ---------------------------------------------------------------------------------------------------
// Transfer encodings and checksums.

TEST_F(DetailTest, DecodingAndChecksums) {
  struct Case {
    const char* encoding;  // Content-Transfer-Encoding ("" for none)
    const char* body;      // as written in the message
    std::string bytes;     // decoded
    const char* md5;
    const char* sha1;
    const char* sha256;
  };
  const std::string fox = "The quick brown fox jumps over the lazy dog";
  const char* fox_md5 = "9e107d9d372bb6826bd81d3542a419d6";
  const char* fox_sha1 = "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12";
  const char* fox_sha256 = "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592";
  const Case cases[] = {
      {"base64", "YWJj", "abc", "900150983cd24fb0d6963f7d28e17f72",
       "a9993e364706816aba3e25717850c26c9cd0d89d",
       "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
      {"base64", "VGhlIHF1aWNrIGJyb3duIGZveCBqdW1w\ncyBvdmVyIHRoZSBsYXp5IGRvZw==", fox, fox_md5, fox_sha1,
       fox_sha256},
      {"quoted-printable", "The quick brown fox =\njumps over the lazy=20dog", fox, fox_md5, fox_sha1,
       fox_sha256},
      {"7bit", "The quick brown fox jumps over the lazy dog", fox, fox_md5, fox_sha1, fox_sha256},
      {"", "abc", "abc", "900150983cd24fb0d6963f7d28e17f72", "a9993e364706816aba3e25717850c26c9cd0d89d",
       "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
      {"base64", "", "", "d41d8cd98f00b204e9800998ecf8427e", "da39a3ee5e6b4b0d3255bfef95601890afd80709",
       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
      // Binary bytes, NUL included: base64 of 00 FF 10 0D 0A.
      {"base64", "AP8QDQo=", std::string("\x00\xFF\x10\r\n", 5), "a6c99f57e29655a2a435994ec428d653",
       "a4507c3c46225fec941845e657cf96a04660dec3",
       "1151e4df6045153a472d1444fa216651a6c8bd93002410147de4ad3a4399ee0c"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.encoding) + ": " + c.body);
    std::string part_headers =
        "Content-Type: application/octet-stream\nContent-Disposition: attachment; filename=f.bin\n";
    if (*c.encoding) part_headers += std::string("Content-Transfer-Encoding: ") + c.encoding + "\n";
    const std::string raw = crlf(
        "From: a@example.com\nContent-Type: multipart/mixed; boundary=m\n\n--m\nContent-Type: text/plain\n\n"
        "body\n--m\n" +
        part_headers + "\n" + c.body + "\n--m--\n");
    const MessageDetail d = parse_detail(raw);
    ASSERT_EQ(d.attachments.size(), 1u);
    const PartInfo& p = d.attachments[0];
    EXPECT_EQ(p.size, static_cast<int64_t>(c.bytes.size()));
    const auto part = get_part(raw, p.part_id);
    ASSERT_TRUE(part.has_value());
    EXPECT_EQ(part->data, c.bytes);
    EXPECT_EQ(p.md5, c.md5);
    EXPECT_EQ(p.sha1, c.sha1);
    EXPECT_EQ(p.sha256, c.sha256);
  }
}

TEST_F(DetailTest, ChecksumsOfKnownBinaryBytes) {
  // 256 bytes 00..FF: digests computed independently (coreutils md5sum/sha1sum/sha256sum).
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
  static const char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string encoded;
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    const uint32_t n = (static_cast<unsigned char>(bytes[i]) << 16) |
                       (i + 1 < bytes.size() ? static_cast<unsigned char>(bytes[i + 1]) << 8 : 0) |
                       (i + 2 < bytes.size() ? static_cast<unsigned char>(bytes[i + 2]) : 0);
    encoded.push_back(kB64[(n >> 18) & 63]);
    encoded.push_back(kB64[(n >> 12) & 63]);
    encoded.push_back(i + 1 < bytes.size() ? kB64[(n >> 6) & 63] : '=');
    encoded.push_back(i + 2 < bytes.size() ? kB64[n & 63] : '=');
    if (encoded.size() % 77 == 76) encoded.push_back('\n');
  }
  const std::string raw = crlf(
      "From: a@example.com\nContent-Type: application/octet-stream; name=all.bin\n"
      "Content-Transfer-Encoding: base64\n\n" +
      encoded + "\n");
  const MessageDetail d = parse_detail(raw);
  ASSERT_EQ(d.attachments.size(), 1u);
  EXPECT_EQ(d.attachments[0].part_id, "1");
  EXPECT_EQ(d.attachments[0].size, 256);
  EXPECT_EQ(d.attachments[0].md5, "e2c865db4162bed963bfaa9ef6ac18f0");
  EXPECT_EQ(d.attachments[0].sha1, "4916d6bdb7f78e6803698cab32d1586ea457dfc8");
  EXPECT_EQ(d.attachments[0].sha256, "40aff2e9d2d8922e47afd4648e6967497158785fbd1da870e7110266bf944880");
  EXPECT_EQ(get_part(raw, "1")->data, bytes);
}

// ---------------------------------------------------------------------------------------------------
// Text and HTML bodies.

TEST_F(DetailTest, BodyCharsetsAndEncodings) {
  struct Case {
    const char* content_type;
    const char* encoding;
    std::string body;  // as written
    std::string text;  // expected text (or HTML) in UTF-8
  };
  const Case cases[] = {
      {"text/plain; charset=iso-8859-1", "quoted-printable", "caf=E9 cr=E8me", "caf\xC3\xA9 cr\xC3\xA8me"},
      {"text/plain; charset=ISO-8859-1", "8bit", "caf\xE9", "caf\xC3\xA9"},
      {"text/plain; charset=utf-8", "base64", "ZMOpasOgIHZ1", "d\xC3\xA9j\xC3\xA0 vu"},
      {"text/plain; charset=utf-8", "quoted-printable", "d=C3=A9j=C3=A0 =\nvu", "d\xC3\xA9j\xC3\xA0 vu"},
      {"text/plain; charset=windows-1252", "8bit", "\x93quoted\x94", "\xE2\x80\x9Cquoted\xE2\x80\x9D"},
      {"text/plain; charset=utf-8", "8bit", "d\xC3\xA9j\xC3\xA0", "d\xC3\xA9j\xC3\xA0"},
      // Declared UTF-8, really Latin-1: guessed, never invalid output.
      {"text/plain; charset=utf-8", "8bit", "d\xE9j\xE0", "d\xC3\xA9j\xC3\xA0"},
      // Invalid sequences in a multi-byte charset are replaced with U+FFFD.
      {"text/plain; charset=shift_jis", "8bit", "a\x82\xA0\x82z", "a\xE3\x81\x82\xEF\xBF\xBDz"},
      {"text/html; charset=iso-8859-1", "quoted-printable", "<p>na=EFve</p>", "<p>na\xC3\xAFve</p>"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.content_type) + " " + c.encoding);
    const std::string raw = std::string("From: a@example.com\r\nContent-Type: ") + c.content_type +
                            "\r\nContent-Transfer-Encoding: " + c.encoding + "\r\n\r\n" + crlf(c.body);
    const MessageDetail d = parse_detail(raw);
    const bool html = std::string(c.content_type).rfind("text/html", 0) == 0;
    EXPECT_EQ(html ? d.html : d.text, c.text);
    EXPECT_EQ(html ? d.text : d.html, "");
    EXPECT_TRUE(valid_utf8(d.text));
  }
}

TEST_F(DetailTest, FirstTextAndHtmlPartsAreTheBodies) {
  const std::string raw = crlf(
      "From: a@example.com\nContent-Type: multipart/mixed; boundary=m\n\n"
      "--m\nContent-Type: text/html; charset=utf-8\n\n<p>first html</p>\n"
      "--m\nContent-Type: text/plain; charset=utf-8\nContent-Disposition: attachment\n\nattached text\n"
      "--m\nContent-Type: text/plain; charset=utf-8\n\nfirst text\n"
      "--m\nContent-Type: text/html; charset=utf-8\n\n<p>second html</p>\n"
      "--m--\n");
  const MessageDetail d = parse_detail(raw);
  EXPECT_EQ(d.html, "<p>first html</p>");
  EXPECT_EQ(d.text, "first text");
  EXPECT_EQ(describe(d.attachments), std::vector<std::string>{"2|text/plain||"});
  EXPECT_TRUE(d.inline_parts.empty());  // the second HTML is neither
  EXPECT_EQ(get_part(raw, "4")->data, "<p>second html</p>");
}

// ---------------------------------------------------------------------------------------------------
// Headers and Return-Path.

TEST_F(DetailTest, HeadersInOrderUnfoldedWithDuplicates) {
  const std::string raw = crlf(
      "Received: from a by b;\n\tTue, 2 Jan 2024 03:04:05 +0000\n"
      "Received: from c by d; Tue, 2 Jan 2024 03:04:00 +0000\n"
      "From: =?UTF-8?B?w4lsb2RpZQ==?= <elodie@example.com>\n"
      "Subject: a folded\n   subject\n"
      "Content-Type: text/plain; charset=utf-8\n"
      "X-Empty:\n"
      "X-Raw-Utf8: caf\xC3\xA9\n"
      "MIME-Version: 1.0\n"
      "X-Tail:value-without-space\n"
      "\n"
      "body\n");
  const MessageDetail d = parse_detail(raw);
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"Received", "from a by b;\tTue, 2 Jan 2024 03:04:05 +0000"},
      {"Received", "from c by d; Tue, 2 Jan 2024 03:04:00 +0000"},
      {"From", "=?UTF-8?B?w4lsb2RpZQ==?= <elodie@example.com>"},  // not decoded
      {"Subject", "a folded   subject"},
      {"Content-Type", "text/plain; charset=utf-8"},
      {"X-Empty", ""},
      {"X-Raw-Utf8", "caf\xC3\xA9"},
      {"MIME-Version", "1.0"},
      {"X-Tail", "value-without-space"},
  };
  EXPECT_EQ(d.headers, expected);
  EXPECT_EQ(d.text, "body\r\n");
}

TEST_F(DetailTest, ReturnPath) {
  struct Case {
    const char* headers;
    const char* expected;
  };
  const Case cases[] = {
      {"Return-Path: <bounce@example.com>\n", "bounce@example.com"},
      {"Return-Path: bare@example.com\n", "bare@example.com"},
      {"Return-Path: <>\n", ""},
      {"Return-Path:   <spaced@example.com>  (comment)\n", "spaced@example.com"},
      {"Return-Path: <first@example.com>\nReturn-Path: <second@example.com>\n", "first@example.com"},
      {"", ""},
  };
  for (const auto& c : cases) {
    const std::string raw = crlf(std::string(c.headers) + "From: a@example.com\n\nbody\n");
    EXPECT_EQ(parse_detail(raw).return_path, c.expected) << c.headers;
  }
}

// ---------------------------------------------------------------------------------------------------
// List-Unsubscribe.

TEST_F(DetailTest, ListUnsubscribe) {
  struct Case {
    const char* name;
    const char* headers;
    std::vector<std::string> links;
    std::vector<std::string> errors;  // each expected error contains this text, in order
  };
  const Case cases[] = {
      {"absent", "", {}, {}},
      {"mailto only",
       "List-Unsubscribe: <mailto:unsub@example.com?subject=unsubscribe>\n",
       {"mailto:unsub@example.com?subject=unsubscribe"},
       {}},
      {"one-click",
       "List-Unsubscribe: <mailto:u@example.com>,\n <https://example.com/u?id=1>\n"
       "List-Unsubscribe-Post: List-Unsubscribe=One-Click\n",
       {"mailto:u@example.com", "https://example.com/u?id=1"},
       {}},
      {"plain http is a link", "List-Unsubscribe: <http://example.com/u>\n", {"http://example.com/u"}, {}},
      {"https without post",
       "List-Unsubscribe: <https://example.com/u>\n",
       {"https://example.com/u"},
       {"List-Unsubscribe-Post"}},
      {"post with wrong value",
       "List-Unsubscribe: <https://example.com/u>\nList-Unsubscribe-Post: List-Unsubscribe=Yes\n",
       {"https://example.com/u"},
       {"One-Click"}},
      {"post without https",
       "List-Unsubscribe: <mailto:u@example.com>\n"
       "List-Unsubscribe-Post: List-Unsubscribe=One-Click\n",
       {"mailto:u@example.com"},
       {"no https link"}},
      {"post without header",
       "List-Unsubscribe-Post: List-Unsubscribe=One-Click\n",
       {},
       {"without a List-Unsubscribe"}},
      {"not in brackets", "List-Unsubscribe: mailto:u@example.com\n", {}, {"not contained in <>"}},
      {"bad separator",
       "List-Unsubscribe: <mailto:u@example.com> or <mailto:v@example.com>\n",
       {"mailto:u@example.com", "mailto:v@example.com"},
       {"not a valid separator"}},
      {"unknown scheme",
       "List-Unsubscribe: <ftp://example.com/u>, <mailto:u@example.com>\n",
       {"mailto:u@example.com"},
       {"not a mailto: or http(s): link"}},
      {"spaces inside", "List-Unsubscribe: <mailto:u@example.com ?subject=x>\n", {}, {"contains spaces"}},
      {"unterminated", "List-Unsubscribe: <https://example.com/u\n", {}, {"not closed"}},
      {"empty brackets", "List-Unsubscribe: <>\n", {}, {"empty"}},
      {"duplicate header",
       "List-Unsubscribe: <mailto:a@example.com>\nList-Unsubscribe: <mailto:b@example.com>\n",
       {"mailto:a@example.com"},
       {"more than one"}},
      {"empty commas tolerated",
       "List-Unsubscribe: , <mailto:u@example.com> ,,\n",
       {"mailto:u@example.com"},
       {}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const MessageDetail d = parse_detail(crlf(std::string("From: a@example.com\n") + c.headers + "\nbody\n"));
    const ListUnsubscribe& lu = d.list_unsubscribe;
    EXPECT_EQ(lu.links, c.links);
    ASSERT_EQ(lu.errors.size(), c.errors.size()) << (lu.errors.empty() ? "" : lu.errors[0]);
    for (std::size_t i = 0; i < c.errors.size(); ++i) {
      EXPECT_NE(lu.errors[i].find(c.errors[i]), std::string::npos) << lu.errors[i];
    }
  }
  const MessageDetail d = parse_detail(
      crlf("From: a@example.com\nList-Unsubscribe: <mailto:u@example.com>,\n\t<https://e.com/u>\n"
           "List-Unsubscribe-Post: List-Unsubscribe=One-Click\n\nbody\n"));
  EXPECT_EQ(d.list_unsubscribe.header, "<mailto:u@example.com>,\t<https://e.com/u>");
  EXPECT_EQ(d.list_unsubscribe.header_post, "List-Unsubscribe=One-Click");
}

TEST_F(DetailTest, ListUnsubscribeIsBounded) {
  std::string value;
  for (int i = 0; i < 500; ++i)
    value += "<mailto:u" + std::to_string(i) + "@example.com>, junk" + std::to_string(i) + ", ";
  const MessageDetail d =
      parse_detail(crlf("From: a@example.com\nList-Unsubscribe: " + value + "\n\nbody\n"));
  EXPECT_EQ(d.list_unsubscribe.links.size(), 32u);
  EXPECT_EQ(d.list_unsubscribe.errors.size(), 16u);
}

// ---------------------------------------------------------------------------------------------------
// get_part.

TEST_F(DetailTest, GetPartForEveryIdAndMissingIds) {
  const std::string raw = crlf(
      "From: a@example.com\nContent-Type: multipart/mixed; boundary=m\n\n"
      "--m\nContent-Type: multipart/alternative; boundary=a\n\n"
      "--a\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: "
      "quoted-printable\n\ncaf=E9\n"
      "--a\nContent-Type: multipart/related; boundary=r\n\n"
      "--r\nContent-Type: text/html\n\n<p>html</p>\n"
      "--r\nContent-Type: image/png\nContent-ID: <img@x>\nContent-Transfer-Encoding: base64\n\nYWJj\n"
      "--r--\n"
      "--a--\n"
      "--m\nContent-Type: application/zip; name=a.zip\nContent-Transfer-Encoding: base64\n\nUEsDBA==\n"
      "--m--\n");
  struct Case {
    const char* id;
    const char* type;
    std::string data;  // decoded bytes, not charset-converted
  };
  const Case present[] = {
      {"1.1", "text/plain", "caf\xE9"},
      {"1.2.1", "text/html", "<p>html</p>"},
      {"1.2.2", "image/png", "abc"},
      {"2", "application/zip", std::string("PK\x03\x04", 4)},
  };
  for (const auto& c : present) {
    const auto part = get_part(raw, c.id);
    ASSERT_TRUE(part.has_value()) << c.id;
    EXPECT_EQ(part->content_type, c.type) << c.id;
    EXPECT_EQ(part->data, c.data) << c.id;
  }
  const std::string missing[] = {"9",
                                 "1.9",
                                 "",
                                 "abc",
                                 "1",
                                 "1.2",
                                 "0",
                                 "01",
                                 "1.",
                                 ".1",
                                 "1..1",
                                 "2.1",
                                 "-1",
                                 " 2",
                                 "2 ",
                                 "1.2.2.1",
                                 "1.2.3",
                                 "3",
                                 "1.1.0",
                                 "+1",
                                 std::string(300, '1'),
                                 "99999999999999999999"};
  for (const auto& id : missing) EXPECT_FALSE(get_part(raw, id).has_value()) << "[" << id << "]";
  EXPECT_FALSE(get_part("", "1").has_value());
  EXPECT_FALSE(get_part("no headers at all\n", "1").has_value());
  // The single-part body is "1".
  const auto single = get_part(crlf("From: a@example.com\n\nbody\n"), "1");
  ASSERT_TRUE(single.has_value());
  EXPECT_EQ(single->data, "body\r\n");
  EXPECT_EQ(single->content_type, "text/plain");
}

// ---------------------------------------------------------------------------------------------------
// Hostile input.

TEST_F(DetailTest, EveryCorpusFileIsConsistent) {
  const auto files = corpus_files();
  ASSERT_GE(files.size(), 75u);
  for (const auto& path : files) {
    const std::string raw = read_file(path);
    const MessageDetail d = parse_detail(raw);
    const std::string name = path.filename().string();
    expect_all_valid_utf8(d, name);
    EXPECT_FALSE(d.parse_failed) << name << ": " << d.parse_error;
    EXPECT_FALSE(d.headers.empty()) << name;
    const core::MessageSummary s = parse_summary(raw);
    EXPECT_EQ(s.attachments, static_cast<int>(d.attachments.size())) << name;
    EXPECT_EQ(s.inlines, static_cast<int>(d.inline_parts.size())) << name;
    for (const auto* list : {&d.inline_parts, &d.attachments}) {
      for (const auto& p : *list) {
        const auto part = get_part(raw, p.part_id);
        ASSERT_TRUE(part.has_value()) << name << " " << p.part_id;
        EXPECT_EQ(static_cast<int64_t>(part->data.size()), p.size) << name << " " << p.part_id;
        EXPECT_EQ(p.sha256.size(), 64u);
      }
    }
  }
}

TEST_F(DetailTest, CorpusCharsetBodies) {
  struct Case {
    const char* file;
    const char* text_prefix;
  };
  const Case cases[] = {
      {"multi_charset_japanese_iso_2022.eml", "\xE3\x81\x99\xE3\x81\xBF\xE3\x81\xBE\xE3\x81\x9B\xE3\x82\x93"},
      {"multi_charset_japanese_shift_jis.eml",
       "\xE3\x81\x82\xE3\x81\x84\xE3\x81\x86\xE3\x81\x88\xE3\x81\x8A"},
      {"multi_charset_ks_c_5601-1987.eml", "\xEC\x8A\xA4\xED\x8B\xB0\xED\x95\xB4"},
      {"plain_emails_basic_email.eml", "Plain email.\r\n\r\nHope it works well!"},
  };
  for (const auto& c : cases) {
    const MessageDetail d = parse_detail(read_file(fs::path(MAILJAR_MIME_FIXTURES) / c.file));
    EXPECT_EQ(d.text.substr(0, std::string(c.text_prefix).size()), c.text_prefix) << c.file;
  }
}

TEST_F(DetailTest, TruncatedAndMutatedCorpusNeverCrashes) {
  const auto files = corpus_files();
  for (const char* name :
       {"mime_emails_raw_email_with_nested_attachment.eml", "attachment_emails_attachment_pdf.eml",
        "attachment_emails_attachment_message_rfc822.eml"}) {
    const std::string raw = read_file(fs::path(MAILJAR_MIME_FIXTURES) / name);
    for (std::size_t len = 0; len <= raw.size(); len += 41) {
      const std::string cut = raw.substr(0, len);
      const MessageDetail d = parse_detail(cut);
      expect_all_valid_utf8(d, std::string(name) + " cut at " + std::to_string(len));
      for (const auto& p : d.attachments) EXPECT_TRUE(get_part(cut, p.part_id).has_value());
    }
  }
  std::mt19937 rng(4242);
  for (int i = 0; i < 150; ++i) {
    std::string raw = read_file(files[rng() % files.size()]);
    if (raw.empty()) continue;
    for (int k = 0, flips = 1 + static_cast<int>(rng() % 20); k < flips; ++k) {
      const char specials[] = {'\n', '\r', ':',  '-',    '=', '?', '<', '>',
                               ';',  '"',  '\0', '\xFF', ' ', '*', '\''};
      raw[rng() % raw.size()] = (rng() % 2) ? specials[rng() % sizeof(specials)] : static_cast<char>(rng());
    }
    const MessageDetail d = parse_detail(raw);
    expect_all_valid_utf8(d, "mutation " + std::to_string(i));
    (void)get_part(raw, "1");
    (void)get_part(raw, "2");
  }
}

TEST_F(DetailTest, RandomBytesNeverCrash) {
  std::mt19937 rng(99);
  for (int i = 0; i < 200; ++i) {
    std::string raw(rng() % 3000, '\0');
    for (auto& c : raw) c = static_cast<char>(rng());
    expect_all_valid_utf8(parse_detail(raw), "random " + std::to_string(i));
    (void)get_part(raw, "1");
  }
}

TEST_F(DetailTest, EmptyAndHeaderlessInput) {
  const MessageDetail empty = parse_detail("");
  EXPECT_TRUE(empty.parse_failed);
  EXPECT_NE(empty.parse_error.find("no message"), std::string::npos);
  EXPECT_TRUE(empty.headers.empty());

  const MessageDetail text = parse_detail("just words\nno header\n");
  EXPECT_TRUE(text.parse_failed);
  EXPECT_EQ(text.text, "just words\nno header\n");
  EXPECT_TRUE(text.attachments.empty());
}

TEST_F(DetailTest, DeepNestingIsBounded) {
  std::string raw = "From: a@example.com\r\nSubject: deep\r\n";
  for (int i = 0; i < 1000; ++i) {
    raw += "Content-Type: multipart/mixed; boundary=\"b" + std::to_string(i) + "\"\r\n\r\n--b" +
           std::to_string(i) + "\r\n";
  }
  raw += "Content-Type: application/pdf; name=deep.pdf\r\n\r\nPDF\r\n";
  MimeLimits limits;
  limits.max_depth = 8;
  const MessageDetail d = parse_detail(raw, limits);
  EXPECT_NE(d.parse_error.find("depth limit"), std::string::npos) << d.parse_error;
  EXPECT_TRUE(d.attachments.empty());
  EXPECT_FALSE(d.headers.empty());
  EXPECT_FALSE(get_part(raw, "1.1.1.1.1.1.1.1.1.1", limits).has_value());
  const MessageDetail defaults = parse_detail(raw);
  EXPECT_NE(defaults.parse_error.find("depth limit"), std::string::npos);

  // Within the limit the same shape is walked and the IDs are the nesting path.
  std::string shallow = "From: a@example.com\r\n";
  for (int i = 0; i < 4; ++i) {
    shallow += "Content-Type: multipart/mixed; boundary=\"b" + std::to_string(i) + "\"\r\n\r\n--b" +
               std::to_string(i) + "\r\n";
  }
  shallow += "Content-Type: application/pdf; name=deep.pdf\r\n\r\nPDF\r\n";
  const MessageDetail s = parse_detail(shallow, limits);
  EXPECT_EQ(describe(s.attachments), std::vector<std::string>{"1.1.1.1|application/pdf|deep.pdf|"});
  EXPECT_TRUE(get_part(shallow, "1.1.1.1", limits).has_value());
}

TEST_F(DetailTest, ThousandsOfPartsAreBounded) {
  std::string raw = "From: a@example.com\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n";
  for (int i = 0; i < 1500; ++i) {
    raw += "--x\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=f" +
           std::to_string(i) + ".pdf\r\n\r\nAAAA\r\n";
  }
  raw += "--x--\r\n";
  const MimeLimits limits;  // 1000 parts, the multipart itself included
  const MessageDetail d = parse_detail(raw, limits);
  EXPECT_EQ(d.attachments.size(), 999u);
  EXPECT_EQ(d.attachments.back().part_id, "999");
  EXPECT_NE(d.parse_error.find("part limit"), std::string::npos);
  EXPECT_FALSE(d.parse_failed);
  EXPECT_EQ(parse_summary(raw, limits).attachments, 999);
  EXPECT_TRUE(get_part(raw, "999").has_value());
  EXPECT_FALSE(get_part(raw, "1000").has_value());
  EXPECT_FALSE(get_part(raw, "1500").has_value());
  EXPECT_EQ(get_part(raw, "500")->file_name, "f499.pdf");
}

// GMime builds an object for every part it meets (100,000 parts: 1.5 s of CPU and 700 MB per parse), so
// it only ever sees the prefix with at most max_parts delimiters of declared boundaries.
TEST_F(DetailTest, PartsBeyondTheLimitAreNeverGivenToGMime) {
  std::string raw = "From: a@example.com\r\nContent-Type: multipart/mixed;\r\n boundary=\"outer b\"\r\n\r\n";
  raw += "--outer b\r\nContent-Type: multipart/alternative; BOUNDARY=inner\r\n\r\n--inner\r\n\r\nt\r\n--inner--\r\n";
  for (int i = 0; i < 5000; ++i) {
    raw += "--outer b \r\nContent-Disposition: attachment; filename=f" + std::to_string(i) + ".bin\r\n\r\nA\r\n";
  }
  raw += "--outer b--\r\n";
  MimeLimits limits;
  limits.max_parts = 100;
  const MessageDetail d = parse_detail(raw, limits);
  EXPECT_NE(d.parse_error.find("more than 100 MIME parts: the rest is not parsed"), std::string::npos) << d.parse_error;
  EXPECT_LE(d.attachments.size(), 100u);
  EXPECT_GE(d.attachments.size(), 95u);
  EXPECT_EQ(d.text, "t");
  const core::MessageSummary summary = parse_summary(raw, limits);
  EXPECT_EQ(static_cast<std::size_t>(summary.attachments), d.attachments.size());
  EXPECT_EQ(get_part(raw, d.attachments.back().part_id, limits)->file_name, d.attachments.back().file_name);
  // The same bytes and limits give the same IDs.
  EXPECT_EQ(parse_detail(raw, limits).attachments.back().part_id, d.attachments.back().part_id);
}

TEST_F(DetailTest, LinesThatOnlyLookLikeDelimitersDoNotCount) {
  std::string raw = "From: a@example.com\r\nContent-Type: text/plain\r\n\r\nboundary is a word, boundary=\r\n";
  for (int i = 0; i < 3000; ++i) raw += "--x\r\n-- \r\n---\r\n";
  MimeLimits limits;
  limits.max_parts = 10;
  const MessageDetail d = parse_detail(raw, limits);
  EXPECT_EQ(d.parse_error.find("MIME parts"), std::string::npos) << d.parse_error;
  EXPECT_EQ(d.text.size(), raw.size() - raw.find("\r\n\r\n") - 4);
}

TEST_F(DetailTest, HeaderCountIsBounded) {
  std::string raw = "From: a@example.com\r\n";
  for (int i = 0; i < 12000; ++i) raw += "X-H: " + std::to_string(i) + "\r\n";
  raw += "Subject: last\r\n\r\nbody\r\n";
  const MessageDetail d = parse_detail(raw);
  ASSERT_EQ(d.headers.size(), 10000u);
  EXPECT_EQ(d.headers[0].first, "From");
  EXPECT_EQ(d.headers[9999].second, "9998");
  EXPECT_NE(d.parse_error.find("header limit"), std::string::npos);
  EXPECT_EQ(d.text, "body\r\n");
}

TEST_F(DetailTest, StackHazardsAreNeutralised) {
  const std::string big(2 << 20, 'a');
  std::string groups;
  for (int i = 0; i < 100000; ++i) groups += "g:";
  const std::string cases[] = {
      "From: a@example.com\r\nSubject: =?" + big + "?Q?x?=\r\n\r\nbody\r\n",
      "From: a@example.com\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\n--m\r\nContent-Type: "
      "text/plain\r\n"
      "Content-Disposition: attachment; filename*0*=" +
          big + "''x; filename*1*=y\r\n\r\nbody\r\n--m--\r\n",
      "From: a@example.com\r\nTo: " + groups + "a@example.com\r\n\r\nbody\r\n",
  };
  for (const auto& raw : cases) {
    const MessageDetail d = parse_detail(raw);
    expect_all_valid_utf8(d, raw.substr(0, 40));
    EXPECT_NE(d.parse_error.find("neutralised"), std::string::npos);
    (void)get_part(raw, "1");
  }
}

TEST_F(DetailTest, ConcurrentParsingMatchesSequential) {
  const auto files = corpus_files();
  std::vector<std::string> raws;
  std::vector<std::string> expected;
  const auto fingerprint = [](const MessageDetail& d) {
    std::string f = d.text + "|" + d.html + "|";
    for (const auto& p : d.attachments) f += p.part_id + p.sha256;
    for (const auto& p : d.inline_parts) f += p.part_id + p.md5;
    return f;
  };
  for (const auto& f : files) {
    raws.push_back(read_file(f));
    expected.push_back(fingerprint(parse_detail(raws.back())));
  }
  std::vector<int> mismatches(3, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 3; ++round) {
        for (std::size_t i = 0; i < raws.size(); ++i) {
          const std::size_t k = (i + t * 11) % raws.size();
          if (fingerprint(parse_detail(raws[k])) != expected[k]) ++mismatches[t];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 3; ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
}

// ---------------------------------------------------------------------------------------------------
// build_message.

SendRequest basic_request() {
  SendRequest r;
  r.from = {"sender@example.com", "Sender"};
  r.to = {{"to@example.com", "To Person"}};
  r.subject = "Hello";
  r.text = "Plain body\n";
  return r;
}

std::string normalise_newlines(std::string_view s) {
  std::string lf;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') continue;
    lf.push_back(s[i]);
  }
  return crlf(lf);
}

std::string header_value(const MessageDetail& d, std::string_view name) {
  for (const auto& [k, v] : d.headers) {
    if (k.size() == name.size() && std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        })) {
      return v;
    }
  }
  return "<absent>";
}

void expect_wire_format(const std::string& raw) {
  std::size_t start = 0;
  while (start < raw.size()) {
    std::size_t nl = raw.find('\n', start);
    if (nl == std::string::npos) nl = raw.size();
    ASSERT_TRUE(nl == raw.size() || (nl > 0 && raw[nl - 1] == '\r')) << "bare LF at " << nl;
    EXPECT_LE(nl - start, 1000u) << "line too long at " << start;
    start = nl + 1;
  }
  EXPECT_EQ(raw.find('\0'), std::string::npos);
}

void expect_round_trip(const SendRequest& r, const std::vector<std::string>& expected_types) {
  const auto built = build_message(r, "mail.example.test", kNow);
  ASSERT_TRUE(built.ok()) << built.error().message;
  const std::string& raw = built.value();
  expect_wire_format(raw);
  const MessageDetail d = parse_detail(raw);
  EXPECT_FALSE(d.parse_failed) << d.parse_error;
  EXPECT_EQ(d.parse_error, "");
  EXPECT_EQ(d.text, r.text.empty() ? "" : normalise_newlines(r.text));
  EXPECT_EQ(d.html, normalise_newlines(r.html));

  std::vector<const SendAttachment*> inline_expected, attached_expected;
  std::vector<std::string> inline_types, attached_types;
  for (std::size_t i = 0; i < r.attachments.size(); ++i) {
    const bool is_inline = !r.attachments[i].content_id.empty();
    (is_inline ? inline_expected : attached_expected).push_back(&r.attachments[i]);
    (is_inline ? inline_types : attached_types).push_back(expected_types.at(i));
  }
  const auto check = [&](const std::vector<PartInfo>& got, const std::vector<const SendAttachment*>& want,
                         const std::vector<std::string>& types) {
    ASSERT_EQ(got.size(), want.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].file_name, want[i]->file_name);
      EXPECT_EQ(got[i].content_type, types[i]);
      EXPECT_EQ(got[i].content_id, want[i]->content_id);
      EXPECT_EQ(got[i].size, static_cast<int64_t>(want[i]->content.size()));
      const auto part = get_part(raw, got[i].part_id);
      ASSERT_TRUE(part.has_value());
      EXPECT_EQ(part->data, want[i]->content);
    }
  };
  check(d.inline_parts, inline_expected, inline_types);
  check(d.attachments, attached_expected, attached_types);

  const core::MessageSummary s = parse_summary(raw);
  EXPECT_EQ(s.subject, r.subject);
  ASSERT_EQ(s.from.size(), 1u);
  EXPECT_EQ(s.from[0].address, r.from.email);
  EXPECT_EQ(s.from[0].name, r.from.name);
  const auto same = [](const std::vector<core::Address>& got, const std::vector<SendAddress>& want) {
    ASSERT_EQ(got.size(), want.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].address, want[i].email);
      EXPECT_EQ(got[i].name, want[i].name);
    }
  };
  same(s.to, r.to);
  same(s.cc, r.cc);
  same(s.reply_to, r.reply_to);
  EXPECT_TRUE(s.bcc.empty());
  EXPECT_EQ(header_value(d, "Bcc"), "<absent>");
  std::vector<std::string> tags;
  for (const auto& t : r.tags) {
    if (!t.empty()) tags.push_back(t);
  }
  for (const auto* list : {&r.to, &r.cc}) {
    for (const auto& a : *list) {
      const std::size_t plus = a.email.find('+');
      if (plus != std::string::npos) tags.push_back(a.email.substr(plus + 1, a.email.find('@') - plus - 1));
    }
  }
  EXPECT_EQ(s.tags, tags);
  EXPECT_EQ(s.attachments, static_cast<int>(attached_expected.size()));
  EXPECT_EQ(s.inlines, static_cast<int>(inline_expected.size()));
  EXPECT_EQ(s.date, "2024-01-02T03:04:05Z");
  EXPECT_NE(s.message_id.find("@mail.example.test"), std::string::npos) << s.message_id;
}

TEST_F(DetailTest, BuildRoundTrips) {
  const std::string binary("\x00\x01\x02\xFF\xFE\r\n\x89PNG", 11);
  struct Case {
    const char* name;
    SendRequest request;
    std::vector<std::string> types;  // expected content type of each attachment
  };
  std::vector<Case> cases;
  cases.push_back({"TextOnly", basic_request(), {}});
  {
    SendRequest r = basic_request();
    r.text = "";
    r.html = "<p>Only HTML</p>";
    cases.push_back({"HtmlOnly", r, {}});
  }
  {
    SendRequest r = basic_request();
    r.html = "<html><body><p>Both</p></body></html>\n";
    r.cc = {{"cc@example.com", ""}, {"cc2@example.com", "Second Cc"}};
    r.bcc = {{"hidden@example.com", "Hidden"}};
    r.reply_to = {{"replies@example.com", "Replies"}};
    cases.push_back({"TextAndHtml", r, {}});
  }
  {
    SendRequest r = basic_request();
    r.html = "<p>See <img src=\"cid:logo@mailjar\"></p>";
    r.attachments = {{binary, "logo.png", "", "logo@mailjar"},
                     {"%PDF-1.4 fake", "report.PDF", "", ""},
                     {"a,b\n1,2\n", "data.csv", "text/csv", ""},
                     {"no extension", "README", "", ""},
                     {"explicit", "x.bin", "application/vnd.custom+json", ""}};
    cases.push_back({"AttachmentsAndInline",
                     r,
                     {"image/png", "application/pdf", "text/csv", "application/octet-stream",
                      "application/vnd.custom+json"}});
  }
  {
    SendRequest r = basic_request();
    r.attachments = {{"GIF89a", "pixel.gif", "", "pixel@x"}};
    cases.push_back({"InlineWithoutHtml", r, {"image/gif"}});
  }
  {
    SendRequest r = basic_request();
    r.text = "";
    r.attachments = {{binary, "", "", ""}};
    cases.push_back({"NamelessAttachmentNoBody", r, {"application/octet-stream"}});
  }
  {
    SendRequest r = basic_request();
    r.text = "";
    cases.push_back({"NoBodyAtAll", r, {}});
  }
  {
    SendRequest r = basic_request();
    r.text = "no final line break, quoted-printable: caf\xC3\xA9";
    cases.push_back({"SinglePartWithoutFinalBreak", r, {}});
  }
  {
    SendRequest r;
    r.from = {"expediteur@example.com", "\xC3\x89lodie Fran\xC3\xA7oise, Jr."};
    r.to = {{"user+signup@example.com", "\xE5\xB1\xB1\xE7\x94\xB0 \xE5\xA4\xAA\xE9\x83\x8E"},
            {"bob@example.com", "Bob \"the\" Builder"}};
    r.subject =
        "Gr\xC3\xBC\xC3\x9F"
        "e aus K\xC3\xB6ln \xE2\x80\x94 \xF0\x9F\x8E\x89 a subject long enough to be "
        "folded across more than one line by the encoder, which must round-trip exactly";
    r.text =
        "Gr\xC3\xBC\xC3\x9F"
        "e!\r\nA line that is definitely longer than seventy-eight characters, so "
        "quoted-printable soft breaks are needed here.\r\n\ttabbed = sign\r\n";
    r.html = "<p>\xE2\x82\xAC 5</p>";
    r.tags = {"alpha", "b\xC3\xAAta", "release 1.2"};
    r.attachments = {{"x", "r\xC3\xA9sum\xC3\xA9 tr\xC3\xA8s long nom de fichier avec accents.txt", "", ""}};
    cases.push_back({"Unicode", r, {"text/plain"}});
  }
  {
    SendRequest r = basic_request();
    r.text = "line one\nline two\rwith a bare CR\n\nlast line without newline";
    r.headers = {{"X-Custom", "value"}, {"X-Unicode", "caf\xC3\xA9"}, {"X-Custom", "second"}};
    cases.push_back({"ExtraHeadersAndLineEnds", r, {}});
  }
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    expect_round_trip(c.request, c.types);
  }
}

TEST_F(DetailTest, BuildStructureAndHeaders) {
  SendRequest r = basic_request();
  r.html = "<p>x</p>";
  r.bcc = {{"secret@example.com", "Secret"}};
  r.attachments = {{"img", "i.png", "", "i@x"}, {"doc", "d.pdf", "", ""}};
  r.headers = {{"X-Custom", "one"}, {"X-Custom", "two"}};
  r.tags = {"t1", "", "t2"};
  const auto built = build_message(r, "mail.example.test", kNow);
  ASSERT_TRUE(built.ok());
  const MessageDetail d = parse_detail(built.value());
  EXPECT_EQ(header_value(d, "Content-Type").rfind("multipart/mixed", 0), 0u)
      << header_value(d, "Content-Type");
  EXPECT_EQ(header_value(d, "MIME-Version"), "1.0");
  EXPECT_EQ(header_value(d, "X-Tags"), "t1, t2");
  EXPECT_EQ(header_value(d, "Date"), "Tue, 02 Jan 2024 03:04:05 +0000");
  EXPECT_EQ(built.value().find("secret@example.com"), std::string::npos);
  EXPECT_EQ(built.value().find("Secret"), std::string::npos);
  std::vector<std::string> custom;
  for (const auto& [k, v] : d.headers) {
    if (k == "X-Custom") custom.push_back(v);
  }
  EXPECT_EQ(custom, (std::vector<std::string>{"one", "two"}));
  // mixed[alternative[text, related[html, png]], pdf]
  EXPECT_EQ(describe(d.inline_parts), std::vector<std::string>{"1.2.2|image/png|i.png|i@x"});
  EXPECT_EQ(describe(d.attachments), std::vector<std::string>{"2|application/pdf|d.pdf|"});
  EXPECT_EQ(get_part(built.value(), "1.1")->content_type, "text/plain");
  EXPECT_EQ(get_part(built.value(), "1.2.1")->content_type, "text/html");
}

TEST_F(DetailTest, BuildBodyEncodings) {
  struct Case {
    std::string text;
    const char* encoding;
  };
  const Case cases[] = {
      {"short ascii\n", "7bit"},
      {std::string(100, 'x'), "quoted-printable"},
      {"caf\xC3\xA9", "quoted-printable"},
      {"bell\x07", "quoted-printable"},
  };
  for (const auto& c : cases) {
    SendRequest r = basic_request();
    r.text = c.text;
    const auto built = build_message(r, "h", kNow);
    ASSERT_TRUE(built.ok());
    const MessageDetail d = parse_detail(built.value());
    EXPECT_EQ(header_value(d, "Content-Transfer-Encoding"), c.encoding) << c.text;
    EXPECT_EQ(d.text, normalise_newlines(c.text));
  }
  SendRequest r = basic_request();
  r.attachments = {{"abc", "a.txt", "", ""}};
  const auto built = build_message(r, "h", kNow);
  ASSERT_TRUE(built.ok());
  const std::size_t encoding = built.value().find("Content-Transfer-Encoding: base64\r\n");
  ASSERT_NE(encoding, std::string::npos);
  EXPECT_NE(built.value().find("\r\n\r\nYWJj\r\n", encoding), std::string::npos);
}

TEST_F(DetailTest, BuildUsesGivenDateAndMessageIdAndMakesUniqueIds) {
  SendRequest r = basic_request();
  r.headers = {{"Message-ID", "<given@example.com>"}, {"Date", "Mon, 1 Jan 2024 00:00:00 +0000"}};
  const auto built = build_message(r, "h.example", kNow);
  ASSERT_TRUE(built.ok());
  const core::MessageSummary s = parse_summary(built.value());
  EXPECT_EQ(s.message_id, "given@example.com");
  EXPECT_EQ(s.date, "2024-01-01T00:00:00Z");
  const MessageDetail d = parse_detail(built.value());
  int message_ids = 0;
  for (const auto& [k, v] : d.headers) message_ids += (k == "Message-ID" || k == "Message-Id") ? 1 : 0;
  EXPECT_EQ(message_ids, 1);

  const SendRequest plain = basic_request();
  const auto a = build_message(plain, "h.example", kNow);
  const auto b = build_message(plain, "h.example", kNow);
  ASSERT_TRUE(a.ok() && b.ok());
  const std::string id_a = parse_summary(a.value()).message_id;
  const std::string id_b = parse_summary(b.value()).message_id;
  EXPECT_NE(id_a, id_b);
  EXPECT_EQ(id_a.size(), 26u + std::string("@h.example").size());
  // A hostname that is not one falls back to localhost.
  EXPECT_NE(parse_summary(build_message(plain, "bad host>\r\n", kNow).value()).message_id.find("@localhost"),
            std::string::npos);
}

TEST_F(DetailTest, BuildRejectsInvalidRequests) {
  struct Case {
    const char* name;
    void (*mutate)(SendRequest&);
    const char* message_part;
  };
  const Case cases[] = {
      {"missing from", [](SendRequest& r) { r.from.email.clear(); }, "From"},
      {"no recipients", [](SendRequest& r) { r.to.clear(); }, "recipient"},
      {"CRLF in from email", [](SendRequest& r) { r.from.email = "a@example.com\r\nBcc: x@evil.test"; },
       "From"},
      {"LF in to name", [](SendRequest& r) { r.to[0].name = "Name\nBcc: x@evil.test"; }, "CR, LF or NUL"},
      {"NUL in cc email",
       [](SendRequest& r) {
         r.cc = {{std::string("c\0c@example.com", 15), ""}};
       },
       "Cc"},
      {"CR in bcc email",
       [](SendRequest& r) {
         r.bcc = {{"b@example.com\r", ""}};
       },
       "Bcc"},
      {"address list in one email", [](SendRequest& r) { r.to[0].email = "a@example.com, b@example.com"; },
       "To"},
      {"angle brackets", [](SendRequest& r) { r.to[0].email = "a@example.com>"; }, "To"},
      {"no at sign", [](SendRequest& r) { r.to[0].email = "nobody"; }, "To"},
      {"empty reply-to",
       [](SendRequest& r) {
         r.reply_to = {{"", "Name"}};
       },
       "Reply-To"},
      {"CRLF in subject", [](SendRequest& r) { r.subject = "Hi\r\nBcc: x@evil.test"; }, "Subject"},
      {"CRLF in header value",
       [](SendRequest& r) {
         r.headers = {{"X-A", "v\r\nBcc: x@evil.test"}};
       },
       "X-A"},
      {"LF in header name",
       [](SendRequest& r) {
         r.headers = {{"X-A\nBcc", "v"}};
       },
       "field name"},
      {"colon in header name",
       [](SendRequest& r) {
         r.headers = {{"X-A:", "v"}};
       },
       "field name"},
      {"space in header name",
       [](SendRequest& r) {
         r.headers = {{"X A", "v"}};
       },
       "field name"},
      {"non-ASCII header name",
       [](SendRequest& r) {
         r.headers = {{"X-\xC3\xA9", "v"}};
       },
       "field name"},
      {"empty header name",
       [](SendRequest& r) {
         r.headers = {{"", "v"}};
       },
       "field name"},
      {"Bcc as a header",
       [](SendRequest& r) {
         r.headers = {{"bcc", "x@evil.test"}};
       },
       "own field"},
      {"Content-Type as a header",
       [](SendRequest& r) {
         r.headers = {{"Content-Type", "text/html"}};
       },
       "own field"},
      {"comma in tag", [](SendRequest& r) { r.tags = {"a,b"}; }, "tag"},
      {"LF in tag", [](SendRequest& r) { r.tags = {"a\nX-Evil: 1"}; }, "tag"},
      {"bad content id",
       [](SendRequest& r) {
         r.attachments = {{"x", "x.png", "", "a b"}};
       },
       "content id"},
      {"CRLF in file name",
       [](SendRequest& r) {
         r.attachments = {{"x", "x\r\n.png", "", ""}};
       },
       "file name"},
      {"CRLF in content type",
       [](SendRequest& r) {
         r.attachments = {{"x", "x", "text/plain\r\nX: y", ""}};
       },
       "content type"},
  };
  for (const auto& c : cases) {
    SendRequest r = basic_request();
    c.mutate(r);
    const auto built = build_message(r, "h", kNow);
    ASSERT_FALSE(built.ok()) << c.name;
    EXPECT_EQ(built.error().code, "invalid") << c.name;
    EXPECT_NE(built.error().message.find(c.message_part), std::string::npos)
        << c.name << ": " << built.error().message;
  }
  // Bcc alone is enough of a recipient, and it is not written.
  SendRequest r = basic_request();
  r.to.clear();
  r.bcc = {{"only@example.com", ""}};
  const auto built = build_message(r, "h", kNow);
  ASSERT_TRUE(built.ok()) << built.error().message;
  EXPECT_EQ(built.value().find("only@example.com"), std::string::npos);
}

}  // namespace
}  // namespace mailjar::mime
