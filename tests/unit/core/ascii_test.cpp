// core/ascii.h: ASCII-only case folding.
#include "core/ascii.h"

#include <gtest/gtest.h>

namespace mailjar::core {
namespace {

TEST(AsciiIequals, FoldsOnlyAsciiLetters) {
  EXPECT_TRUE(ascii_iequals("Starttls", "STARTTLS"));
  EXPECT_TRUE(ascii_iequals("content-TYPE", "Content-Type"));
  EXPECT_TRUE(ascii_iequals("", ""));
  EXPECT_FALSE(ascii_iequals("STARTTL", "STARTTLS"));
  EXPECT_FALSE(ascii_iequals("a", "b"));
  EXPECT_FALSE(ascii_iequals("\xc3\xbc", "\xc3\x9c"));  // u-umlaut vs U-umlaut: not ASCII, not folded
  EXPECT_FALSE(ascii_iequals("@", "`"));                // 0x40 / 0x60 differ by the case bit but are not letters
  EXPECT_FALSE(ascii_iequals("[", "{"));
  EXPECT_EQ(ascii_lower('Z'), 'z');
  EXPECT_EQ(ascii_lower('z'), 'z');
  EXPECT_EQ(ascii_lower('\xc4'), '\xc4');
}

}  // namespace
}  // namespace mailjar::core
