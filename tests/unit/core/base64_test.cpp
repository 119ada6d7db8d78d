// core/base64.h: RFC 4648 vectors, the strict mode (SMTP AUTH) and the lenient one (JSON, HTTP Basic).
#include "core/base64.h"

#include <gtest/gtest.h>

#include <string>

namespace mailjar::core {
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
    auto d = base64_decode(c.encoded, Base64::kStrict);
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
  for (const char* b : bad) EXPECT_FALSE(base64_decode(b, Base64::kStrict).has_value()) << b;
}

TEST(Base64, LenientTakesWhatClientsSend) {
  const struct {
    const char* in;
    const char* out;
  } ok[] = {
      {"Zm9vYmFy", "foobar"},
      {"Zm9vYg", "foob"},
      {"Zm9v\r\nYmFy", "foobar"},
      {" Zg == ", "f"},
      {"__79", "\xff\xfe\xfd"},
      {"--79", "\xfb\xee\xfd"},
      {"", ""},
  };
  for (const auto& c : ok) {
    auto d = base64_decode(c.in, Base64::kLenient);
    ASSERT_TRUE(d.has_value()) << c.in;
    EXPECT_EQ(*d, c.out) << c.in;
  }
  for (const char* bad : {"Zm=9v", "Zm9v*", "Zg==Zg"})
    EXPECT_FALSE(base64_decode(bad, Base64::kLenient)) << bad;
}

}  // namespace
}  // namespace mailjar::core
