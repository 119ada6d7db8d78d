#include "ingest/analysis.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "core/id.h"
#include "mime/detail.h"
#include "store/thread_store.h"

namespace mailjar::ingest {

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kReportBatch = 64;  // messages' reports per writer item (background analysis)

}  // namespace

struct Analysis::Impl : std::enable_shared_from_this<Analysis::Impl> {
  // What writer callbacks use: they may run after the runner is gone (the writer drains later).
  struct Shared {
    std::atomic<uint64_t> analysed{0};
    std::function<void(int64_t, const std::string&, const std::vector<std::string>&)> on_reports;
    void committed(int64_t inbox_id, const std::string& id, const std::vector<std::string>& names,
                   bool last) {
      if (last) analysed.fetch_add(1, std::memory_order_relaxed);
      if (on_reports) on_reports(inbox_id, id, names);
    }
  };

  // One message being analysed. Lives on the runner thread only.
  struct Job {
    int64_t inbox_id = 0;
    std::string id;
    std::string raw;
    core::Envelope envelope;
    int64_t received_ms = 0;
    mime::MessageDetail detail;
    analyzers::DnsAnswers answers;
    analyzers::Context context;
    std::vector<std::optional<analyzers::Report>> reports;  // by analyzer index
    std::vector<bool> stored;                               // submitted to the writer already
    std::vector<std::size_t> pending;                       // network analyzers without a report
    std::vector<dns::Question> outstanding;                 // asked and not answered yet
    int rounds = 0;
    std::size_t asked = 0;
    Clock::time_point deadline;
    std::vector<Done> waiters;  // run_now() callers

    analyzers::Input input() const { return analyzers::Input{detail, raw, envelope, received_ms}; }
  };

  struct Arrival {
    uint64_t key = 0;
    std::vector<dns::Answer> answers;
  };

  struct Request {
    int64_t inbox_id = 0;
    std::string id;
    Done done;
  };

  Impl(AnalysisOptions o, store::BatchWriter& w, std::vector<std::unique_ptr<analyzers::Analyzer>> a)
      : options(std::move(o)), writer(w), analyzers(std::move(a)) {
    for (const auto& analyzer : analyzers) names.emplace_back(analyzer->name());
    shared->on_reports = options.on_reports;
  }

  AnalysisOptions options;
  store::BatchWriter& writer;
  std::vector<std::unique_ptr<analyzers::Analyzer>> analyzers;
  std::vector<std::string> names;
  std::shared_ptr<Shared> shared = std::make_shared<Shared>();
  std::atomic<uint64_t> skipped{0};

  mutable std::mutex mu;
  std::condition_variable cv;
  std::deque<std::pair<int64_t, std::string>> queue;  // guarded by mu: background messages
  std::deque<Request> urgent;                         // guarded by mu: run_now()
  std::deque<Arrival> arrivals;                       // guarded by mu: DNS answers for jobs in flight
  bool stopping = false;                              // guarded by mu
  Clock::time_point last_enqueue;                     // guarded by mu
  std::size_t in_flight = 0;                          // guarded by mu: jobs.size(), for stats()

  // The runner thread's own.
  std::map<uint64_t, std::unique_ptr<Job>> jobs;  // waiting on the DNS, by key
  uint64_t next_key = 1;
  std::vector<store::MessageReports> batch;  // background reports not yet handed to the writer
  struct BatchEntry {
    int64_t inbox_id;
    std::string id;
    std::vector<std::string> names;
    bool last;
  };
  std::vector<BatchEntry> batch_entries;
  std::thread thread;

  // ---- the runner thread ---------------------------------------------------------------------------------

