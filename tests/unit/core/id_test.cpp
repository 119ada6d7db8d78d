#include "core/id.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>
#include <vector>

namespace mailjar::core {
namespace {

TEST(IdGenerator, IdsAre26CrockfordCharacters) {
  IdGenerator g;
  std::string id = g.next(1700000000000);
  ASSERT_EQ(id.size(), 26u);
  for (char c : id) EXPECT_NE(std::string("0123456789ABCDEFGHJKMNPQRSTVWXYZ").find(c), std::string::npos) << c;
}

TEST(IdGenerator, TimePrefixOrdersAcrossMilliseconds) {
  IdGenerator g;
  std::string a = g.next(1000), b = g.next(2000), c = g.next(1u << 30);
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  // The first 10 characters encode the milliseconds: equal times share them.
  IdGenerator h1, h2;
  EXPECT_EQ(h1.next(123456789).substr(0, 10), h2.next(123456789).substr(0, 10));
  EXPECT_NE(h1.next(123456789), h2.next(123456789));
}

TEST(IdGenerator, StrictlyIncreasingWithinOneMillisecondAndWhenTheClockStepsBack) {
  IdGenerator g;
  std::string prev = g.next(5000);
  for (int i = 0; i < 10000; ++i) {
    std::string next = g.next(i % 2 ? 5000 : 4000);  // same ms, then an earlier one
    ASSERT_LT(prev, next);
    prev = next;
  }
}

TEST(IdGenerator, UniqueAcrossThreads) {
  IdGenerator g;
  std::vector<std::vector<std::string>> per(4);
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < 5000; ++i) per[t].push_back(g.next(now_unix_ms()));
    });
  for (auto& t : ts) t.join();
  std::set<std::string> all;
  for (auto& v : per) all.insert(v.begin(), v.end());
  EXPECT_EQ(all.size(), 20000u);
}

}  // namespace
}  // namespace mailjar::core

TEST(IdFloor, SortsBetweenTheMillisecondsAroundIt) {
  mailjar::core::IdGenerator gen;
  for (int64_t ms : {int64_t{0}, int64_t{1}, int64_t{1700000000000}, int64_t{1700000000123}}) {
    const std::string floor = mailjar::core::id_floor(ms);
    ASSERT_EQ(floor.size(), 26u);
    EXPECT_EQ(floor.substr(10), std::string(16, '0'));
    if (ms > 0) EXPECT_LT(gen.next(ms - 1), floor) << ms;
    EXPECT_LE(floor, gen.next(ms)) << ms;
    EXPECT_LT(floor, mailjar::core::id_floor(ms + 1));
  }
  EXPECT_EQ(mailjar::core::id_floor(-5), std::string(26, '0'));
  EXPECT_EQ(mailjar::core::id_floor(int64_t{1} << 60), mailjar::core::id_floor((int64_t{1} << 48) - 1));
}
