// NAME
//   ingest::Analysis - runs the configured analyzers on stored messages and stores their reports.
// CONTRACT
//   Two ways in:
//   - enqueue(): after a message's commit. Returns at once (it may be called on the writer's thread); one
//     background thread, at the lowest CPU priority (nice 19), analyses queued messages in order, but only
//     once no message has been queued for quiet_ms: a burst of mail is stored at full speed and analysed
//     when it ends, while mail that arrives now and then (a CI run) is analysed about quiet_ms after its
//     commit. At most queue_limit messages wait; beyond that the OLDEST waiting message is dropped
//     (counted in stats().skipped), so that the newest are analysed first; a dropped one is analysed
//     when someone asks (run_now()). catch_up() queues what a previous process stored but never analysed.
//   - run_now(): on the calling thread (a worker), for a message now; returns once its reports have
//     committed. Serves POST /api/v1/message/{ID}/analysis.
//   Each message is read back from the store (raw bytes and envelope, through the calling thread's
//   thread_store connection), parsed with mime::parse_detail and given to every analyzer in order;
//   reports are written through the BatchWriter with the next group commit (one writer, no lock
//   contention; the background thread hands over up to 64 messages' reports at a time) and replace
//   earlier reports of the same analyzers. After they commit, on_reports is
//   called (on the writer's thread: it must not block). An analyzer's failure is a report with
//   verdict "error", never an ingest failure. Thread-safe. The destructor stops the background thread
//   and drops what is still queued (it can be analysed on demand later).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "analyzers/analyzer.h"
#include "core/result.h"
#include "mime/mime.h"
#include "store/store.h"

namespace mailjar::ingest {

struct AnalysisOptions {
  store::StoreOptions store;            // where threads open their connections (thread_store)
  mime::MimeLimits mime;
  std::vector<std::string> analyzers;   // names (analyzers::known_analyzers()); empty: none run
  std::size_t queue_limit = 10000;      // messages waiting for background analysis; 0: no background runs
  int quiet_ms = 50;                    // background analysis waits until no message arrived for this long
  // After a message's reports have committed: its inbox, ID and the analyzers that reported.
  std::function<void(int64_t inbox_id, const std::string& id, const std::vector<std::string>& analyzers)>
      on_reports;
};

class Analysis {
 public:
  // "invalid" for an unknown analyzer name.
  static core::Result<std::unique_ptr<Analysis>> create(AnalysisOptions options, store::BatchWriter& writer);
  ~Analysis();
  Analysis(const Analysis&) = delete;
  Analysis& operator=(const Analysis&) = delete;

  // The configured analyzers' names, in the order they run.
  const std::vector<std::string>& names() const { return names_; }

  void enqueue(int64_t inbox_id, std::string id);

  // Queues the newest messages that have no report at all (up to queue_limit, newest first), e.g. those
  // stored but not yet analysed when the server last stopped. Blocking (one query): call it on a worker.
  core::Result<void> catch_up();

  // Analyses the message now and returns its reports as stored (every configured analyzer's, in run
  // order); nullopt when the inbox has no such message. Errors: the store's ("io", ...).
  core::Result<std::optional<std::vector<store::StoredReport>>> run_now(int64_t inbox_id, const std::string& id);

  struct Stats {
    uint64_t analysed = 0;  // messages whose reports committed
    uint64_t skipped = 0;   // not queued: the queue was full
    std::size_t queued = 0;
  };
  Stats stats() const;

 private:
  Analysis(AnalysisOptions options, store::BatchWriter& writer,
           std::vector<std::unique_ptr<analyzers::Analyzer>> analyzers);
  // Reads and analyses one message; nullopt when it is gone.
  core::Result<std::optional<store::MessageReports>> analyse(int64_t inbox_id, const std::string& id);
  void run();

  AnalysisOptions options_;
  store::BatchWriter& writer_;
  std::vector<std::unique_ptr<analyzers::Analyzer>> analyzers_;
  std::vector<std::string> names_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<int64_t, std::string>> queue_;  // guarded by mu_
  bool stopping_ = false;                              // guarded by mu_
  // What writer callbacks use: they may run after this object is gone (the writer drains later).
  struct Shared {
    std::atomic<uint64_t> analysed{0};
    std::vector<std::string> names;
    std::function<void(int64_t, const std::string&, const std::vector<std::string>&)> on_reports;
    void committed(int64_t inbox_id, const std::string& id);
  };
  std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();
  std::atomic<uint64_t> skipped_{0};
  std::chrono::steady_clock::time_point last_enqueue_;  // guarded by mu_
  std::thread thread_;
};

}  // namespace mailjar::ingest
