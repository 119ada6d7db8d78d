#include "ingest/analysis.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <future>

#include "core/id.h"
#include "mime/detail.h"
#include "store/thread_store.h"

namespace mailjar::ingest {

namespace {
constexpr std::size_t kReportBatch = 64;  // messages' reports per writer item
}  // namespace

core::Result<std::unique_ptr<Analysis>> Analysis::create(AnalysisOptions options, store::BatchWriter& writer) {
  auto made = analyzers::make_analyzers(options.analyzers);
  if (!made) return made.error();
  return std::unique_ptr<Analysis>(new Analysis(std::move(options), writer, std::move(made).value()));
}

Analysis::Analysis(AnalysisOptions options, store::BatchWriter& writer,
                   std::vector<std::unique_ptr<analyzers::Analyzer>> analyzers)
    : options_(std::move(options)), writer_(writer), analyzers_(std::move(analyzers)) {
  for (const auto& a : analyzers_) names_.emplace_back(a->name());
  shared_->names = names_;
  shared_->on_reports = options_.on_reports;
  if (!analyzers_.empty() && options_.queue_limit > 0) thread_ = std::thread([this] { run(); });
}

Analysis::~Analysis() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    queue_.clear();
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void Analysis::enqueue(int64_t inbox_id, std::string id) {
  if (!thread_.joinable()) return;
  bool was_empty = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    was_empty = queue_.empty();
    if (queue_.size() >= options_.queue_limit) {
      queue_.pop_front();
      skipped_.fetch_add(1, std::memory_order_relaxed);
    }
    queue_.emplace_back(inbox_id, std::move(id));
    last_enqueue_ = std::chrono::steady_clock::now();
  }
  // Only the first message wakes the thread; while it waits for quiet it re-checks at its deadline.
  if (was_empty) cv_.notify_one();
}

core::Result<void> Analysis::catch_up() {
  if (!thread_.joinable()) return {};
  auto st = store::thread_store(options_.store);
  if (!st) return st.error();
  auto found = st.value()->unanalysed(static_cast<int64_t>(options_.queue_limit));
  if (!found) return found.error();
  for (auto& [inbox_id, id] : found.value()) enqueue(inbox_id, std::move(id));
  return {};
}

Analysis::Stats Analysis::stats() const {
  Stats s;
  s.analysed = shared_->analysed.load(std::memory_order_relaxed);
  s.skipped = skipped_.load(std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(mu_);
  s.queued = queue_.size();
  return s;
}

core::Result<std::optional<store::MessageReports>> Analysis::analyse(int64_t inbox_id, const std::string& id) {
  auto st = store::thread_store(options_.store);
  if (!st) return st.error();
  store::Store& s = *st.value();
  auto row = s.get_message(inbox_id, id);
  if (!row) return row.error();
  auto raw = s.get_raw(inbox_id, id);
  if (!raw) return raw.error();
  auto envelope = s.get_envelope(inbox_id, id);
  if (!envelope) return envelope.error();
  if (!row.value() || !raw.value() || !envelope.value()) return std::optional<store::MessageReports>();

  const mime::MessageDetail detail = mime::parse_detail(*raw.value(), options_.mime);
  const analyzers::Input input{detail, *raw.value(), *envelope.value(), row.value()->received_ms};
  analyzers::Context context;
  context.now_ms = core::now_unix_ms();
  store::MessageReports out;
  out.inbox_id = inbox_id;
  out.message_id = id;
  for (const analyzers::Report& report : analyzers::run_all(analyzers_, input, context)) {
    store::StoredReport stored;
    stored.analyzer = report.analyzer;
    stored.verdict = std::string(analyzers::to_string(report.verdict));
    stored.json = analyzers::to_json(report);
    stored.created_ms = context.now_ms;
    out.reports.push_back(std::move(stored));
  }
  return std::optional<store::MessageReports>(std::move(out));
}

core::Result<std::optional<std::vector<store::StoredReport>>> Analysis::run_now(int64_t inbox_id,
                                                                               const std::string& id) {
  using Out = std::optional<std::vector<store::StoredReport>>;
  auto analysed = analyse(inbox_id, id);
  if (!analysed) return analysed.error();
  if (!analysed.value()) return Out();
  store::MessageReports reports = std::move(*analysed.value());
  std::vector<store::StoredReport> copy = reports.reports;
  auto committed = std::make_shared<std::promise<core::Result<int64_t>>>();
  auto outcome = committed->get_future();
  std::vector<store::MessageReports> one;
  one.push_back(std::move(reports));
  writer_.submit_reports(std::move(one), [committed](const core::Result<int64_t>& r) { committed->set_value(r); });
  const core::Result<int64_t> r = outcome.get();
  if (!r) return r.error();
  shared_->committed(inbox_id, id);
  return Out(std::move(copy));
}

void Analysis::Shared::committed(int64_t inbox_id, const std::string& id) {
  analysed.fetch_add(1, std::memory_order_relaxed);
  if (on_reports) on_reports(inbox_id, id, names);
}

void Analysis::run() {
  // The lowest priority for this thread only (Linux: setpriority on a thread ID), so that analysis takes
  // the CPU that ingestion leaves idle. Failure to lower it is harmless.
  (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), 19);
  // Reports go to the writer in batches (one item, one transaction's worth), not one commit per message.
  std::vector<store::MessageReports> batch;
  std::vector<std::pair<int64_t, std::string>> batch_ids;
  const auto flush = [&] {
    if (batch.empty()) return;
    writer_.submit_reports(std::move(batch), [shared = shared_, ids = std::move(batch_ids)](const core::Result<int64_t>& r) {
      if (!r) return;
      for (const auto& [inbox_id, id] : ids) shared->committed(inbox_id, id);
    });
    batch.clear();
    batch_ids.clear();
  };
  const auto quiet = std::chrono::milliseconds(options_.quiet_ms);
  while (true) {
    std::pair<int64_t, std::string> next;
    {
      std::unique_lock<std::mutex> lock(mu_);
      const bool quiet_now = std::chrono::steady_clock::now() >= last_enqueue_ + quiet;
      if (!batch.empty() && (stopping_ || queue_.empty() || !quiet_now)) {
        lock.unlock();
        flush();
        continue;
      }
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      // Wait for a quiet moment: each new arrival moves it (enqueue does not notify a waiting thread
      // that is already awake here; it re-checks at the deadline).
      while (!stopping_ && std::chrono::steady_clock::now() < last_enqueue_ + quiet) {
        cv_.wait_until(lock, last_enqueue_ + quiet);
      }
      if (stopping_) return;  // the batch is empty here
      if (queue_.empty()) continue;
      next = std::move(queue_.front());
      queue_.pop_front();
    }
    auto analysed = analyse(next.first, next.second);
    if (!analysed || !analysed.value()) continue;  // a store error, or the message is gone: nothing to report
    batch.push_back(std::move(*analysed.value()));
    batch_ids.push_back(std::move(next));
    if (batch.size() >= kReportBatch) flush();
  }
}

}  // namespace mailjar::ingest
