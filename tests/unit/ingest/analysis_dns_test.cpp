// ingest::Analysis with network analyzers: a test analyzer that needs three rounds of DNS, answered by a
// fake resolver on its own thread after a delay; the runner's budget (time, rounds, questions), several
// messages waiting on the DNS at once, local reports first, and POST-style run_now without any caller
// thread waiting.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "analyzers/analyzer.h"
#include "core/id.h"
#include "ingest/analysis.h"
#include "mime/mime.h"
#include "store/store.h"
#include "tests/unit/ingest/analysis_testing.h"
#include "tests/unit/testing.h"

namespace mailjar::ingest {
namespace {

using analyzers::Context;
using analyzers::Input;
using analyzers::Report;
using analyzers::Step;
using testing::FakeResolver;
using testing::fill_zone;
using testing::run_now;
using testing::ThreeRounds;

// A local analyzer that always passes.
class AlwaysPass final : public analyzers::LocalAnalyzer {
 public:
  std::string_view name() const override { return "always"; }
  std::string_view title() const override { return "Always"; }
  Report analyze(const Input&, const Context&) const override {
    Report r;
    r.verdict = analyzers::Verdict::kPass;
    r.summary = "ok";
    return r;
  }
};

struct Fixture {
  testing::TempDir dir{"mailjar-analysis-dns"};
  store::StoreOptions options;
  std::unique_ptr<store::BatchWriter> writer;
  int64_t inbox = 0;
  std::vector<std::string> ids;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<std::string, std::vector<std::string>>> reported;  // on_reports, in order

  explicit Fixture(int n) {
    mime::init();
    options.data_dir = dir.str();
    auto st = store::Store::open(options);
    EXPECT_TRUE(st.ok());
    inbox = st.value()->default_inbox()->id;
    core::IdGenerator gen;
    std::vector<store::NewMessage> messages(n);
    std::vector<const store::NewMessage*> batch;
    for (int i = 0; i < n; ++i) {
      store::NewMessage& m = messages[i];
      m.id = gen.next(1000 + i);
      m.inbox_id = inbox;
      m.received_ms = 1000 + i;
      m.envelope.client_ip = "192.0.2.1";
      m.raw = "From: a@example.com\r\nSubject: m" + std::to_string(i) + "\r\n\r\nbody\r\n";
      m.summary = mime::parse_summary(m.raw);
      ids.push_back(m.id);
      batch.push_back(&m);
    }
    EXPECT_TRUE(st.value()->insert_messages(batch).ok());
    writer = std::make_unique<store::BatchWriter>(std::move(st).value());
  }

  AnalysisOptions analysis_options(dns::Resolver* resolver) {
    AnalysisOptions o;
    o.store = options;
    o.quiet_ms = 1;
    o.resolver = resolver;
    o.on_reports = [this](int64_t, const std::string& id, const std::vector<std::string>& names) {
      std::lock_guard<std::mutex> lock(mu);
      reported.emplace_back(id, names);
      cv.notify_all();
    };
    return o;
  }

  void wait_reported(std::size_t n) {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(20), [&] { return reported.size() >= n; }))
        << reported.size() << " of " << n;
  }

  // The stored report of `analyzer` on message `id`, parsed.
  nlohmann::json report(const std::string& id, const std::string& analyzer) {
    auto st = store::Store::open(options);
    auto got = st.value()->get_reports(inbox, id);
    if (!got.ok() || !got.value()) return nullptr;
    for (const auto& r : *got.value()) {
      if (r.analyzer == analyzer) return nlohmann::json::parse(r.json);
    }
    return nullptr;
  }
};

std::vector<std::unique_ptr<analyzers::Analyzer>> analyzers_of(bool with_local) {
  std::vector<std::unique_ptr<analyzers::Analyzer>> out;
  if (with_local) out.push_back(std::make_unique<AlwaysPass>());
  out.push_back(std::make_unique<ThreeRounds>());
  return out;
}

TEST(AnalysisDns, ThreeRoundsOfDnsAnsweredAfterADelay) {
  Fixture f(1);
  FakeResolver resolver(std::chrono::milliseconds(30));
  fill_zone(resolver);
  auto a = Analysis::create(f.analysis_options(&resolver), *f.writer, analyzers_of(true));
  a->enqueue(f.inbox, f.ids[0]);
  f.wait_reported(2);
  // The local report was stored (and announced) first, the network one after its three rounds.
  EXPECT_EQ(f.reported[0].second, std::vector<std::string>{"always"});
  EXPECT_EQ(f.reported[1].second, std::vector<std::string>{"threerounds"});
  EXPECT_EQ(resolver.requests(), 3u);
  const nlohmann::json r = f.report(f.ids[0], "threerounds");
  EXPECT_EQ(r["Verdict"], "pass");
  EXPECT_EQ(r["Summary"], "middle.test -> end.test -> 192.0.2.10");
  EXPECT_EQ(f.report(f.ids[0], "always")["Verdict"], "pass");
  EXPECT_EQ(a->stats().analysed, 1u);
  EXPECT_EQ(a->stats().in_flight, 0u);
}

