// NAME
//   writer.cpp - BatchWriter: the single writer thread that commits queued messages in groups.
// CONTRACT
//   See store.h. Each batch is everything queued when the writer wakes (up to max_batch), committed with
//   one Store::insert_prepared() call; then every message's callback gets that call's outcome, so a
//   callback is never told "ok" for a message whose transaction did not commit. Callbacks run on the
//   writer thread, exactly once each, in submission order. Messages arrive already encoded
//   (prepare_message() ran on the submitting thread): the writer thread only binds, steps and commits.
//   A message whose preparation failed (submit(NewMessage)) rides in its batch without being inserted
//   and its callback gets that error.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include "store/store.h"

namespace mailjar::store {

struct BatchWriter::Impl {
  struct Item {
    PreparedMessage message;
    Done done;
    std::optional<core::Error> failed;  // preparation failed: not inserted, done(*failed)
  };

  std::unique_ptr<Store> store;
  std::size_t max_batch;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Item> queue;               // guarded by mu
  bool stopping = false;                // guarded by mu
  std::atomic<std::size_t> pending{0};  // queued + being committed
  std::thread thread;

  void run() {
    std::vector<Item> batch;
    std::vector<const PreparedMessage*> pointers;
    while (true) {
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return stopping || !queue.empty(); });
        if (queue.empty()) return;  // stopping and drained
        const std::size_t n = std::min(queue.size(), max_batch);
        batch.clear();
        batch.reserve(n);
        for (std::size_t i = 0; i < n; ++i) {
          batch.push_back(std::move(queue.front()));
          queue.pop_front();
        }
      }
      pointers.clear();
      for (const Item& item : batch) {
        if (!item.failed) pointers.push_back(&item.message);
      }
      const core::Result<void> result =
          store ? store->insert_prepared(pointers)
                : core::Result<void>(core::make_error("unavailable", "batch writer has no store"));
      pending.fetch_sub(batch.size(), std::memory_order_relaxed);
      for (Item& item : batch) {
        if (!item.done) continue;
        try {
          if (item.failed) {
            item.done(core::Result<void>(*item.failed));
          } else {
            item.done(result);
          }
        } catch (...) {
          // A callback's failure is its own; the writer must keep committing for everyone else.
        }
      }
      batch.clear();  // release message memory before sleeping
    }
  }
};

BatchWriter::BatchWriter(std::unique_ptr<Store> store, std::size_t max_batch)
    : impl_(std::make_unique<Impl>()) {
  impl_->store = std::move(store);
  impl_->max_batch = std::max<std::size_t>(max_batch, 1);
  impl_->thread = std::thread([impl = impl_.get()] { impl->run(); });
}

BatchWriter::~BatchWriter() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_one();
  impl_->thread.join();
}

void BatchWriter::submit(PreparedMessage message, Done done) {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->queue.push_back(Impl::Item{std::move(message), std::move(done), std::nullopt});
    impl_->pending.fetch_add(1, std::memory_order_relaxed);
  }
  impl_->cv.notify_one();
}

void BatchWriter::submit(NewMessage message, Done done) {
  auto prepared = prepare_message(std::move(message));
  if (prepared.ok()) {
    submit(std::move(prepared).value(), std::move(done));
    return;
  }
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->queue.push_back(Impl::Item{PreparedMessage{}, std::move(done), prepared.error()});
    impl_->pending.fetch_add(1, std::memory_order_relaxed);
  }
  impl_->cv.notify_one();
}

std::size_t BatchWriter::pending() const { return impl_->pending.load(std::memory_order_relaxed); }

}  // namespace mailjar::store
