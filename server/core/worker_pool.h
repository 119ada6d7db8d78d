// A fixed pool of threads for blocking work (SQLite, GMime, analyzers), so that network threads never
// block. Tasks run in FIFO order across the pool. Thread-safe. shutdown() (or the destructor) runs what
// is queued (and what those tasks post while it drains), then joins; a task posted once the threads have
// gone never runs and is destroyed with the pool. Each worker thread may keep thread_local state (e.g. its own SQLite
// connection).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace mailjar::core {

class WorkerPool {
 public:
  explicit WorkerPool(int threads);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void post(std::function<void()> task);
  // Runs what is queued, joins the threads; idempotent. Call it before destroying what tasks use.
  void shutdown();
  std::size_t queued() const;

 private:
  void run();
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;  // guarded by mu_: no new task is accepted
  std::vector<std::thread> threads_;
  std::mutex join_mu_;  // serialises shutdown()
};

}  // namespace mailjar::core
