// Tests of the SMTP AUTH helpers (smtp/auth.h): CRAM-MD5, constant-time comparison.
#include "smtp/auth.h"

#include <gtest/gtest.h>

#include <string>

#include "core/base64.h"

namespace mailjar::smtp {
namespace {

// RFC 2195 section 2. Note: the RFC's challenge host is postoffice.reston.mci.NET; with ".com" the
// printed digest does not match.
TEST(CramMd5, Rfc2195Example) {
  const std::string challenge = "<1896.697170952@postoffice.reston.mci.net>";
  EXPECT_TRUE(cram_md5_matches("tanstaaftanstaaf", challenge, "b913a602c7eda7a495b4e6e7334d3890"));
  EXPECT_TRUE(cram_md5_matches("tanstaaftanstaaf", challenge, "B913A602C7EDA7A495B4E6E7334D3890"));
  // The RFC's whole client response, base64, decodes to "tim <digest>".
  auto response = core::base64_decode("dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw", core::Base64::kStrict);
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(*response, "tim b913a602c7eda7a495b4e6e7334d3890");
  // And the RFC's challenge, base64, is what the server sends.
  EXPECT_EQ(core::base64_encode(challenge), "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+");
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
