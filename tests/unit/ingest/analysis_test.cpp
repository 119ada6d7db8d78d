// ingest::Analysis with a real SQLite store and BatchWriter: background analysis of queued messages
// (newest kept when the queue overflows), reports stored and announced once committed, run_now for a
// message now, a message that is gone, and unknown analyzer names.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/id.h"
#include "ingest/analysis.h"
#include "mime/mime.h"
#include "store/store.h"
#include "tests/unit/testing.h"

namespace mailjar::ingest {
namespace {

namespace fs = std::filesystem;

// A store with `n` messages (no Date, no Message-ID: the headers analyzer reports both) in the default inbox.
struct Fixture {
  testing::TempDir dir{"mailjar-analysis"};
  store::StoreOptions options;
  std::unique_ptr<store::BatchWriter> writer;
  int64_t inbox = 0;
  std::vector<std::string> ids;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> reported;  // on_reports, in order

  explicit Fixture(int n) {
    mime::init();
    options.data_dir = dir.str();
    auto st = store::Store::open(options);
    EXPECT_TRUE(st.ok());
    inbox = st.value()->default_inbox()->id;
    core::IdGenerator gen;
    std::vector<store::NewMessage> messages;
    for (int i = 0; i < n; ++i) {
      store::NewMessage m;
      m.id = gen.next(1000 + i);
      m.inbox_id = inbox;
      m.received_ms = 1000 + i;
      m.envelope.mail_from = "a@example.com";
      m.raw = "From: a@example.com\r\nTo: b@example.org\r\nSubject: m" + std::to_string(i) + "\r\n\r\nbody\r\n";
      m.summary = mime::parse_summary(m.raw);
      ids.push_back(m.id);
      messages.push_back(std::move(m));
    }
    std::vector<const store::NewMessage*> batch;
    for (const auto& m : messages) batch.push_back(&m);
    EXPECT_TRUE(st.value()->insert_messages(batch).ok());
    writer = std::make_unique<store::BatchWriter>(std::move(st).value());
  }

  AnalysisOptions analysis_options(std::size_t queue_limit, int quiet_ms) {
    AnalysisOptions o;
    o.store = options;
    o.analyzers = {"headers"};
    o.queue_limit = queue_limit;
    o.quiet_ms = quiet_ms;
    o.on_reports = [this](int64_t, const std::string& id, const std::vector<std::string>& names) {
      EXPECT_EQ(names, std::vector<std::string>{"headers"});
      std::lock_guard<std::mutex> lock(mu);
      reported.push_back(id);
      cv.notify_all();
    };
    return o;
  }

  std::vector<std::string> wait_reported(std::size_t n) {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, std::chrono::seconds(20), [&] { return reported.size() >= n; });
    return reported;
  }

  std::set<std::string> finding_verdicts(const std::string& id) {
    auto st = store::Store::open(options);
    auto got = st.value()->get_reports(inbox, id);
    std::set<std::string> out;
    if (got.ok() && got.value()) {
      for (const auto& r : *got.value()) out.insert(r.analyzer + ":" + r.verdict);
    }
    return out;
  }
};

// run_now(), waited for (with a deadline).
core::Result<Analysis::Reports> run_now(Analysis& a, int64_t inbox, const std::string& id) {
  auto promise = std::make_shared<std::promise<core::Result<Analysis::Reports>>>();
  auto future = promise->get_future();
  a.run_now(inbox, id, [promise](core::Result<Analysis::Reports> r) { promise->set_value(std::move(r)); });
  if (future.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
    return core::make_error("timeout", "run_now did not call back");
  }
  return future.get();
}

TEST(Analysis, QueuedMessagesAreAnalysedStoredAndAnnounced) {
  Fixture f(3);
  auto a = Analysis::create(f.analysis_options(100, 1), *f.writer);
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a.value()->names(), std::vector<std::string>{"headers"});
  for (const auto& id : f.ids) a.value()->enqueue(f.inbox, id);
  EXPECT_EQ(f.wait_reported(3), f.ids) << "analysed in arrival order";
  for (const auto& id : f.ids) EXPECT_EQ(f.finding_verdicts(id), std::set<std::string>{"headers:fail"}) << id;
  const auto stats = a.value()->stats();
  EXPECT_EQ(stats.analysed, 3u);
  EXPECT_EQ(stats.skipped, 0u);
  EXPECT_EQ(stats.queued, 0u);
}