  void run() {
    // The lowest priority for this thread only (Linux: setpriority on a thread ID), so that analysis takes
    // the CPU that ingestion leaves idle. Failure to lower it is harmless.
    (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), 19);
    const auto quiet = std::chrono::milliseconds(options.quiet_ms);
    std::unique_lock<std::mutex> lock(mu);
    while (!stopping) {
      if (!arrivals.empty()) {
        Arrival a = std::move(arrivals.front());
        arrivals.pop_front();
        lock.unlock();
        on_answers(a.key, std::move(a.answers));
        lock.lock();
        continue;
      }
      if (!urgent.empty()) {
        Request r = std::move(urgent.front());
        urgent.pop_front();
        lock.unlock();
        start(r.inbox_id, r.id, std::move(r.done));
        lock.lock();
        continue;
      }
      const Clock::time_point now = Clock::now();
      const Clock::time_point due = earliest_deadline();
      if (due <= now) {
        lock.unlock();
        expire(now);
        lock.lock();
        continue;
      }
      const bool can_start = !queue.empty() && jobs.size() < options.max_in_flight;
      if (can_start && now >= last_enqueue + quiet) {
        auto next = std::move(queue.front());
        queue.pop_front();
        lock.unlock();
        start(next.first, next.second, nullptr);
        if (batch.size() >= kReportBatch) flush();
        lock.lock();
        continue;
      }
      if (!batch.empty()) {  // idle for now: what is done goes to the writer before waiting
        lock.unlock();
        flush();
        lock.lock();
        continue;
      }
      Clock::time_point wake = due;
      if (can_start) wake = std::min(wake, last_enqueue + quiet);
      if (wake == Clock::time_point::max()) {
        cv.wait(lock);
      } else {
        cv.wait_until(lock, wake);
      }
    }
    lock.unlock();
    // Stopping: what is in flight is dropped; callers waiting for it hear so.
    for (auto& [key, job] : jobs) fail(*job, core::make_error("stopped", "the analysis runner stopped"));
    jobs.clear();
  }

  Clock::time_point earliest_deadline() const {
    Clock::time_point due = Clock::time_point::max();
    for (const auto& [key, job] : jobs) due = std::min(due, job->deadline);
    return due;
  }

  void set_in_flight() {
    std::lock_guard<std::mutex> lock(mu);
    in_flight = jobs.size();
  }

  static void fail(Job& job, const core::Error& error) {
    for (Done& done : job.waiters) done(error);
    job.waiters.clear();
  }

  void start(int64_t inbox_id, const std::string& id, Done done) {
    for (auto& [key, job] : jobs) {  // already waiting on the DNS: its answer is this one's too
      if (job->inbox_id == inbox_id && job->id == id) {
        if (done) job->waiters.push_back(std::move(done));
        return;
      }
    }
    auto job = std::make_unique<Job>();
    job->inbox_id = inbox_id;
    job->id = id;
    if (done) job->waiters.push_back(std::move(done));
    if (auto loaded = load(*job); !loaded) {
      fail(*job, loaded.error());
      return;
    } else if (!loaded.value()) {
      for (Done& d : job->waiters) d(Reports());
      return;
    }
    job->detail = mime::parse_detail(job->raw, options.mime);
    job->context.now_ms = core::now_unix_ms();
    job->context.client = analyzers::Client{job->envelope.client_ip, job->envelope.helo,
                                            job->envelope.tls_version, job->envelope.auth_user};
    job->context.dns = &job->answers;
    job->reports.resize(analyzers.size());
    job->stored.assign(analyzers.size(), false);
    const analyzers::Input input = job->input();
    for (std::size_t i = 0; i < analyzers.size(); ++i) {
      if (analyzers[i]->kind() == analyzers::Kind::kNetwork) {
        job->pending.push_back(i);
        continue;
      }
      analyzers::Step step = analyzers::run_step(*analyzers[i], input, job->context);
      job->reports[i] = step.report ? std::move(*step.report) : analyzers::timed_out(*analyzers[i]);
    }
    if (job->pending.empty()) return finish(std::move(job));
    // Queued mail shows its local reports now; the network ones follow when the DNS has answered.
    if (job->waiters.empty() && job->pending.size() < analyzers.size())
      store_background(*job, /*last=*/false);
    job->deadline = Clock::now() + std::chrono::milliseconds(options.budget_ms);
    advance(std::move(job));
  }

  // Reads the message into `job`; false when the inbox has no such message.
  core::Result<bool> load(Job& job) {
    auto st = store::thread_store(options.store);
    if (!st) return st.error();
    store::Store& s = *st.value();
    auto row = s.get_message(job.inbox_id, job.id);
    if (!row) return row.error();
    auto raw = s.get_raw(job.inbox_id, job.id);
    if (!raw) return raw.error();
    auto envelope = s.get_envelope(job.inbox_id, job.id);
    if (!envelope) return envelope.error();
    if (!row.value() || !raw.value() || !envelope.value()) return false;
    job.raw = std::move(*raw.value());
    job.envelope = std::move(*envelope.value());
    job.received_ms = row.value()->received_ms;
    return true;
  }

  // Steps the pending network analyzers with the answers so far; asks their new questions, or ends.
  void advance(std::unique_ptr<Job> job) {
    const analyzers::Input input = job->input();
    std::vector<dns::Question> ask;
    std::vector<std::size_t> still;
    for (std::size_t i : job->pending) {
      analyzers::Step step = analyzers::run_step(*analyzers[i], input, job->context);
      if (step.report) {
        job->reports[i] = std::move(*step.report);
        continue;
      }
      still.push_back(i);
      for (dns::Question& q : step.questions) {
        if (!job->answers.find(q) && std::find(ask.begin(), ask.end(), q) == ask.end())
          ask.push_back(std::move(q));
      }
    }
    job->pending = std::move(still);
    if (job->pending.empty()) return finish(std::move(job));
    const bool spent = ask.empty() || Clock::now() >= job->deadline || job->rounds >= options.max_rounds ||
                       job->asked + ask.size() > options.max_questions;
    if (spent) return final_round(std::move(job));
    job->rounds += 1;
    job->asked += ask.size();
    job->outstanding = ask;
    const uint64_t key = next_key++;
    jobs.emplace(key, std::move(job));
    set_in_flight();
    if (!options.resolver) {
      std::vector<dns::Answer> none;
      for (dns::Question& q : ask)
        none.push_back(dns::Answer{std::move(q), dns::Status::kError, {}, 0, {}, "no resolver"});
      return on_answers(key, std::move(none));
    }
    std::weak_ptr<Impl> weak = weak_from_this();
    options.resolver->resolve(std::move(ask), [weak, key](std::vector<dns::Answer> answers) {
      const auto self = weak.lock();
      if (!self) return;
      {
        std::lock_guard<std::mutex> lock(self->mu);
        if (self->stopping) return;
        self->arrivals.push_back(Arrival{key, std::move(answers)});
      }
      self->cv.notify_one();
    });
  }

  void on_answers(uint64_t key, std::vector<dns::Answer> answers) {
    const auto it = jobs.find(key);
    if (it == jobs.end()) return;  // it ran out of time and was finished without them
    std::unique_ptr<Job> job = std::move(it->second);
    jobs.erase(it);
    set_in_flight();
    for (dns::Answer& a : answers) job->answers.add(std::move(a));
    for (const dns::Question& q : job->outstanding) {  // a resolver that left one out
      if (!job->answers.find(q))
        job->answers.add(dns::Answer{q, dns::Status::kError, {}, 0, {}, "not answered"});
    }
    job->outstanding.clear();
    advance(std::move(job));
  }

  void expire(Clock::time_point now) {
    std::vector<std::unique_ptr<Job>> due;
    for (auto it = jobs.begin(); it != jobs.end();) {
      if (it->second->deadline <= now) {
        due.push_back(std::move(it->second));
        it = jobs.erase(it);
      } else {
        ++it;
      }
    }
    set_in_flight();
    for (auto& job : due) {
      for (const dns::Question& q : job->outstanding) {
        job->answers.add(
            dns::Answer{q, dns::Status::kTimeout, {}, 0, {}, "the analysis time budget was spent"});
      }
      job->outstanding.clear();
      final_round(std::move(job));
    }
  }

  // The last call of each pending analyzer: it must report now.
  void final_round(std::unique_ptr<Job> job) {
    job->context.final_round = true;
    const analyzers::Input input = job->input();
    for (std::size_t i : job->pending) {
      analyzers::Step step = analyzers::run_step(*analyzers[i], input, job->context);
      job->reports[i] = step.report ? std::move(*step.report) : analyzers::timed_out(*analyzers[i]);
    }
    job->pending.clear();
    finish(std::move(job));
  }

  // The reports of `job` not stored yet, as the writer takes them; their analyzers' names in `names`.
  store::MessageReports unstored(Job& job, std::vector<std::string>& names) {
    store::MessageReports out;
    out.inbox_id = job.inbox_id;
    out.message_id = job.id;
    for (std::size_t i = 0; i < job.reports.size(); ++i) {
      if (job.stored[i] || !job.reports[i]) continue;
      job.stored[i] = true;
      out.reports.push_back(stored_report(*job.reports[i], job.context.now_ms));
      names.push_back(names_of(i));
    }
    return out;
  }

  const std::string& names_of(std::size_t i) const { return names[i]; }

  static store::StoredReport stored_report(const analyzers::Report& report, int64_t now_ms) {
    store::StoredReport stored;
    stored.analyzer = report.analyzer;
    stored.verdict = std::string(analyzers::to_string(report.verdict));
    stored.json = analyzers::to_json(report);
    stored.created_ms = now_ms;
    return stored;
  }

  void store_background(Job& job, bool last) {
    std::vector<std::string> reported;
    store::MessageReports reports = unstored(job, reported);
    if (reports.reports.empty()) return;
    batch.push_back(std::move(reports));
    batch_entries.push_back(BatchEntry{job.inbox_id, job.id, std::move(reported), last});
  }

  void finish(std::unique_ptr<Job> job) {
    if (job->waiters.empty()) return store_background(*job, /*last=*/true);
    // Asked for now: its reports go to the writer alone, and the callers hear once they have committed.
    std::vector<store::StoredReport> all;
    for (const auto& report : job->reports) all.push_back(stored_report(*report, job->context.now_ms));
    std::vector<std::string> reported;
    std::vector<store::MessageReports> one;
    one.push_back(unstored(*job, reported));
    writer.submit_reports(
        std::move(one),
        [shared = shared, inbox_id = job->inbox_id, id = job->id, reported = std::move(reported),
         all = std::move(all), waiters = std::move(job->waiters)](const core::Result<int64_t>& r) {
          if (!r) {
            for (const Done& done : waiters) done(r.error());
            return;
          }
          shared->committed(inbox_id, id, reported, /*last=*/true);
          for (const Done& done : waiters) done(Reports(all));
        });
  }

  void flush() {
    if (batch.empty()) return;
    writer.submit_reports(std::move(batch), [shared = shared, entries = std::move(batch_entries)](
                                                const core::Result<int64_t>& r) {
      if (!r) return;
      for (const BatchEntry& e : entries) shared->committed(e.inbox_id, e.id, e.names, e.last);
    });
    batch.clear();
    batch_entries.clear();
  }
};

