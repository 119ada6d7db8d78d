// Tests for mime::parse_summary: the real-world corpus in tests/fixtures/mime (robustness plus pinned
// expectations), synthetic messages for each summary field, limits, and hostile input.
#include "mime/mime.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "utf8_check.h"

namespace mailjar::mime {
namespace {

namespace fs = std::filesystem;

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string fixture(const std::string& name) { return read_file(fs::path(MAILJAR_MIME_FIXTURES) / name); }

std::vector<fs::path> corpus_files() {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(MAILJAR_MIME_FIXTURES)) {
    if (entry.path().extension() == ".eml") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Strict RFC 3629 check (utf8_check.h); NUL is not expected in any summary field.
bool valid_utf8(const std::string& s) { return mailjar::mime::testing::valid_utf8(s, /*reject_nul=*/true); }

std::size_t utf8_chars(const std::string& s) {
  return static_cast<std::size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

void expect_all_valid_utf8(const core::MessageSummary& s, const std::string& context) {
  SCOPED_TRACE(context);
  EXPECT_TRUE(valid_utf8(s.subject));
  EXPECT_TRUE(valid_utf8(s.date));
  EXPECT_TRUE(valid_utf8(s.message_id));
  EXPECT_TRUE(valid_utf8(s.snippet));
  EXPECT_TRUE(valid_utf8(s.text_for_index));
  EXPECT_TRUE(valid_utf8(s.parse_error));
  for (const auto* list : {&s.from, &s.to, &s.cc, &s.bcc, &s.reply_to}) {
    for (const auto& a : *list) {
      EXPECT_TRUE(valid_utf8(a.name));
      EXPECT_TRUE(valid_utf8(a.address));
    }
  }
  for (const auto& t : s.tags) EXPECT_TRUE(valid_utf8(t));
}

class MimeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { init(); }
};

// ---------------------------------------------------------------------------------------------------
// Corpus.

TEST_F(MimeTest, CorpusIsPresentWithLicence) {
  EXPECT_GE(corpus_files().size(), 75u);
  EXPECT_TRUE(fs::exists(fs::path(MAILJAR_MIME_FIXTURES) / "LICENSE-mikel-mail.txt"));
  EXPECT_TRUE(fs::exists(fs::path(MAILJAR_MIME_FIXTURES) / "README.md"));
}

TEST_F(MimeTest, EveryCorpusFileParsesToValidUtf8WithinLimits) {
  const MimeLimits limits;
  for (const auto& path : corpus_files()) {
    const std::string raw = read_file(path);
    const core::MessageSummary s = parse_summary(raw, limits);
    expect_all_valid_utf8(s, path.filename().string());
    EXPECT_LE(utf8_chars(s.snippet), limits.snippet_chars) << path;
    EXPECT_LE(s.text_for_index.size(), limits.max_index_text) << path;
    EXPECT_GE(s.attachments, 0) << path;
    EXPECT_FALSE(s.parse_failed) << path << ": " << s.parse_error;
    if (!s.date.empty()) {
      EXPECT_EQ(s.date.size(), 20u) << path;
      EXPECT_EQ(s.date.back(), 'Z') << path;
    }
    EXPECT_EQ(s.message_id.find('<'), std::string::npos) << path;
  }
}

struct CorpusCase {
  const char* file;
  const char* subject;
  const char* date;          // nullptr: not checked
  const char* from_address;  // nullptr: not checked
  int attachments;           // -1: not checked
  const char* snippet_prefix;
};

class CorpusExpectations : public MimeTest, public ::testing::WithParamInterface<CorpusCase> {};

TEST_P(CorpusExpectations, SummaryMatches) {
  const CorpusCase& c = GetParam();
  const core::MessageSummary s = parse_summary(fixture(c.file));
  EXPECT_EQ(s.subject, c.subject);
  if (c.date) {
    EXPECT_EQ(s.date, c.date);
  }
  if (c.from_address) {
    ASSERT_FALSE(s.from.empty());
    EXPECT_EQ(s.from[0].address, c.from_address);
  }
  if (c.attachments >= 0) {
    EXPECT_EQ(s.attachments, c.attachments);
  }
  EXPECT_EQ(s.snippet.substr(0, std::string(c.snippet_prefix).size()), c.snippet_prefix);
}

INSTANTIATE_TEST_SUITE_P(
    Corpus, CorpusExpectations,
    ::testing::Values(
        CorpusCase{"plain_emails_basic_email.eml", "Testing 123", "2008-11-22T04:04:59Z", "test@lindsaar.net",
                   0, "Plain email. Hope it works well!"},
        CorpusCase{"rfc2822_example01.eml", "Saying Hello", "1997-11-21T15:55:06Z", "jdoe@machine.example", 0,
                   "This is a message just to say hello."},
        // RFC 2047 subjects: UTF-8 base64 with emoji, ISO-8859-1 quoted-printable.
        CorpusCase{"attachment_emails_attachment_pdf.eml",
                   "Another PDF with \xF0\x9F\x8E\x89 Unicode chars in it \xF0\x9F\x8D\xBF",
                   "2005-05-10T17:26:39Z", "xxxx@xxxx.com", 1, "Just attaching another PDF"},
        CorpusCase{"attachment_emails_attachment_with_quoted_filename.eml",
                   "Eelanal\xC3\xBC\xC3\xBCsi p\xC3\xA4ring", "2009-05-13T15:42:01Z", "jeff@37signals.com", 0,
                   ""},
        // Japanese: ISO-2022-JP headers and body, Shift_JIS body; Korean ks_c_5601-1987.
        CorpusCase{"multi_charset_japanese_iso_2022.eml",
                   "\xE3\x81\xBE\xE3\x81\xBF\xE3\x82\x80\xE3\x82\x81\xE3\x82\x82", nullptr,
                   "raasdnil@gmail.com", 0, "\xE3\x81\x99\xE3\x81\xBF\xE3\x81\xBE\xE3\x81\x9B\xE3\x82\x93"},
        CorpusCase{"multi_charset_japanese_shift_jis.eml", "test", "2014-05-28T08:18:19Z", nullptr, 0,
                   "\xE3\x81\x82\xE3\x81\x84\xE3\x81\x86\xE3\x81\x88\xE3\x81\x8A"},
        CorpusCase{"multi_charset_ks_c_5601-1987.eml", "test", nullptr, "from@example.com", 0,
                   "\xEC\x8A\xA4\xED\x8B\xB0\xED\x95\xB4"},
        CorpusCase{"multi_charset_japanese_attachment.eml", "testing", nullptr, nullptr, 1, "testing"},
        // Bounces (multipart/report): the human-readable part is the body.
        CorpusCase{"multipart_report_emails_multi_address_bounce2.eml", "Undelivered Mail Returned to Sender",
                   "2010-02-24T06:16:41Z", "MAILER-DAEMON@lvmail01.LL.com", 0,
                   "This is the mail system at host"},
        CorpusCase{"multipart_report_emails_report_422.eml",
                   "Warning: could not send message for past 8 hours", nullptr, nullptr, 0, "****"},
        // Bad or empty Date headers yield an empty date, not an error.
        CorpusCase{"error_emails_bad_date_header.eml",
                   "You may_be Eligible for Legitimate_Cash from_GovAgencies!", "",
                   "infoz@reactive-outpost.com", 0, ""},
        CorpusCase{"plain_emails_raw_email_with_bad_date.eml",
                   "Microsoft Vlsta & Office2007, Just released for 79$ Save 1599.95$ 0ff Retai|", "",
                   nullptr, 0, ""},
        // Attachments: base64-encoded filename, non-ASCII filename, attached message/rfc822.
        CorpusCase{"attachment_emails_attachment_with_base64_encoded_name.eml",
                   "Fwd: Signed email causes file attachments", nullptr, nullptr, 1, "We should not include"},
        CorpusCase{"attachment_emails_attachment_nonascii_filename.eml", "testing", nullptr, nullptr, 1,
                   "This is the first part."},
        CorpusCase{"attachment_emails_attachment_message_rfc822.eml", "testing", nullptr, nullptr, 1,
                   "This is the first part."},
        CorpusCase{"attachment_emails_attachment_only_email.eml", "this message JUST contains an attachment",
                   "2003-10-24T05:40:49Z", "rfinnie@domain.dom", 1, ""},
        // RFC 6532: raw UTF-8 in headers.
        CorpusCase{"rfc6532_utf8_headers.eml", "S\xC3\xA4ying Hello", "", nullptr, 0, "body"},
        // HTML-only body rendered to text.
        CorpusCase{"error_emails_content_transfer_encoding_text-html.eml",
                   "Re: We will help you refinance your home.", nullptr, nullptr, 0,
                   "Hello, You have qualified for the lowest rate in years."}),
    [](const ::testing::TestParamInfo<CorpusCase>& info) {
      std::string name = info.param.file;
      name = name.substr(0, name.size() - 4);
      std::replace_if(
          name.begin(), name.end(), [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); }, '_');
      return name;
    });

TEST_F(MimeTest, CorpusAddressDetails) {
  {
    // Display names decoded from ISO-2022-JP.
    const auto s = parse_summary(fixture("multi_charset_japanese.eml"));
    ASSERT_EQ(s.to.size(), 1u);
    EXPECT_EQ(s.to[0].name, "\xE3\x81\xBF\xE3\x81\x91\xE3\x82\x8B");
    EXPECT_EQ(s.to[0].address, "raasdnil@gmail.com");
  }
  {
    // RFC 2822 A.1.3: a group in To is flattened, the empty group in Cc gives nothing.
    const auto s = parse_summary(fixture("rfc2822_example10.eml"));
    ASSERT_EQ(s.to.size(), 3u);
    EXPECT_EQ(s.to[0].name, "Chris Jones");
    EXPECT_EQ(s.to[0].address, "c@public.example");
    EXPECT_EQ(s.to[1].address, "joe@example.org");
    EXPECT_EQ(s.to[2].address, "jdoe@one.test");
    EXPECT_TRUE(s.cc.empty());
    EXPECT_EQ(s.date, "1969-02-14T03:02:00Z");
    EXPECT_EQ(s.message_id, "testabcd.1234@silly.test");
  }
  {
    // Quoted display name with escaped quotes and a semicolon.
    const auto s = parse_summary(fixture("rfc2822_example03.eml"));
    ASSERT_EQ(s.cc.size(), 2u);
    EXPECT_EQ(s.cc[0].address, "boss@nil.test");
    EXPECT_EQ(s.cc[1].name, "Giant; \"Big\" Box");
  }
  {
    // Raw UTF-8 (RFC 6532) in names and addresses.
    const auto s = parse_summary(fixture("rfc6532_utf8_headers.eml"));
    ASSERT_EQ(s.from.size(), 1u);
    EXPECT_EQ(s.from[0].name, "J\xC3\xB6hn Doe");
  }
  {
    // Plus-addressing in a bounce's To becomes a tag.
    const auto s = parse_summary(fixture("multipart_report_emails_multipart_report_multiple_status.eml"));
    EXPECT_EQ(s.tags, std::vector<std::string>{"promo"});
  }
}

TEST_F(MimeTest, CorpusAttachmentNamesAreIndexed) {
  EXPECT_NE(parse_summary(fixture("attachment_emails_attachment_with_base64_encoded_name.eml"))
                .text_for_index.find("This is a test.pdf"),
            std::string::npos);
  EXPECT_NE(parse_summary(fixture("attachment_emails_attachment_nonascii_filename.eml"))
                .text_for_index.find("ci\xC3\xABle.txt"),
            std::string::npos);
  EXPECT_NE(parse_summary(fixture("attachment_emails_attachment_pdf.eml")).text_for_index.find("broken.pdf"),
            std::string::npos);
}

TEST_F(MimeTest, TruncatedCorpusMessagesNeverCrash) {
  for (const char* name : {"multipart_report_emails_multi_address_bounce2.eml", "mime_emails_raw_email2.eml",
                           "multi_charset_japanese_iso_2022.eml", "attachment_emails_attachment_pdf.eml",
                           "mime_emails_raw_email_with_nested_attachment.eml"}) {
    const std::string raw = fixture(name);
    for (std::size_t len = 0; len <= raw.size(); len += 37) {
      const auto s = parse_summary(std::string_view(raw).substr(0, len));
      expect_all_valid_utf8(s, std::string(name) + " cut at " + std::to_string(len));
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Synthetic messages, one field at a time.

TEST_F(MimeTest, HeadersDecoded) {
  const std::string raw =
      "From: =?UTF-8?B?w4lsb2RpZQ==?= <elodie@example.com>\r\n"
      "To: \"Bob\" <bob@example.com>, carol@example.com\r\n"
      "Cc: Team: dave@example.com, Erin <erin@example.com>;\r\n"
      "Bcc: frank@example.com\r\n"
      "Reply-To: replies@example.com\r\n"
      "Subject: =?ISO-8859-1?Q?Caf=E9?= =?UTF-8?Q?_na=C3=AFve?=\r\n"
      "Date: Tue, 2 Jan 2024 05:04:05 +0200\r\n"
      "Message-ID: <abc.123@example.com>\r\n"
      "\r\n"
      "Hello\r\n";
  const auto s = parse_summary(raw);
  EXPECT_FALSE(s.parse_failed);
  ASSERT_EQ(s.from.size(), 1u);
  EXPECT_EQ(s.from[0].name, "\xC3\x89lodie");
  EXPECT_EQ(s.from[0].address, "elodie@example.com");
  ASSERT_EQ(s.to.size(), 2u);
  EXPECT_EQ(s.to[0].name, "Bob");
  EXPECT_EQ(s.to[1].name, "");
  EXPECT_EQ(s.to[1].address, "carol@example.com");
  ASSERT_EQ(s.cc.size(), 2u);  // group flattened
  EXPECT_EQ(s.cc[0].address, "dave@example.com");
  EXPECT_EQ(s.cc[1].name, "Erin");
  ASSERT_EQ(s.bcc.size(), 1u);
  ASSERT_EQ(s.reply_to.size(), 1u);
  EXPECT_EQ(s.reply_to[0].address, "replies@example.com");
  EXPECT_EQ(s.subject, "Caf\xC3\xA9 na\xC3\xAFve");
  EXPECT_EQ(s.date, "2024-01-02T03:04:05Z");  // converted to UTC
  EXPECT_EQ(s.message_id, "abc.123@example.com");
  EXPECT_EQ(s.snippet, "Hello");
}

TEST_F(MimeTest, DateVariants) {
  struct Case {
    const char* header;
    const char* expected;
  };
  const Case cases[] = {
      {"Mon, 1 Jan 2024 00:00:00 +0000", "2024-01-01T00:00:00Z"},
      {"1 Jan 2024 00:00:00 -0130", "2024-01-01T01:30:00Z"},
      {"Sun, 31 Dec 2023 23:59:59 -0100", "2024-01-01T00:59:59Z"},
      {"Tue, 2 Jan 2024 03:04:05 GMT", "2024-01-02T03:04:05Z"},
      {"not a date at all", ""},
      {"", ""},
  };
  for (const auto& c : cases) {
    const std::string raw = std::string("From: a@example.com\r\nDate: ") + c.header + "\r\n\r\nx\r\n";
    EXPECT_EQ(parse_summary(raw).date, c.expected) << c.header;
  }
  EXPECT_EQ(parse_summary("From: a@example.com\r\n\r\nno date\r\n").date, "");
}

TEST_F(MimeTest, TagsFromXTagsAndPlusAddressing) {
  const std::string raw =
      "From: a@example.com\r\n"
      "To: user+signup@example.com, other@example.com, \"X\" <x+alpha@example.com>\r\n"
      "Cc: y+beta@example.com, z+signup@example.com\r\n"
      "Bcc: hidden+secret@example.com\r\n"
      "X-Tags: alpha,  release 1.2 ,,gamma\r\n"
      "X-Tags: delta\r\n"
      "\r\n"
      "x\r\n";
  const auto s = parse_summary(raw);
  const std::vector<std::string> expected = {"alpha", "release 1.2", "gamma", "delta", "signup", "beta"};
  EXPECT_EQ(s.tags, expected);
}

TEST_F(MimeTest, TextPlainPreferredOverHtml) {
  const std::string raw =
      "From: a@example.com\r\n"
      "Content-Type: multipart/alternative; boundary=\"b1\"\r\n"
      "\r\n"
      "--b1\r\n"
      "Content-Type: text/html; charset=utf-8\r\n"
      "\r\n"
      "<p>HTML version</p>\r\n"
      "--b1\r\n"
      "Content-Type: text/plain; charset=utf-8\r\n"
      "\r\n"
      "Plain version\r\n"
      "--b1--\r\n";
  EXPECT_EQ(parse_summary(raw).snippet, "Plain version");
}

TEST_F(MimeTest, BlankTextPartFallsBackToHtml) {
  const std::string raw =
      "From: a@example.com\r\n"
      "Content-Type: multipart/alternative; boundary=\"b1\"\r\n"
      "\r\n"
      "--b1\r\n"
      "Content-Type: text/plain; charset=utf-8\r\n"
      "\r\n"
      "  \r\n"
      "--b1\r\n"
      "Content-Type: text/html; charset=utf-8\r\n"
      "\r\n"
      "<p>Only the HTML has words</p>\r\n"
      "--b1--\r\n";
  EXPECT_EQ(parse_summary(raw).snippet, "Only the HTML has words");
}

TEST_F(MimeTest, HtmlRenderedToText) {
  const std::string raw =
      "From: a@example.com\r\n"
      "Content-Type: text/html; charset=utf-8\r\n"
      "Content-Transfer-Encoding: quoted-printable\r\n"
      "\r\n"
      "<html><head><title>Title text</title><style>p { color: red; }</style>\r\n"
      "<script type=3D\"text/javascript\">var a =3D \"<p>no</p>\";</script></head>\r\n"
      "<body><!-- a comment <p>hidden</p> --><h1>Welcome&nbsp;back</h1>\r\n"
      "<p>Tom &amp; Jerry &lt;3 caf&#233; &#x263A; &euro;5</p>\r\n"
      "<a href=3D\"https://example.com/?a=3D1&amp;b=3D2\" title=3D\"x > y\">link</a>   \r\n"
      "<SCRIPT>alert(1)</SCRIPT>a &lt; b &unknown; end</body></html>\r\n";
  const auto s = parse_summary(raw);
  EXPECT_EQ(s.snippet,
            "Welcome back Tom & Jerry <3 caf\xC3\xA9 \xE2\x98\xBA \xE2\x82\xAC"
            "5 link a < b &unknown; end");
  EXPECT_EQ(s.text_for_index.find("Title"), std::string::npos);
  EXPECT_EQ(s.text_for_index.find("color"), std::string::npos);
  EXPECT_EQ(s.text_for_index.find("alert"), std::string::npos);
  EXPECT_EQ(s.text_for_index.find("hidden"), std::string::npos);
  EXPECT_NE(s.text_for_index.find("Welcome back\nTom & Jerry"), std::string::npos);
}

TEST_F(MimeTest, CharsetConversion) {
  struct Case {
    const char* charset_param;  // the Content-Type charset
    std::string body;           // raw bytes
    std::string expected;       // UTF-8 snippet
  };
  const Case cases[] = {
      {"iso-8859-1", "caf\xE9 cr\xE8me", "caf\xC3\xA9 cr\xC3\xA8me"},
      {"windows-1252", "\x93quoted\x94 \x80", "\xE2\x80\x9Cquoted\xE2\x80\x9D \xE2\x82\xAC"},
      {"koi8-r", "\xF0\xD2\xC9\xD7\xC5\xD4", "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82"},
      {"euc-jp", "\xA4\xB3\xA4\xF3\xA4\xCB\xA4\xC1\xA4\xCF",
       "\xE3\x81\x93\xE3\x82\x93\xE3\x81\xAB\xE3\x81\xA1\xE3\x81\xAF"},
      {"utf-8", "d\xC3\xA9j\xC3\xA0 vu", "d\xC3\xA9j\xC3\xA0 vu"},
      // Declared UTF-8 but really Latin-1: guessed, never invalid output.
      {"utf-8", "d\xE9j\xE0 vu", "d\xC3\xA9j\xC3\xA0 vu"},
      // Unknown charset: guessed from the fallback list.
      {"x-no-such-charset", "na\xEFve", "na\xC3\xAFve"},
  };
  for (const auto& c : cases) {
    const std::string raw = std::string("From: a@example.com\r\nContent-Type: text/plain; charset=") +
                            c.charset_param + "\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + c.body + "\r\n";
    const auto s = parse_summary(raw);
    EXPECT_EQ(s.snippet, c.expected) << c.charset_param;
    EXPECT_TRUE(valid_utf8(s.text_for_index)) << c.charset_param;
  }
}

TEST_F(MimeTest, NulBytesInMislabelledText) {
  // Declared UTF-8, really Latin-1 with a NUL: guessed as Latin-1, the NUL dropped, the rest kept.
  const std::string raw =
      std::string("From: a@example.com\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n") +
      std::string("caf\xE9\0 au lait\r\n", 15);
  EXPECT_EQ(parse_summary(raw).snippet, "caf\xC3\xA9 au lait");
}

TEST_F(MimeTest, Base64BodyAndNulBytes) {
  // "Hello\0World" base64-encoded: NUL is dropped from the text.
  const std::string raw =
      "From: a@example.com\r\nContent-Type: text/plain; charset=utf-8\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\nSGVsbG8AV29ybGQ=\r\n";
  EXPECT_EQ(parse_summary(raw).snippet, "HelloWorld");
}

TEST_F(MimeTest, AttachmentCounting) {
  const std::string raw =
      "From: a@example.com\r\n"
      "Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
      "\r\n"
      "--outer\r\n"
      "Content-Type: multipart/related; boundary=\"inner\"\r\n"
      "\r\n"
      "--inner\r\n"
      "Content-Type: text/html\r\n"
      "\r\n"
      "<p>Body</p>\r\n"
      "--inner\r\n"
      "Content-Type: image/png; name=\"logo.png\"\r\n"
      "Content-Disposition: inline; filename=\"logo.png\"\r\n"
      "Content-ID: <logo>\r\n"
      "\r\n"
      "iVBORw0KGgo=\r\n"
      "--inner--\r\n"
      "--outer\r\n"
      "Content-Type: application/pdf\r\n"
      "Content-Disposition: attachment; filename=\"report.pdf\"\r\n"
      "\r\n"
      "JVBERi0=\r\n"
      "--outer\r\n"
      "Content-Type: text/csv; name=\"data.csv\"\r\n"
      "\r\n"
      "a,b\r\n"
      "--outer\r\n"
      "Content-Type: application/octet-stream\r\n"
      "Content-Disposition: attachment\r\n"
      "\r\n"
      "AAAA\r\n"
      "--outer--\r\n";
  const auto s = parse_summary(raw);
  EXPECT_EQ(s.attachments, 3);  // report.pdf, data.csv (name, not inline), the nameless attachment
  EXPECT_EQ(s.inlines, 1);      // logo.png
  EXPECT_EQ(s.snippet, "Body");
  for (const char* name : {"report.pdf", "data.csv", "logo.png"}) {
    EXPECT_NE(s.text_for_index.find(name), std::string::npos) << name;
  }
}

// Inline parts are counted with the classification of MessageDetail::inline_parts (mime/detail.h).
TEST_F(MimeTest, InlineCounting) {
  struct Case {
    const char* name;
    const char* type;   // of the top-level multipart
    const char* parts;  // body parts, each starting with its headers; "--b" delimiters added here
    int attachments;
    int inlines;
  };
  const Case cases[] = {
      {"cid in related without disposition", "related",
       "Content-Type: text/html\r\n\r\n<img src=cid:a>|"
       "Content-Type: image/png; name=a.png\r\nContent-ID: <a>\r\n\r\nPNG",
       0, 1},
      {"cid in related with attachment disposition", "related",
       "Content-Type: text/html\r\n\r\n<img src=cid:a>|"
       "Content-Type: image/png\r\nContent-Disposition: attachment; filename=a.png\r\nContent-ID: "
       "<a>\r\n\r\nPNG",
       1, 0},
      {"cid outside related", "mixed",
       "Content-Type: text/plain\r\n\r\nbody|Content-Type: image/png\r\nContent-ID: <a>\r\n\r\nPNG", 0, 0},
      {"inline dispositions", "mixed",
       "Content-Type: text/plain\r\nContent-Disposition: inline\r\n\r\nbefore|"
       "Content-Type: image/jpeg\r\nContent-Disposition: inline; filename=p.jpg\r\n\r\nJPG|"
       "Content-Type: text/plain\r\nContent-Disposition: inline\r\n\r\nafter",
       0, 2},
      {"inline message", "mixed",
       "Content-Type: text/plain\r\n\r\nbody|"
       "Content-Type: message/rfc822\r\nContent-Disposition: inline\r\n\r\n"
       "From: b@example.com\r\nContent-Type: image/gif\r\nContent-Disposition: inline\r\n\r\nGIF",
       0, 1},
      {"parts of an attached message are not counted", "mixed",
       "Content-Type: text/plain\r\n\r\nbody|"
       "Content-Type: message/rfc822\r\nContent-Disposition: attachment\r\n\r\n"
       "From: b@example.com\r\nContent-Type: image/gif\r\nContent-Disposition: inline\r\n\r\nGIF",
       1, 0},
  };
  for (const auto& c : cases) {
    std::string raw =
        std::string("From: a@example.com\r\nContent-Type: multipart/") + c.type + "; boundary=b\r\n\r\n";
    std::string parts = c.parts;
    std::size_t start = 0;
    while (start <= parts.size()) {
      std::size_t bar = parts.find('|', start);
      if (bar == std::string::npos) bar = parts.size();
      raw += "--b\r\n" + parts.substr(start, bar - start) + "\r\n";
      start = bar + 1;
    }
    raw += "--b--\r\n";
    const auto s = parse_summary(raw);
    EXPECT_EQ(s.attachments, c.attachments) << c.name;
    EXPECT_EQ(s.inlines, c.inlines) << c.name;
  }
}

TEST_F(MimeTest, SnippetLimitCountsCharactersAndFoldsWhitespace) {
  std::string body = "  first\r\n\r\n\tsecond   third ";
  for (int i = 0; i < 400; ++i) body += "\xC3\xA9";  // 'é', two bytes each
  const std::string raw =
      "From: a@example.com\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n";
  MimeLimits limits;
  limits.snippet_chars = 30;
  const auto s = parse_summary(raw, limits);
  EXPECT_EQ(utf8_chars(s.snippet), 30u);
  EXPECT_TRUE(valid_utf8(s.snippet));
  EXPECT_EQ(s.snippet.substr(0, 19), "first second third ");
  std::string eleven_e_acute;
  for (int i = 0; i < 11; ++i) eleven_e_acute += "\xC3\xA9";
  EXPECT_EQ(s.snippet.substr(19), eleven_e_acute);
}

TEST_F(MimeTest, IndexTextLimitKeepsAttachmentNames) {
  std::string body;
  for (int i = 0; i < 3000; ++i) body += "\xE6\x97\xA5";  // 3-byte characters, 9000 bytes
  const std::string raw =
      "From: a@example.com\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
      "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
      body +
      "\r\n--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; "
      "filename=invoice-42.pdf\r\n\r\n"
      "AAAA\r\n--b--\r\n";
  MimeLimits limits;
  limits.max_index_text = 1000;
  const auto s = parse_summary(raw, limits);
  EXPECT_LE(s.text_for_index.size(), 1000u);
  EXPECT_GT(s.text_for_index.size(), 950u);
  EXPECT_TRUE(valid_utf8(s.text_for_index));
  EXPECT_NE(s.text_for_index.find("invoice-42.pdf"), std::string::npos);
  EXPECT_EQ(s.attachments, 1);
}

TEST_F(MimeTest, LongBodyIsDecodedOnlyUpToTheLimit) {
  // A 4 MiB UTF-8 body: the index gets the first max_index_text bytes, cut at a character boundary.
  std::string body;
  body.reserve(4 << 20);
  while (body.size() < (4u << 20)) body += "\xE2\x82\xAC euro ";
  const std::string raw = "From: a@example.com\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body;
  MimeLimits limits;
  limits.max_index_text = 4096;
  const auto s = parse_summary(raw, limits);
  EXPECT_LE(s.text_for_index.size(), 4096u);
  EXPECT_GT(s.text_for_index.size(), 4080u);
  EXPECT_TRUE(valid_utf8(s.text_for_index));
  EXPECT_EQ(s.text_for_index.find("\xEF\xBF\xBD"), std::string::npos);  // no replacement char at the cut
}

// ---------------------------------------------------------------------------------------------------
// Limits and hostile input.

TEST_F(MimeTest, DeepNestingStopsAtMaxDepth) {
  std::string raw = "From: a@example.com\r\nSubject: deep\r\n";
  for (int i = 0; i < 1000; ++i) {
    raw += "Content-Type: multipart/mixed; boundary=\"b" + std::to_string(i) + "\"\r\n\r\n--b" +
           std::to_string(i) + "\r\n";
  }
  raw += "Content-Type: text/plain\r\n\r\ndeepest text\r\n";
  MimeLimits limits;
  limits.max_depth = 8;
  const auto s = parse_summary(raw, limits);
  EXPECT_EQ(s.subject, "deep");
  EXPECT_NE(s.parse_error.find("depth limit"), std::string::npos) << s.parse_error;
  EXPECT_EQ(s.snippet, "");  // the text is below the depth limit
  expect_all_valid_utf8(s, "deep");

  // The default limit (32) stops the walk as well.
  const auto d = parse_summary(raw);
  EXPECT_NE(d.parse_error.find("depth limit"), std::string::npos) << d.parse_error;
  EXPECT_EQ(d.subject, "deep");
}

TEST_F(MimeTest, ShallowNestingWithinDepthIsWalked) {
  std::string raw = "From: a@example.com\r\n";
  for (int i = 0; i < 5; ++i) {
    raw += "Content-Type: multipart/mixed; boundary=\"b" + std::to_string(i) + "\"\r\n\r\n--b" +
           std::to_string(i) + "\r\n";
  }
  raw += "Content-Type: text/plain\r\n\r\nfound me\r\n";
  MimeLimits limits;
  limits.max_depth = 8;
  const auto s = parse_summary(raw, limits);
  EXPECT_EQ(s.snippet, "found me");
  EXPECT_EQ(s.parse_error.find("depth limit"), std::string::npos);
}

TEST_F(MimeTest, MaxPartsBoundsTheWalk) {
  std::string raw = "From: a@example.com\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n";
  for (int i = 0; i < 50; ++i) {
    raw += "--x\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=f" +
           std::to_string(i) + ".pdf\r\n\r\nAAAA\r\n";
  }
  raw += "--x--\r\n";
  MimeLimits limits;
  limits.max_parts = 10;
  const auto s = parse_summary(raw, limits);
  EXPECT_EQ(s.attachments, 9);  // the multipart itself is the first part walked
  EXPECT_NE(s.parse_error.find("part limit"), std::string::npos);
  EXPECT_FALSE(s.parse_failed);
  EXPECT_EQ(parse_summary(raw).attachments, 50);
}

TEST_F(MimeTest, EmptyAndHeaderlessInput) {
  const auto empty = parse_summary("");
  EXPECT_TRUE(empty.parse_failed);
  EXPECT_FALSE(empty.parse_error.empty());

  const auto text = parse_summary("just some words\nwithout any header\n");
  EXPECT_TRUE(text.parse_failed);
  EXPECT_EQ(text.snippet, "just some words without any header");
  expect_all_valid_utf8(text, "headerless");
}

TEST_F(MimeTest, RandomBytesNeverCrash) {
  std::mt19937 rng(12345);
  for (int i = 0; i < 300; ++i) {
    std::string raw(rng() % 4000, '\0');
    for (auto& c : raw) c = static_cast<char>(rng());
    const auto s = parse_summary(raw);
    expect_all_valid_utf8(s, "random " + std::to_string(i));
  }
}

TEST_F(MimeTest, MutatedCorpusMessagesNeverCrash) {
  std::mt19937 rng(777);
  const auto files = corpus_files();
  for (int i = 0; i < 200; ++i) {
    std::string raw = read_file(files[rng() % files.size()]);
    if (raw.empty()) continue;
    const int flips = 1 + static_cast<int>(rng() % 20);
    for (int k = 0; k < flips; ++k) {
      const char specials[] = {'\n', '\r', ':', '-', '=', '?', '<', '>', ';', '"', '\0', '\xFF', ' '};
      raw[rng() % raw.size()] = (rng() % 2) ? specials[rng() % sizeof(specials)] : static_cast<char>(rng());
    }
    expect_all_valid_utf8(parse_summary(raw), "mutation " + std::to_string(i));
  }
}

TEST_F(MimeTest, HugeHeaders) {
  {
    const std::string raw =
        "From: a@example.com\r\nSubject: " + std::string(1 << 20, 'x') + "\r\n\r\nbody\r\n";
    const auto s = parse_summary(raw);
    EXPECT_EQ(s.subject.size(), 1u << 20);
    EXPECT_EQ(s.snippet, "body");
  }
  {
    std::string raw = "From: a@example.com\r\n";
    for (int i = 0; i < 20000; ++i) raw += "X-Header-" + std::to_string(i) + ": value\r\n";
    raw += "Subject: after many\r\n\r\nbody\r\n";
    EXPECT_EQ(parse_summary(raw).subject, "after many");
  }
  {
    std::string raw = "From: a@example.com\r\nTo: ";
    for (int i = 0; i < 20000; ++i) raw += "user" + std::to_string(i) + "@example.com,\r\n ";
    raw += "last@example.com\r\n\r\nbody\r\n";
    const auto s = parse_summary(raw);
    EXPECT_EQ(s.to.size(), 1000u);  // capped per header
  }
}

// Constructs that overflow GMime's stack unless neutralised before parsing (regression tests).
TEST_F(MimeTest, StackHazardsAreNeutralised) {
  const std::string big(4 << 20, 'a');
  std::string spaced;
  for (int i = 0; i < (1 << 19); ++i) spaced += "aaaaaaa ";
  std::string groups_open, groups_close;
  for (int i = 0; i < 200000; ++i) {
    groups_open += "g:";
    groups_close += ";";
  }
  const std::string cases[] = {
      "From: a@example.com\r\nSubject: =?" + big + "?Q?x?=\r\n\r\nbody\r\n",
      "From: a@example.com\r\nSubject: =?" + spaced + "?Q?x?=\r\n\r\nbody\r\n",
      "From: =?utf-8*" + big + "?B?eA==?= <a@example.com>\r\n\r\nbody\r\n",
      "From: a@example.com\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename*=\"" +
          spaced + "''x\"\r\n\r\nbody\r\n",
      "From: a@example.com\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename*0*=" +
          big + "''x; filename*1*=y\r\n\r\nbody\r\n",
      "From: a@example.com\r\nTo: " + groups_open + "a@example.com" + groups_close + "\r\n\r\nbody\r\n",
      "From: a@example.com\r\nTo:\r\n " + groups_open + "a@example.com" + groups_close + "\r\n\r\nbody\r\n",
  };
  for (const auto& raw : cases) {
    const auto s = parse_summary(raw);
    expect_all_valid_utf8(s, raw.substr(0, 60));
    EXPECT_NE(s.parse_error.find("neutralised"), std::string::npos);
  }
  // Legitimate encoded words and RFC 2231 parameters are not touched.
  const auto ok = parse_summary(
      "From: a@example.com\r\nSubject: =?utf-8*en?Q?ok?=\r\nContent-Type: text/plain\r\n"
      "Content-Disposition: attachment; filename*=utf-8'en'na%C3%AFve.txt\r\n\r\nbody\r\n");
  EXPECT_EQ(ok.parse_error, "");
  EXPECT_EQ(ok.subject, "ok");
  EXPECT_NE(ok.text_for_index.find("na\xC3\xAFve.txt"), std::string::npos);
}

TEST_F(MimeTest, ConcurrentParsingMatchesSequential) {
  const auto files = corpus_files();
  std::vector<std::string> raws;
  std::vector<std::string> expected;
  for (const auto& f : files) {
    raws.push_back(read_file(f));
    const auto s = parse_summary(raws.back());
    expected.push_back(s.subject + "|" + s.snippet + "|" + std::to_string(s.attachments));
  }
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 5; ++round) {
        for (std::size_t i = 0; i < raws.size(); ++i) {
          const auto s = parse_summary(raws[(i + t * 7) % raws.size()]);
          if (s.subject + "|" + s.snippet + "|" + std::to_string(s.attachments) !=
              expected[(i + t * 7) % raws.size()]) {
            ++mismatches[t];
          }
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
}

// A loose guard against pathological regressions; the real measurement is store_bench (µs/message).
}  // namespace
}  // namespace mailjar::mime
