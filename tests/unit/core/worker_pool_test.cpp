#include "core/worker_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

namespace mailjar::core {
namespace {

TEST(WorkerPool, RunsEveryTaskAndDrainsOnDestruction) {
  std::atomic<int> ran{0};
  {
    WorkerPool pool(3);
    for (int i = 0; i < 1000; ++i) pool.post([&] { ran.fetch_add(1); });
  }
  EXPECT_EQ(ran.load(), 1000);
}

TEST(WorkerPool, UsesSeveralThreads) {
  std::mutex mu;
  std::set<std::thread::id> seen;
  std::atomic<int> arrived{0};
  {
    WorkerPool pool(2);
    for (int i = 0; i < 2; ++i)
      pool.post([&] {
        {
          std::lock_guard<std::mutex> l(mu);
          seen.insert(std::this_thread::get_id());
        }
        arrived.fetch_add(1);
        while (arrived.load() < 2) std::this_thread::yield();  // both tasks must be running at once
      });
  }
  EXPECT_EQ(seen.size(), 2u);
}

TEST(WorkerPool, ZeroThreadsMeansOne) {
  std::atomic<int> ran{0};
  {
    WorkerPool pool(0);
    pool.post([&] { ran = 1; });
  }
  EXPECT_EQ(ran.load(), 1);
}

}  // namespace
}  // namespace mailjar::core