TEST(AnalysisDns, RunNowAnswersWithEveryReportOnceStored) {
  Fixture f(1);
  FakeResolver resolver(std::chrono::milliseconds(10));
  fill_zone(resolver);
  AnalysisOptions o = f.analysis_options(&resolver);
  o.queue_limit = 0;  // no background analysis: only what is asked for
  auto a = Analysis::create(o, *f.writer, analyzers_of(true));
  auto got = run_now(*a, f.inbox, f.ids[0]);
  ASSERT_TRUE(got.ok()) << got.error().message;
  ASSERT_TRUE(got.value().has_value());
  ASSERT_EQ(got.value()->size(), 2u);
  EXPECT_EQ((*got.value())[0].analyzer, "always");
  EXPECT_EQ((*got.value())[1].analyzer, "threerounds");
  EXPECT_EQ((*got.value())[1].verdict, "pass");
  EXPECT_EQ(f.report(f.ids[0], "threerounds")["Verdict"], "pass");  // stored before the answer
  auto missing = run_now(*a, f.inbox, "01NOSUCHMESSAGE00000000000");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing.value().has_value());
}

TEST(AnalysisDns, ASilentResolverEndsAtTheBudgetWithAFinalRound) {
  Fixture f(1);
  FakeResolver resolver(std::chrono::milliseconds(0), 0, /*silent=*/true);
  AnalysisOptions o = f.analysis_options(&resolver);
  o.budget_ms = 200;
  auto a = Analysis::create(o, *f.writer, analyzers_of(false));
  auto got = run_now(*a, f.inbox, f.ids[0]);
  ASSERT_TRUE(got.ok()) << got.error().message;
  ASSERT_TRUE(got.value().has_value());
  const nlohmann::json r = nlohmann::json::parse((*got.value())[0].json);
  EXPECT_EQ(r["Verdict"], "neutral");
  EXPECT_EQ(r["Summary"], "incomplete: ");  // its question was answered as a timeout
}

TEST(AnalysisDns, TheLookupBudgetLimitsRoundsAndQuestions) {
  Fixture f(1);
  FakeResolver resolver(std::chrono::milliseconds(0));
  fill_zone(resolver);
  AnalysisOptions o = f.analysis_options(&resolver);
  o.max_rounds = 2;  // the third round is never asked: its analyzer reports with what it has
  auto a = Analysis::create(o, *f.writer, analyzers_of(false));
  auto got = run_now(*a, f.inbox, f.ids[0]);
  ASSERT_TRUE(got.ok() && got.value().has_value());
  EXPECT_EQ(nlohmann::json::parse((*got.value())[0].json)["Summary"], "incomplete: middle.test -> end.test");
  EXPECT_EQ(resolver.requests(), 2u);

  FakeResolver second(std::chrono::milliseconds(0));
  fill_zone(second);
  AnalysisOptions q = f.analysis_options(&second);
  q.max_questions = 1;
  auto b = Analysis::create(q, *f.writer, analyzers_of(false));
  auto limited = run_now(*b, f.inbox, f.ids[0]);
  ASSERT_TRUE(limited.ok() && limited.value().has_value());
  EXPECT_EQ(nlohmann::json::parse((*limited.value())[0].json)["Summary"], "incomplete: middle.test");
  EXPECT_EQ(second.questions(), 1u);
}

TEST(AnalysisDns, SeveralMessagesWaitOnTheDnsAtOnce) {
  Fixture f(6);
  FakeResolver resolver(std::chrono::milliseconds(0), /*hold_for=*/6);  // no answer until six wait together
  fill_zone(resolver);
  auto a = Analysis::create(f.analysis_options(&resolver), *f.writer, analyzers_of(false));
  for (const auto& id : f.ids) a->enqueue(f.inbox, id);
  f.wait_reported(6);
  EXPECT_GE(resolver.max_outstanding(), 6u);
  for (const auto& id : f.ids) EXPECT_EQ(f.report(id, "threerounds")["Verdict"], "pass") << id;
}

TEST(AnalysisDns, WithoutAResolverEveryQuestionIsAnError) {
  Fixture f(1);
  auto a = Analysis::create(f.analysis_options(nullptr), *f.writer, analyzers_of(false));
  auto got = run_now(*a, f.inbox, f.ids[0]);
  ASSERT_TRUE(got.ok() && got.value().has_value());
  EXPECT_EQ(nlohmann::json::parse((*got.value())[0].json)["Summary"], "incomplete: ");
}

}  // namespace
}  // namespace mailjar::ingest