TEST(Analysis, AFullQueueDropsTheOldestAndKeepsTheNewest) {
  Fixture f(5);
  // A long quiet period: every enqueue below happens before the thread may start.
  auto a = Analysis::create(f.analysis_options(2, 300), *f.writer);
  ASSERT_TRUE(a.ok());
  for (const auto& id : f.ids) a.value()->enqueue(f.inbox, id);
  const auto reported = f.wait_reported(2);
  EXPECT_EQ(reported, (std::vector<std::string>{f.ids[3], f.ids[4]}));
  EXPECT_EQ(a.value()->stats().skipped, 3u);
  EXPECT_TRUE(f.finding_verdicts(f.ids[0]).empty()) << "dropped: not analysed in the background";

  // A dropped message is analysed on request, and its reports come back once stored.
  auto now = run_now(*a.value(), f.inbox, f.ids[0]);
  ASSERT_TRUE(now.ok()) << now.error().message;
  ASSERT_TRUE(now.value().has_value());
  ASSERT_EQ(now.value()->size(), 1u);
  EXPECT_EQ((*now.value())[0].analyzer, "headers");
  EXPECT_NE((*now.value())[0].json.find("date.missing"), std::string::npos);
  EXPECT_EQ(f.finding_verdicts(f.ids[0]), std::set<std::string>{"headers:fail"});
  EXPECT_EQ(f.wait_reported(3).back(), f.ids[0]);
}

TEST(Analysis, RunNowOnAMissingMessageAndQueueZero) {
  Fixture f(1);
  auto a = Analysis::create(f.analysis_options(0, 1), *f.writer);
  ASSERT_TRUE(a.ok());
  a.value()->enqueue(f.inbox, f.ids[0]);  // queue 0: no background analysis at all
  auto missing = run_now(*a.value(), f.inbox, "01NOSUCHMESSAGE00000000000");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing.value().has_value());
  auto other_inbox = run_now(*a.value(), f.inbox + 1000, f.ids[0]);
  ASSERT_TRUE(other_inbox.ok());
  EXPECT_FALSE(other_inbox.value().has_value());
  EXPECT_TRUE(f.finding_verdicts(f.ids[0]).empty());
  EXPECT_EQ(a.value()->stats().analysed, 0u);
}

// Messages stored without reports (the queue is in memory and was lost with the last process) are found
// and analysed newest first; once they have reports, catching up finds nothing more.
TEST(Analysis, CatchUpQueuesMessagesWithoutReportsNewestFirst) {
  Fixture f(4);
  {
    auto st = store::Store::open(f.options);
    store::MessageReports done{f.inbox, f.ids[1], {{"headers", "pass", "{}", 1}}};
    ASSERT_TRUE(st.value()->put_reports({&done}).ok());
  }
  auto a = Analysis::create(f.analysis_options(100, 1), *f.writer);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(a.value()->catch_up().ok());
  EXPECT_EQ(f.wait_reported(3), (std::vector<std::string>{f.ids[3], f.ids[2], f.ids[0]}));
  for (const auto& id : f.ids) EXPECT_FALSE(f.finding_verdicts(id).empty()) << id;
  EXPECT_EQ(f.finding_verdicts(f.ids[1]), std::set<std::string>{"headers:pass"}) << "already had a report";
  ASSERT_TRUE(a.value()->catch_up().ok());
  EXPECT_EQ(a.value()->stats().queued, 0u);
  EXPECT_EQ(a.value()->stats().analysed, 3u);
}

TEST(Analysis, UnknownAnalyzerIsRefused) {
  Fixture f(0);
  AnalysisOptions o = f.analysis_options(10, 1);
  o.analyzers = {"headers", "nope"};
  auto a = Analysis::create(o, *f.writer);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.error().code, "invalid");
  EXPECT_NE(a.error().message.find("nope"), std::string::npos);
}

}  // namespace
}  // namespace mailjar::ingest
