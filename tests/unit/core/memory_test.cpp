// core::ByteBudget (the limit of unstored message content) and core::trim_free_heap.
#include <gtest/gtest.h>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/byte_budget.h"
#include "core/heap.h"
#include "core/names.h"

namespace mailjar::core {
namespace {

TEST(ByteBudget, NeverExceedsItsLimit) {
  ByteBudget budget(100);
  EXPECT_TRUE(budget.try_reserve(60));
  EXPECT_FALSE(budget.try_reserve(41));
  EXPECT_TRUE(budget.try_reserve(40));
  EXPECT_EQ(budget.used(), 100u);
  EXPECT_FALSE(budget.try_reserve(1));
  budget.release(50);
  EXPECT_TRUE(budget.try_reserve(50));
  EXPECT_FALSE(budget.try_reserve(static_cast<std::size_t>(-1)));  // no overflow
  budget.add(10);                                                  // counted beyond the limit
  EXPECT_EQ(budget.used(), 110u);
  EXPECT_FALSE(budget.try_reserve(1));
  budget.release(110);
  EXPECT_EQ(budget.used(), 0u);
  ByteBudget none(0);
  EXPECT_FALSE(none.try_reserve(1));
}

TEST(ByteBudget, ConcurrentReservationsStayWithinTheLimit) {
  ByteBudget budget(1000);
  std::vector<std::thread> threads;
  std::atomic<int> granted{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        if (budget.try_reserve(7)) {
          granted.fetch_add(1);
          EXPECT_LE(budget.used(), 1000u);
          budget.release(7);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(budget.used(), 0u);
  EXPECT_GT(granted.load(), 0);
}

long resident_bytes() {
  long pages_total = 0, pages_resident = 0;
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return -1;
  if (std::fscanf(f, "%ld %ld", &pages_total, &pages_resident) != 2) pages_resident = -1;
  std::fclose(f);
  return pages_resident * sysconf(_SC_PAGESIZE);
}

// As in the server: large blocks come from the heap and free memory is kept, so only a trim returns it.
TEST(TrimFreeHeap, GivesBackWhatLargeBuffersLeftFree) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "ASan's allocator replaces malloc's arenas";
#endif
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  std::vector<std::unique_ptr<char[]>> blocks;
  std::vector<std::unique_ptr<char[]>> pins;  // small live blocks between the large ones
  for (int i = 0; i < 64; ++i) {
    blocks.emplace_back(new char[2 << 20]);
    std::fill_n(blocks.back().get(), 2 << 20, 'x');
    pins.emplace_back(new char[64]);
  }
  blocks.clear();  // 128 MiB free inside the heap, pinned in place by the small blocks
  const long before = resident_bytes();
  EXPECT_EQ(trim_free_heap(std::size_t{1} << 40), 0u);  // under the threshold: nothing done
  const std::size_t freed = trim_free_heap(32 << 20);
  EXPECT_GE(freed, std::size_t{100} << 20);
  const long after = resident_bytes();
  EXPECT_LT(after, before - (64L << 20)) << before << " -> " << after;
}

TEST(NameProblem, BoundsNames) {
  EXPECT_EQ(name_problem("ok name", "tag", 10), std::nullopt);
  EXPECT_EQ(name_problem("\xC3\x9C", "tag", 10), std::nullopt);
  EXPECT_EQ(*name_problem("", "tag", 10), "tag is empty");
  EXPECT_EQ(*name_problem("   ", "tag", 10), "tag is empty");
  EXPECT_EQ(*name_problem("12345678901", "tag", 10), "tag is longer than 10 bytes (11)");
  EXPECT_EQ(*name_problem(std::string("a\0b", 3), "tag", 10), "tag contains a control character");
  EXPECT_EQ(*name_problem("a\x7f", "tag", 10), "tag contains a control character");
  EXPECT_EQ(*name_problem("a\xff", "tag", 10), "tag is not valid UTF-8");
  EXPECT_EQ(*name_problem("\xED\xA0\x80", "tag", 10), "tag is not valid UTF-8");  // a surrogate
}

}  // namespace
}  // namespace mailjar::core
