// Shared by the analysis runner's tests: a fake resolver answering a fixed zone after a delay on its own
// thread, a network analyzer that needs three rounds of DNS, and run_now() waited for with a deadline.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "analyzers/analyzer.h"
#include "dns/dns.h"
#include "ingest/analysis.h"

namespace mailjar::testing {

using analyzers::Context;
using analyzers::Input;
using analyzers::Report;
using analyzers::Step;

// Answers from a fixed zone on its own thread, `delay` after each request; optionally holds every
// request until `hold_for` requests are outstanding (to show that several messages wait at once), or
// never answers at all (`silent`).
class FakeResolver final : public dns::Resolver {
 public:
  // The zone is filled before the first resolve() (which the runner's thread reads after a lock).
  explicit FakeResolver(std::chrono::milliseconds delay, std::size_t hold_for = 0, bool silent = false)
      : delay_(delay), hold_for_(hold_for), silent_(silent), thread_([this] { run(); }) {}
  ~FakeResolver() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  std::map<dns::Question, std::vector<std::string>> zone;

  void resolve(std::vector<dns::Question> questions,
               std::function<void(std::vector<dns::Answer>)> done) override {
    std::lock_guard<std::mutex> lock(mu_);
    requests_ += 1;
    questions_ += questions.size();
    pending_.push_back({std::chrono::steady_clock::now() + delay_, std::move(questions), std::move(done)});
    max_outstanding_ = std::max(max_outstanding_, pending_.size());
    cv_.notify_all();
  }

  std::size_t requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  std::size_t questions() const {
    std::lock_guard<std::mutex> lock(mu_);
    return questions_;
  }
  std::size_t max_outstanding() const {
    std::lock_guard<std::mutex> lock(mu_);
    return max_outstanding_;
  }

 private:
  struct Pending {
    std::chrono::steady_clock::time_point due;
    std::vector<dns::Question> questions;
    std::function<void(std::vector<dns::Answer>)> done;
  };

  void run() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      const bool held = pending_.size() < hold_for_ && !released_;
      if (pending_.empty() || held || silent_) {
        cv_.wait_for(lock, std::chrono::milliseconds(20));
        continue;
      }
      released_ = true;  // once enough were outstanding together, answer everything
      if (std::chrono::steady_clock::now() < pending_.front().due) {
        cv_.wait_until(lock, pending_.front().due);
        continue;
      }
      Pending p = std::move(pending_.front());
      pending_.pop_front();
      lock.unlock();
      std::vector<dns::Answer> answers;
      for (const dns::Question& q : p.questions) {
        const auto it = zone.find(q);
        if (it == zone.end()) {
          answers.push_back(dns::Answer{q, dns::Status::kNxDomain, {}, 0, dns::Source::kNetwork, ""});
        } else {
          answers.push_back(dns::Answer{q, dns::Status::kOk, it->second, 300, dns::Source::kNetwork, ""});
        }
      }
      p.done(std::move(answers));
      lock.lock();
    }
  }

  const std::chrono::milliseconds delay_;
  const std::size_t hold_for_;
  const bool silent_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> pending_;
  std::size_t requests_ = 0;
  std::size_t questions_ = 0;
  std::size_t max_outstanding_ = 0;
  bool released_ = false;
  bool stop_ = false;
  std::thread thread_;
};

// Needs three rounds: TXT "start.test" names the next name, whose TXT names an A record to look up.
// Reports pass with the chain it followed, or neutral "incomplete" when the answers did not all come.
class ThreeRounds final : public analyzers::Analyzer {
 public:
  std::string_view name() const override { return "threerounds"; }
  std::string_view title() const override { return "Three rounds"; }
  analyzers::Kind kind() const override { return analyzers::Kind::kNetwork; }
  Step step(const Input&, const Context& context) const override {
    std::string chain;
    dns::Question q = dns::question("start.test", dns::Type::kTXT);
    for (int round = 0; round < 3; ++round) {
      const dns::Answer* a = context.dns ? context.dns->find(q) : nullptr;
      if (!a) {
        if (context.final_round) return Step::done(incomplete(chain));
        return Step::ask({q});
      }
      if (a->status != dns::Status::kOk || a->records.empty()) return Step::done(incomplete(chain));
      chain += (chain.empty() ? "" : " -> ") + a->records.front();
      q = dns::question(a->records.front(), round == 0 ? dns::Type::kTXT : dns::Type::kA);
    }
    Report r;
    r.verdict = analyzers::Verdict::kPass;
    r.summary = chain;
    return Step::done(r);
  }

 private:
  static Report incomplete(const std::string& chain) {
    Report r;
    r.verdict = analyzers::Verdict::kNeutral;
    r.summary = "incomplete: " + chain;
    return r;
  }
};

// The zone ThreeRounds follows: start.test -> middle.test -> end.test -> 192.0.2.10.
inline void fill_zone(FakeResolver& r) {
  r.zone[dns::question("start.test", dns::Type::kTXT)] = {"middle.test"};
  r.zone[dns::question("middle.test", dns::Type::kTXT)] = {"end.test"};
  r.zone[dns::question("end.test", dns::Type::kA)] = {"192.0.2.10"};
}

inline core::Result<ingest::Analysis::Reports> run_now(ingest::Analysis& a, int64_t inbox,
                                                       const std::string& id) {
  auto promise = std::make_shared<std::promise<core::Result<ingest::Analysis::Reports>>>();
  auto future = promise->get_future();
  a.run_now(inbox, id,
            [promise](core::Result<ingest::Analysis::Reports> r) { promise->set_value(std::move(r)); });
  if (future.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
    return core::make_error("timeout", "run_now did not call back");
  }
  return future.get();
}

}  // namespace mailjar::testing
