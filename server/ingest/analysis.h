// NAME
//   ingest::Analysis - the analysis runner: runs the configured analyzers on stored messages, answers the
//   network analyzers' DNS questions through a dns::Resolver without blocking, and stores their reports.
// CONTRACT
//   Two ways in, both returning at once:
//   - enqueue(): after a message's commit (it may be called on the writer's thread). The runner's thread,
//     at the lowest CPU priority (nice 19), takes queued messages in order, but only once no message has
//     been queued for quiet_ms: a burst of mail is stored at full speed and analysed when it ends. At most
//     queue_limit messages wait; beyond that the OLDEST waiting message is dropped (stats().skipped), and
//     is analysed when someone asks (run_now()). catch_up() queues what a previous process stored but
//     never analysed.
//   - run_now(): a message now, ahead of the queue (POST /api/v1/message/{ID}/analysis); `done` is called
//     once its reports have committed, or with nullopt when the inbox has no such message, or an error.
//     No caller's thread waits for it.
//   Per message: it is read back from the store (through the runner thread's own connection), parsed
//   (mime::parse_detail), and its local analyzers run; then its network analyzers are stepped: their
//   questions go to the resolver together, the answers come back on any thread and are handed to the
//   runner's thread, which steps them again, round after round, until they report or the message's
//   budget (budget_ms, max_rounds, max_questions) is spent, when they get a final round with the
//   outstanding questions answered as timeouts. Up to max_in_flight messages wait on the DNS at once; the
//   runner goes on with others meanwhile. Local reports of a queued message are stored at once, network
//   ones when they are done (each commit announced through on_reports). Reports are written through the
//   BatchWriter with the next group commit and replace earlier reports of the same analyzers. The runner
//   never shares a queue or a thread with ingestion: nothing it waits for can delay a 250.
//   Thread-safe. The destructor stops the thread; queued messages are dropped (analysed on demand later)
//   and run_now() callers still waiting get an error ("stopped"). Resolver answers that arrive after
//   that are ignored.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "analyzers/analyzer.h"
#include "core/result.h"
#include "dns/dns.h"
#include "mime/mime.h"
#include "store/store.h"

namespace mailjar::ingest {

struct AnalysisOptions {
  store::StoreOptions store;  // where the runner opens its connection
  mime::MimeLimits mime;
  std::vector<std::string> analyzers;  // names (analyzers::registry()); empty: none run
  std::size_t queue_limit = 10000;     // messages waiting for background analysis; 0: no background runs
  int quiet_ms = 50;                   // background analysis waits until no message arrived for this long
  // Answers the network analyzers' questions. Null: every question is answered kError ("no resolver").
  dns::Resolver* resolver = nullptr;
  int budget_ms = 10000;            // a message's network analysis, from its first question
  int max_rounds = 10;              // DNS rounds per message
  std::size_t max_questions = 100;  // DNS questions per message (the lookup budget)
  std::size_t max_in_flight = 32;   // messages waiting on the DNS at once
  // After a message's reports have committed: its inbox, ID and the analyzers that reported then.
  std::function<void(int64_t inbox_id, const std::string& id, const std::vector<std::string>& analyzers)>
      on_reports;
};

class Analysis {
 public:
  using Reports = std::optional<std::vector<store::StoredReport>>;
  using Done = std::function<void(core::Result<Reports>)>;

  // The analyzers named in options (registry order). "invalid" for an unknown name.
  static core::Result<std::unique_ptr<Analysis>> create(AnalysisOptions options, store::BatchWriter& writer);
  // The given analyzers, in this order (tests: an analyzer of their own); options.analyzers is ignored.
  static std::unique_ptr<Analysis> create(AnalysisOptions options, store::BatchWriter& writer,
                                          std::vector<std::unique_ptr<analyzers::Analyzer>> analyzers);
  ~Analysis();
  Analysis(const Analysis&) = delete;
  Analysis& operator=(const Analysis&) = delete;

  // The configured analyzers' names, in the order they run.
  const std::vector<std::string>& names() const;

  void enqueue(int64_t inbox_id, std::string id);

  // Queues the newest messages that have no report at all (up to queue_limit, newest first), e.g. those
  // stored but not yet analysed when the server last stopped. Blocking (one query): call it on a worker.
  core::Result<void> catch_up();

  // Analyses the message now; see the CONTRACT. `done` runs on the writer's or the runner's thread and
  // must not block. The reports are every configured analyzer's, in run order.
  void run_now(int64_t inbox_id, std::string id, Done done);

  struct Stats {
    uint64_t analysed = 0;  // messages whose reports committed
    uint64_t skipped = 0;   // not queued: the queue was full
    std::size_t queued = 0;
    std::size_t in_flight = 0;  // messages waiting on the DNS now
  };
  Stats stats() const;

 private:
  struct Impl;
  explicit Analysis(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace mailjar::ingest
