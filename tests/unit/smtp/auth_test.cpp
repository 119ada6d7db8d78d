// Tests of the SMTP AUTH helpers (smtp/auth.h): strict base64, CRAM-MD5, constant-time comparison.
#include "smtp/auth.h"

#include <gtest/gtest.h>

#include <string>

namespace mailjar::smtp {
namespace {

TEST(Base64, Rfc4648TestVectors) {
  struct Case {
    std::string plain;
    std::string encoded;
  };
  const Case cases[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
      {std::string("\0user\0pass", 10), "AHVzZXIAcGFzcw=="},
      {"\xff\xfe\xfd", "//79"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(base64_encode(c.plain), c.encoded) << c.plain;
    auto d = base64_decode(c.encoded);
    ASSERT_TRUE(d.has_value()) << c.encoded;
    EXPECT_EQ(*d, c.plain) << c.encoded;
  }
}

TEST(Base64, RejectsAnythingNotStrict) {
  const char* bad[] = {
      "Zg",        // missing padding
      "Zg=",       // short padding
      "Z===",      // too much padding
      "====",      //
      "Zh==",      // unused bits set (non-canonical)
      "Zm9=",      // unused bits set
      "Zm9v\r\n",  // line break
      "Zm 9v",     // space
      "=Zm9",      // padding first
      "Zm=v",      // padding inside
      "Zg==Zg==",  // padding before the end
      "Zm9v*",     // not in the alphabet
      "Zm9-",      // base64url alphabet is not base64
      "*",
  };
  for (const char* b : bad) EXPECT_FALSE(base64_decode(b).has_value()) << b;
}

// RFC 2195 section 2. Note: the RFC's challenge host is postoffice.reston.mci.NET; with ".com" the
// printed digest does not match.
TEST(CramMd5, Rfc2195Example) {
  const std::string challenge = "<1896.697170952@postoffice.reston.mci.net>";
  EXPECT_TRUE(cram_md5_matches("tanstaaftanstaaf", challenge, "b913a602c7eda7a495b4e6e7334d3890"));
  EXPECT_TRUE(cram_md5_matches("tanstaaftanstaaf", challenge, "B913A602C7EDA7A495B4E6E7334D3890"));
  // The RFC's whole client response, base64, decodes to "tim <digest>".
  auto response = base64_decode("dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw");
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(*response, "tim b913a602c7eda7a495b4e6e7334d3890");
  // And the RFC's challenge, base64, is what the server sends.
  EXPECT_EQ(base64_encode(challenge), "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+");
}

TEST(CramMd5, RejectsWrongInputs) {
  const std::string challenge = "<1896.697170952@postoffice.reston.mci.net>";
  const std::string digest = "b913a602c7eda7a495b4e6e7334d3890";
  EXPECT_FALSE(cram_md5_matches("tanstaaftanstaag", challenge, digest));
  EXPECT_FALSE(cram_md5_matches("tanstaaftanstaaf", "<1896.697170953@postoffice.reston.mci.net>", digest));
  EXPECT_FALSE(cram_md5_matches("tanstaaftanstaaf", challenge, "b913a602c7eda7a495b4e6e7334d389"));
  EXPECT_FALSE(cram_md5_matches("tanstaaftanstaaf", challenge, "b913a602c7eda7a495b4e6e7334d38900"));
  EXPECT_FALSE(cram_md5_matches("tanstaaftanstaaf", challenge, "b913a602c7eda7a495b4e6e7334d389g"));
  EXPECT_FALSE(cram_md5_matches("tanstaaftanstaaf", challenge, "c913a602c7eda7a495b4e6e7334d3890"));
  EXPECT_FALSE(cram_md5_matches("tanstaaftanstaaf", challenge, ""));
}

TEST(SecretsEqual, ComparesContentAndLength) {
  EXPECT_TRUE(secrets_equal("", ""));
  EXPECT_TRUE(secrets_equal("hunter2", "hunter2"));
  EXPECT_FALSE(secrets_equal("hunter2", "hunter3"));
  EXPECT_FALSE(secrets_equal("hunter2", "hunter22"));
  EXPECT_FALSE(secrets_equal("hunter2", ""));
  EXPECT_TRUE(secrets_equal(std::string("a\0b", 3), std::string("a\0b", 3)));
  EXPECT_FALSE(secrets_equal(std::string("a\0b", 3), std::string("a\0c", 3)));
}

}  // namespace
}  // namespace mailjar::smtp
