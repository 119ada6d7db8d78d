// NAME
//   writer.cpp - BatchWriter: the single writer thread that commits queued messages in groups.
// CONTRACT
//   See store.h. Each batch is everything queued when the writer wakes (up to max_batch): the writer
//   first runs the `prepare` of the items that have one, in order, then commits the batch with one
//   Store::insert_prepared() call; then every message's callback gets that call's outcome, so a callback
//   is never told "ok" for a message whose transaction did not commit. Callbacks run on the writer
//   thread, exactly once each, in submission order. An item whose preparation failed (submit(NewMessage)
//   or a failed `prepare`) rides in its batch without being inserted and its callback gets that error.
//   Durability is the store's synchronous setting: with FULL, SQLite fdatasyncs the WAL inside the
//   commit, once per group, on this thread. (A separate fsync thread overlapped the sync with the next
//   group, but on this VM its hand-offs cost more than they saved: see bench/RESULTS.md.)
//   Indexing (store with index_lag): the writer keeps an estimate of the unindexed messages (exact at start,
//   plus what it inserts, zero once index_pending() returns less than a chunk); it indexes in the quiet
//   after the last group, and after each group while the estimate is above max_lag. A failed index
//   transaction drops the estimate to zero: searches still catch up on their own.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
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
    std::optional<std::vector<MessageReports>> reports;  // set: a reports item (no message), done(0)
    Prepare prepare;                    // set: run on the writer thread to make `message` (or `failed`)
  };

  std::unique_ptr<Store> store;
  std::size_t max_batch;
  WriterIndexing indexing;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Item> queue;               // guarded by mu
  bool stopping = false;                // guarded by mu
  std::atomic<std::size_t> pending{0};  // queued + being committed
  std::thread thread;

  static void call(Done& done, const std::optional<core::Error>& failed, const core::Result<void>& result,
                   int64_t seq) {
    if (!done) return;
    try {
      if (failed) {
        done(core::Result<int64_t>(*failed));
      } else if (!result.ok()) {
        done(core::Result<int64_t>(result.error()));
      } else {
        done(core::Result<int64_t>(seq));
      }
    } catch (...) {
      // A callback's failure is its own; the writer must keep committing for everyone else.
    }
  }

  static void run_prepare(Item& item) {
    Prepare prepare = std::move(item.prepare);
    item.prepare = nullptr;
    try {
      auto made = prepare();
      if (made.ok()) {
        item.message = std::move(made).value();
      } else {
        item.failed = made.error();
      }
    } catch (const std::exception& e) {
      item.failed = core::make_error("internal", std::string("preparing the message failed: ") + e.what());
    } catch (...) {
      item.failed = core::make_error("internal", "preparing the message failed");
    }
  }

  // Indexes one chunk; returns the new estimate of the unindexed messages.
  int64_t index_chunk(int64_t backlog) {
    auto done = store->index_pending(indexing.chunk);
    if (!done.ok() || *done < indexing.chunk) return 0;
    return std::max<int64_t>(backlog - *done, 1);
  }

  void run() {
    int64_t backlog = 0;  // estimate of the messages not yet indexed; 0 when the store indexes as it inserts
    if (store && store->index_lag()) {
      auto n = store->index_backlog();
      backlog = n.ok() ? *n : 1;
    }
    auto last_group = std::chrono::steady_clock::now();
    std::vector<Item> batch;
    std::vector<const PreparedMessage*> pointers;
    std::vector<const MessageReports*> report_pointers;
    std::vector<int64_t> inserted_seqs;  // seqs of `pointers`, in order
    std::vector<int64_t> seqs;           // seqs of `batch`, in order (0 for failed items)
    while (true) {
      {
        std::unique_lock<std::mutex> lock(mu);
        const auto ready = [&] { return stopping || !queue.empty(); };
        if (backlog > 0) {
          if (!cv.wait_until(lock, last_group + indexing.quiet, ready)) {
            lock.unlock();
            backlog = index_chunk(backlog);
            continue;
          }
        } else {
          cv.wait(lock, ready);
        }
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
      report_pointers.clear();
      std::size_t report_items = 0;
      for (Item& item : batch) {
        if (item.prepare) run_prepare(item);
        if (item.reports) {
          for (const MessageReports& r : *item.reports) report_pointers.push_back(&r);
          ++report_items;
        } else if (!item.failed) {
          pointers.push_back(&item.message);
        }
      }
      const core::Result<void> result =
          store ? store->insert_prepared(pointers, &inserted_seqs, report_pointers)
                : core::Result<void>(core::make_error("unavailable", "batch writer has no store"));
      seqs.assign(batch.size(), 0);
      if (result.ok()) {
        std::size_t k = 0;
        for (std::size_t i = 0; i < batch.size() && k < inserted_seqs.size(); ++i) {
          if (!batch[i].failed && !batch[i].reports) seqs[i] = inserted_seqs[k++];
        }
      }
      pending.fetch_sub(batch.size() - report_items, std::memory_order_relaxed);
      for (std::size_t i = 0; i < batch.size(); ++i) call(batch[i].done, batch[i].failed, result, seqs[i]);
      batch.clear();  // release message memory before sleeping
      last_group = std::chrono::steady_clock::now();
      if (store && store->index_lag() && result.ok()) {
        backlog += static_cast<int64_t>(inserted_seqs.size());
        if (backlog > indexing.max_lag) backlog = index_chunk(backlog);
      }
    }
  }

  void enqueue(Item item, bool counts) {
    {
      std::lock_guard<std::mutex> lock(mu);
      queue.push_back(std::move(item));
      if (counts) pending.fetch_add(1, std::memory_order_relaxed);
    }
    cv.notify_one();
  }
};

BatchWriter::BatchWriter(std::unique_ptr<Store> store, std::size_t max_batch, WriterIndexing indexing)
    : impl_(std::make_unique<Impl>()) {
  impl_->store = std::move(store);
  impl_->max_batch = std::max<std::size_t>(max_batch, 1);
  indexing.chunk = std::max<int64_t>(indexing.chunk, 1);
  impl_->indexing = indexing;
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
  impl_->enqueue(Impl::Item{std::move(message), std::move(done), std::nullopt, std::nullopt, nullptr}, true);
}

void BatchWriter::submit(NewMessage message, Done done) {
  auto prepared = prepare_message(std::move(message));
  if (prepared.ok()) {
    submit(std::move(prepared).value(), std::move(done));
    return;
  }
  impl_->enqueue(Impl::Item{PreparedMessage{}, std::move(done), prepared.error(), std::nullopt, nullptr}, true);
}

void BatchWriter::submit(Prepare prepare, Done done) {
  impl_->enqueue(Impl::Item{PreparedMessage{}, std::move(done), std::nullopt, std::nullopt, std::move(prepare)},
                 true);
}

void BatchWriter::submit_reports(std::vector<MessageReports> reports, Done done) {
  impl_->enqueue(Impl::Item{PreparedMessage{}, std::move(done), std::nullopt, std::move(reports), nullptr}, false);
}

std::size_t BatchWriter::pending() const { return impl_->pending.load(std::memory_order_relaxed); }

}  // namespace mailjar::store
