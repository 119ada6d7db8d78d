// events::Hub (routing by inbox, order, unsubscribe while a sink runs, from inside a sink, scale) and
// events::Deadlines (order, cancel before / during / after a call, destructor with pending callbacks).
// Waits are bounded by kGuard so that a bug fails a test instead of hanging it; no duration is asserted.
#include "events/hub.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace mailjar::events {
namespace {

using namespace std::chrono_literals;

constexpr auto kGuard = 10s;  // upper bound on any wait; never reached unless something is broken

Event make_event(int64_t inbox, std::string type) {
  Event event;
  event.inbox_id = inbox;
  event.type = std::move(type);
  event.data_json = "null";
  return event;
}

// Thread-safe list of what sinks received.
class Recorder {
 public:
  void add(std::string entry) {
    std::lock_guard lock(mu_);
    entries_.push_back(std::move(entry));
  }
  std::vector<std::string> entries() const {
    std::lock_guard lock(mu_);
    return entries_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> entries_;
};

TEST(HubTest, RoutesEventsByInbox) {
  struct Case {
    int64_t subscribed_inbox;
    std::vector<std::string> expected;  // types received from the publications below
  };
  const std::vector<Case> cases = {
      {1, {"one-a", "one-b"}},
      {2, {"two"}},
      {0, {"one-a", "two", "three", "one-b", "none"}},
      {4, {}},
  };
  Hub hub;
  std::vector<std::shared_ptr<Recorder>> recorders;
  for (const Case& c : cases) {
    auto recorder = std::make_shared<Recorder>();
    recorders.push_back(recorder);
    hub.subscribe(c.subscribed_inbox, [recorder](const Event& e) { recorder->add(e.type); });
  }
  EXPECT_EQ(hub.subscribers(), cases.size());
  hub.publish(make_event(1, "one-a"));
  hub.publish(make_event(2, "two"));
  hub.publish(make_event(3, "three"));
  hub.publish(make_event(1, "one-b"));
  hub.publish(make_event(0, "none"));  // no particular inbox: only the every-inbox subscribers
  for (std::size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(recorders[i]->entries(), cases[i].expected)
        << "subscriber of inbox " << cases[i].subscribed_inbox;
  }
}

TEST(HubTest, DeliversInPublishOrderAndSubscriptionOrder) {
  Hub hub;
  Recorder recorder;
  hub.subscribe(7, [&](const Event& e) { recorder.add("a:" + e.type); });
  hub.subscribe(0, [&](const Event& e) { recorder.add("b:" + e.type); });
  hub.subscribe(7, [&](const Event& e) { recorder.add("c:" + e.type); });
  Event event = make_event(7, "new");
  event.seq = 42;
  event.message_id = "01ABC";
  event.data_json = R"({"ID":"01ABC"})";
  hub.publish(event);
  hub.publish(make_event(7, "update"));
  EXPECT_EQ(recorder.entries(),
            (std::vector<std::string>{"a:new", "b:new", "c:new", "a:update", "b:update", "c:update"}));

  Event seen;
  hub.subscribe(7, [&](const Event& e) { seen = e; });
  hub.publish(event);
  EXPECT_EQ(seen.inbox_id, 7);
  EXPECT_EQ(seen.type, "new");
  EXPECT_EQ(seen.seq, 42);
  EXPECT_EQ(seen.message_id, "01ABC");
  EXPECT_EQ(seen.data_json, R"({"ID":"01ABC"})");
}

TEST(HubTest, UnsubscribeStopsDeliveryAndReleasesTheSink) {
  Hub hub;
  auto counter = std::make_shared<int>(0);
  const Hub::SubscriberId id = hub.subscribe(1, [counter](const Event&) { ++*counter; });
  hub.publish(make_event(1, "new"));
  EXPECT_EQ(*counter, 1);
  EXPECT_EQ(counter.use_count(), 2);
  hub.unsubscribe(id);
  EXPECT_EQ(counter.use_count(), 1);  // the sink (and what it captured) is gone once unsubscribe returns
  EXPECT_EQ(hub.subscribers(), 0u);
  hub.publish(make_event(1, "new"));
  EXPECT_EQ(*counter, 1);
  hub.unsubscribe(id);      // twice: no effect
  hub.unsubscribe(999999);  // unknown: no effect
  EXPECT_EQ(hub.subscribers(), 0u);
}

TEST(HubTest, UnsubscribeFromAnotherThreadWaitsForTheRunningSink) {
  Hub hub;
  std::promise<void> entered;
  std::promise<void> release;
  std::shared_future<void> release_future = release.get_future().share();
  std::atomic<bool> sink_finished{false};
  std::atomic<int> calls{0};
  const Hub::SubscriberId id = hub.subscribe(1, [&](const Event&) {
    if (calls.fetch_add(1) == 0) {
      entered.set_value();
      release_future.wait_for(kGuard);
    }
    sink_finished.store(true);
  });

  std::thread publisher([&] { hub.publish(make_event(1, "new")); });
  ASSERT_EQ(entered.get_future().wait_for(kGuard), std::future_status::ready);

  std::atomic<bool> returned{false};
  bool finished_at_return = false;
  std::thread unsubscriber([&] {
    hub.unsubscribe(id);
    finished_at_return = sink_finished.load();
    returned.store(true);
  });
  // The entry leaves the maps before unsubscribe starts waiting: from then on it is blocked on the sink.
  const auto give_up = std::chrono::steady_clock::now() + kGuard;
  while (hub.subscribers() != 0 && std::chrono::steady_clock::now() < give_up) std::this_thread::yield();
  EXPECT_EQ(hub.subscribers(), 0u);
  EXPECT_FALSE(returned.load());  // cannot have returned: the sink is still blocked

  release.set_value();
  unsubscriber.join();
  publisher.join();
  EXPECT_TRUE(finished_at_return);
  hub.publish(make_event(1, "new"));
  EXPECT_EQ(calls.load(), 1);
}

TEST(HubTest, SinkMayUnsubscribeItselfAndOthers) {
  Hub hub;
  std::atomic<Hub::SubscriberId> self_id{0};
  std::atomic<Hub::SubscriberId> other_id{0};
  int self_calls = 0;
  int other_calls = 0;
  self_id = hub.subscribe(1, [&](const Event&) {
    ++self_calls;
    hub.unsubscribe(self_id.load());   // from inside the sink: must not deadlock
    hub.unsubscribe(other_id.load());  // a later sink of the same publication: skipped from now on
  });
  other_id = hub.subscribe(1, [&](const Event&) { ++other_calls; });
  hub.publish(make_event(1, "new"));
  hub.publish(make_event(1, "new"));
  EXPECT_EQ(self_calls, 1);
  EXPECT_EQ(other_calls, 0);
  EXPECT_EQ(hub.subscribers(), 0u);
}

TEST(HubTest, SinkMaySubscribeAndPublish) {
  Hub hub;
  Recorder recorder;
  bool subscribed = false;
  hub.subscribe(1, [&](const Event& e) {
    recorder.add("first:" + e.type);
    if (!subscribed) {
      subscribed = true;
      hub.subscribe(1, [&](const Event& inner) { recorder.add("late:" + inner.type); });
      hub.publish(make_event(1, "nested"));
    }
  });
  hub.publish(make_event(1, "outer"));
  // The late subscriber was not in the outer publication's snapshot, but sees the nested one.
  EXPECT_EQ(recorder.entries(), (std::vector<std::string>{"first:outer", "first:nested", "late:nested"}));
}

TEST(HubTest, ThrowingSinkLeavesTheHubUsable) {
  Hub hub;
  int calls = 0;
  const Hub::SubscriberId id = hub.subscribe(1, [&](const Event&) {
    ++calls;
    throw std::runtime_error("sink failure");
  });
  EXPECT_THROW(hub.publish(make_event(1, "new")), std::runtime_error);
  hub.unsubscribe(id);  // returns: the failed call is not counted as running
  hub.publish(make_event(1, "new"));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(hub.subscribers(), 0u);
}

TEST(HubTest, ThousandSubscribers) {
  constexpr int kSubscribers = 1000;
  constexpr int kInboxes = 10;
  Hub hub;
  std::vector<std::atomic<int>> received(kSubscribers);
  std::vector<Hub::SubscriberId> ids;
  for (int i = 0; i < kSubscribers; ++i) {
    // Every tenth subscribes to every inbox, the others to inbox 1..10 in turn.
    const int64_t inbox = i % 10 == 0 ? 0 : 1 + i % kInboxes;
    ids.push_back(hub.subscribe(inbox, [&received, i](const Event&) { received[i].fetch_add(1); }));
  }
  EXPECT_EQ(hub.subscribers(), static_cast<std::size_t>(kSubscribers));
  std::vector<std::thread> publishers;
  for (int inbox = 1; inbox <= kInboxes; ++inbox) {
    publishers.emplace_back([&hub, inbox] { hub.publish(make_event(inbox, "new")); });
  }
  for (auto& t : publishers) t.join();
  for (int i = 0; i < kSubscribers; ++i) {
    EXPECT_EQ(received[i].load(), i % 10 == 0 ? kInboxes : 1) << "subscriber " << i;
  }
  for (Hub::SubscriberId id : ids) hub.unsubscribe(id);
  EXPECT_EQ(hub.subscribers(), 0u);
}

// Collects the order in which Deadlines callbacks ran.
class Fired {
 public:
  std::function<void()> record(int tag) {
    return [this, tag] {
      std::lock_guard lock(mu_);
      tags_.push_back(tag);
      cv_.notify_all();
    };
  }
  // Waits (bounded) until `count` callbacks have run; returns their tags in order.
  std::vector<int> wait_for(std::size_t count) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, kGuard, [&] { return tags_.size() >= count; });
    return tags_;
  }
  std::vector<int> tags() {
    std::lock_guard lock(mu_);
    return tags_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<int> tags_;
};

TEST(DeadlinesTest, FiresInDeadlineOrder) {
  // What callbacks touch is declared before `deadlines`, so that it outlives the deadline thread.
  Fired fired;
  std::promise<void> gate_entered;
  std::promise<void> release;
  std::future<void> release_future = release.get_future();
  Deadlines deadlines;
  // A first callback holds the thread so that all the others are queued before any of them runs.
  const int64_t now = Deadlines::now_ms();
  deadlines.at(now - 1000, [&] {
    gate_entered.set_value();
    release_future.wait_for(kGuard);
  });
  ASSERT_EQ(gate_entered.get_future().wait_for(kGuard), std::future_status::ready);
  const std::vector<std::pair<int64_t, int>> schedule = {
      {now + 40, 4}, {now - 30, 1}, {now + 20, 3}, {now - 10, 2}, {now + 40, 5}, {now + 60, 6},
  };
  for (const auto& [at, tag] : schedule) deadlines.at(at, fired.record(tag));
  release.set_value();
  EXPECT_EQ(fired.wait_for(schedule.size()), (std::vector<int>{1, 2, 3, 4, 5, 6}));
}

TEST(DeadlinesTest, CancelBeforeFiringPreventsTheCall) {
  Fired fired;
  Deadlines deadlines;
  const Deadlines::TimerId far = deadlines.at(Deadlines::now_ms() + 3600 * 1000, fired.record(1));
  deadlines.at(Deadlines::now_ms(), fired.record(2));
  EXPECT_TRUE(deadlines.cancel(far));
  EXPECT_FALSE(deadlines.cancel(far));  // second cancel: nothing left to prevent
  EXPECT_EQ(fired.wait_for(1), std::vector<int>{2});
  EXPECT_FALSE(deadlines.cancel(987654));  // unknown id
}

TEST(DeadlinesTest, CancelAfterOrDuringTheCallReturnsFalse) {
  Fired fired;
  std::promise<void> entered;
  std::promise<void> release;
  std::future<void> release_future = release.get_future();
  Deadlines deadlines;
  const Deadlines::TimerId done = deadlines.at(Deadlines::now_ms(), fired.record(1));
  ASSERT_EQ(fired.wait_for(1), std::vector<int>{1});
  EXPECT_FALSE(deadlines.cancel(done));

  const Deadlines::TimerId running = deadlines.at(Deadlines::now_ms(), [&] {
    entered.set_value();
    release_future.wait_for(kGuard);
  });
  ASSERT_EQ(entered.get_future().wait_for(kGuard), std::future_status::ready);
  EXPECT_FALSE(deadlines.cancel(running));
  release.set_value();
}

TEST(DeadlinesTest, CallbackMayScheduleAndCancel) {
  Fired fired;
  std::atomic<bool> cancelled{false};
  Deadlines deadlines;
  const Deadlines::TimerId victim = deadlines.at(Deadlines::now_ms() + 3600 * 1000, fired.record(99));
  deadlines.at(Deadlines::now_ms(), [&] {
    cancelled = deadlines.cancel(victim);
    deadlines.at(Deadlines::now_ms(), fired.record(2));
  });
  EXPECT_EQ(fired.wait_for(1), std::vector<int>{2});
  EXPECT_TRUE(cancelled.load());
}

TEST(DeadlinesTest, DestructorCallsNoPendingCallback) {
  auto calls = std::make_shared<std::atomic<int>>(0);
  {
    Deadlines deadlines;
    const int64_t now = Deadlines::now_ms();
    for (int64_t offset : {int64_t{3600 * 1000}, int64_t{7200 * 1000}, INT64_MAX - now}) {
      deadlines.at(now + offset, [calls] { calls->fetch_add(1); });
    }
  }
  EXPECT_EQ(calls->load(), 0);
  EXPECT_EQ(calls.use_count(), 1);  // the pending callbacks were destroyed with it
}

}  // namespace
}  // namespace mailjar::events
