// mime::DetailCache: bounded by bytes, least recently used first out, oversized details never kept.
#include "mime/detail_cache.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace mailjar::mime {
namespace {

std::shared_ptr<const MessageDetail> detail_of(std::size_t text_bytes, char fill = 't') {
  auto d = std::make_shared<MessageDetail>();
  d->text = std::string(text_bytes, fill);
  return d;
}

TEST(DetailCache, FindsWhatWasPut) {
  DetailCache cache(1 << 20);
  EXPECT_EQ(cache.find("1/A"), nullptr);
  auto d = detail_of(100);
  cache.put("1/A", d);
  EXPECT_EQ(cache.find("1/A"), d);
  EXPECT_EQ(cache.find("2/A"), nullptr);  // the key carries the inbox
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.bytes(), DetailCache::size_of(*d) + 3);
}

TEST(DetailCache, EvictsTheLeastRecentlyUsedWithinItsBound) {
  const std::size_t one = DetailCache::size_of(*detail_of(1000)) + 3;
  DetailCache cache(one * 8 + one / 2);  // room for eight
  for (int i = 0; i < 8; ++i) cache.put("1/" + std::to_string(i), detail_of(1000));
  EXPECT_EQ(cache.size(), 8u);
  ASSERT_NE(cache.find("1/0"), nullptr);  // now the most recently used
  cache.put("1/8", detail_of(1000));
  EXPECT_EQ(cache.size(), 8u);
  EXPECT_NE(cache.find("1/0"), nullptr);
  EXPECT_EQ(cache.find("1/1"), nullptr);  // the least recently used went
  EXPECT_LE(cache.bytes(), one * 8 + one / 2);
}

TEST(DetailCache, ADetailOverAnEighthOfTheBoundIsNotKept) {
  DetailCache cache(80000);
  cache.put("1/big", detail_of(20000));
  EXPECT_EQ(cache.find("1/big"), nullptr);
  cache.put("1/small", detail_of(1000));
  EXPECT_NE(cache.find("1/small"), nullptr);
  DetailCache off(0);
  off.put("1/x", detail_of(1));
  EXPECT_EQ(off.size(), 0u);
}

TEST(DetailCache, ReplacingAKeyKeepsTheCountRight) {
  DetailCache cache(1 << 20);
  cache.put("1/A", detail_of(10));
  cache.put("1/A", detail_of(20));
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.find("1/A")->text.size(), 20u);
  EXPECT_EQ(cache.bytes(), DetailCache::size_of(*detail_of(20)) + 3);
}

TEST(DetailCache, ConcurrentUseStaysWithinTheBound) {
  DetailCache cache(200000);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        const std::string key = std::to_string(t) + "/" + std::to_string(i % 50);
        if (!cache.find(key)) cache.put(key, detail_of(static_cast<std::size_t>(100 + i % 900)));
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_LE(cache.bytes(), 200000u);
  EXPECT_GT(cache.size(), 0u);
}

}  // namespace
}  // namespace mailjar::mime
