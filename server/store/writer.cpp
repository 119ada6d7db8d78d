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
//   With sync_wal, a committed batch's callbacks go to the sync thread instead, which fdatasyncs the WAL
//   (one call for every batch that is waiting) before calling them; see store.h.
#include <fcntl.h>
#include <unistd.h>

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
    std::optional<std::vector<MessageReports>> reports;  // set: a reports item (no message), done(0)
  };

  std::unique_ptr<Store> store;
  std::size_t max_batch;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Item> queue;               // guarded by mu
  bool stopping = false;                // guarded by mu
  std::atomic<std::size_t> pending{0};  // queued + being committed
  std::thread thread;

  // The sync thread (sync_wal): committed batches whose callbacks wait for the WAL fsync.
  struct Committed {
    std::vector<Done> dones;
    std::vector<std::optional<core::Error>> failed;
    std::vector<int64_t> seqs;  // per callback: the message's seq (0 when it was not inserted)
    core::Result<void> result;
  };
  bool sync_wal = false;
  std::string wal_path;
  int wal_fd = -1;
  std::mutex sync_mu;
  std::condition_variable sync_cv;
  std::deque<Committed> to_sync;        // guarded by sync_mu
  bool sync_stopping = false;           // guarded by sync_mu
  std::thread sync_thread;

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

  // Makes everything written to the WAL so far durable. The WAL file keeps its inode while the writer's
  // connection is open (SQLite resets it in place after checkpoints), so one descriptor serves.
  core::Result<void> sync_wal_file() {
    if (wal_fd < 0) wal_fd = ::open(wal_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (wal_fd < 0) return core::make_error("io", "cannot open " + wal_path + " to fsync it");
    if (::fdatasync(wal_fd) != 0) return core::make_error("io", "fdatasync of " + wal_path + " failed");
    return {};
  }

  void sync_run() {
    std::deque<Committed> work;
    while (true) {
      {
        std::unique_lock<std::mutex> lock(sync_mu);
        sync_cv.wait(lock, [&] { return sync_stopping || !to_sync.empty(); });
        if (to_sync.empty()) return;  // stopping and drained
        work.swap(to_sync);
      }
      bool any_ok = false;
      for (const Committed& c : work) any_ok = any_ok || c.result.ok();
      core::Result<void> synced = any_ok ? sync_wal_file() : core::Result<void>();
      for (Committed& c : work) {
        const core::Result<void>& outcome = (c.result.ok() && !synced.ok()) ? synced : c.result;
        for (std::size_t i = 0; i < c.dones.size(); ++i) call(c.dones[i], c.failed[i], outcome, c.seqs[i]);
      }
      work.clear();
    }
  }

  void run() {
    std::vector<Item> batch;
    std::vector<const PreparedMessage*> pointers;
    std::vector<const MessageReports*> report_pointers;
    std::vector<int64_t> inserted_seqs;  // seqs of `pointers`, in order
    std::vector<int64_t> seqs;           // seqs of `batch`, in order (0 for failed items)
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
      report_pointers.clear();
      std::size_t report_items = 0;
      for (const Item& item : batch) {
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
      if (sync_wal) {
        Committed c;
        c.dones.reserve(batch.size());
        c.failed.reserve(batch.size());
        for (Item& item : batch) {
          c.dones.push_back(std::move(item.done));
          c.failed.push_back(std::move(item.failed));
        }
        c.seqs = seqs;
        c.result = result;
        {
          std::lock_guard<std::mutex> lock(sync_mu);
          to_sync.push_back(std::move(c));
        }
        sync_cv.notify_one();
      } else {
        for (std::size_t i = 0; i < batch.size(); ++i) call(batch[i].done, batch[i].failed, result, seqs[i]);
      }
      batch.clear();  // release message memory before sleeping
    }
  }
};

BatchWriter::BatchWriter(std::unique_ptr<Store> store, std::size_t max_batch, bool sync_wal)
    : impl_(std::make_unique<Impl>()) {
  impl_->store = std::move(store);
  impl_->max_batch = std::max<std::size_t>(max_batch, 1);
  impl_->sync_wal = sync_wal && impl_->store;
  if (impl_->sync_wal) {
    impl_->wal_path = impl_->store->wal_path();
    impl_->sync_thread = std::thread([impl = impl_.get()] { impl->sync_run(); });
  }
  impl_->thread = std::thread([impl = impl_.get()] { impl->run(); });
}

BatchWriter::~BatchWriter() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_one();
  impl_->thread.join();
  if (impl_->sync_thread.joinable()) {
    {
      std::lock_guard<std::mutex> lock(impl_->sync_mu);
      impl_->sync_stopping = true;
    }
    impl_->sync_cv.notify_one();
    impl_->sync_thread.join();
  }
  if (impl_->wal_fd >= 0) ::close(impl_->wal_fd);
}

void BatchWriter::submit(PreparedMessage message, Done done) {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->queue.push_back(Impl::Item{std::move(message), std::move(done), std::nullopt, std::nullopt});
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
    impl_->queue.push_back(Impl::Item{PreparedMessage{}, std::move(done), prepared.error(), std::nullopt});
    impl_->pending.fetch_add(1, std::memory_order_relaxed);
  }
  impl_->cv.notify_one();
}

void BatchWriter::submit_reports(std::vector<MessageReports> reports, Done done) {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    Impl::Item item{PreparedMessage{}, std::move(done), std::nullopt, std::move(reports)};
    impl_->queue.push_back(std::move(item));
  }
  impl_->cv.notify_one();
}

std::size_t BatchWriter::pending() const { return impl_->pending.load(std::memory_order_relaxed); }

}  // namespace mailjar::store