core::Result<std::unique_ptr<Analysis>> Analysis::create(AnalysisOptions options,
                                                         store::BatchWriter& writer) {
  auto made = analyzers::make_analyzers(options.analyzers);
  if (!made) return made.error();
  return create(std::move(options), writer, std::move(made).value());
}

std::unique_ptr<Analysis> Analysis::create(AnalysisOptions options, store::BatchWriter& writer,
                                           std::vector<std::unique_ptr<analyzers::Analyzer>> analyzers) {
  auto impl = std::make_shared<Impl>(std::move(options), writer, std::move(analyzers));
  if (!impl->analyzers.empty()) impl->thread = std::thread([impl = impl.get()] { impl->run(); });
  return std::unique_ptr<Analysis>(new Analysis(std::move(impl)));
}

Analysis::Analysis(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Analysis::~Analysis() {
  std::vector<Impl::Request> waiting;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stopping = true;
    impl_->queue.clear();
    for (Impl::Request& r : impl_->urgent) waiting.push_back(std::move(r));
    impl_->urgent.clear();
    impl_->arrivals.clear();
  }
  impl_->cv.notify_one();
  if (impl_->thread.joinable()) impl_->thread.join();
  for (Impl::Request& r : waiting) {
    if (r.done) r.done(core::make_error("stopped", "the analysis runner stopped"));
  }
}

const std::vector<std::string>& Analysis::names() const { return impl_->names; }

void Analysis::enqueue(int64_t inbox_id, std::string id) {
  Impl& s = *impl_;
  if (!s.thread.joinable() || s.options.queue_limit == 0) return;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    if (s.stopping) return;
    if (s.queue.size() >= s.options.queue_limit) {
      s.queue.pop_front();
      s.skipped.fetch_add(1, std::memory_order_relaxed);
    }
    s.queue.emplace_back(inbox_id, std::move(id));
    s.last_enqueue = Clock::now();
  }
  s.cv.notify_one();
}

core::Result<void> Analysis::catch_up() {
  Impl& s = *impl_;
  if (!s.thread.joinable() || s.options.queue_limit == 0) return {};
  auto st = store::thread_store(s.options.store);
  if (!st) return st.error();
  auto found = st.value()->unanalysed(static_cast<int64_t>(s.options.queue_limit));
  if (!found) return found.error();
  for (auto& [inbox_id, id] : found.value()) enqueue(inbox_id, std::move(id));
  return {};
}

void Analysis::run_now(int64_t inbox_id, std::string id, Done done) {
  Impl& s = *impl_;
  if (!s.thread.joinable()) {
    done(core::make_error("unavailable", "no analyzers are configured"));
    return;
  }
  {
    std::lock_guard<std::mutex> lock(s.mu);
    if (!s.stopping) {
      s.urgent.push_back(Impl::Request{inbox_id, std::move(id), std::move(done)});
      done = nullptr;
    }
  }
  if (done) {
    done(core::make_error("stopped", "the analysis runner stopped"));
    return;
  }
  s.cv.notify_one();
}

Analysis::Stats Analysis::stats() const {
  Stats out;
  out.analysed = impl_->shared->analysed.load(std::memory_order_relaxed);
  out.skipped = impl_->skipped.load(std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(impl_->mu);
  out.queued = impl_->queue.size();
  out.in_flight = impl_->in_flight;
  return out;
}

}  // namespace mailjar::ingest
