// NAME
//   events::Hub and events::Deadlines - see hub.h.
// LOCKING
//   Hub: one mutex guards the subscriber maps and each entry's `running` list. A sink is called with no
//   lock held; the calling thread is recorded in its entry for the duration of the call, so that
//   unsubscribe() can wait (condition variable) until no *other* thread runs it, while a sink that
//   unsubscribes itself (or a sink running further up the same thread's stack) does not wait for itself.
//   Two sinks that unsubscribe each other from two threads at the same time would wait on each other:
//   that is one more reason sinks must not block.
//   Deadlines: one mutex guards the ordered queue and the callback map; the thread sleeps with wait_until
//   on the earliest deadline and calls a due callback after removing it, outside the lock, so cancel()
//   of a callback that has started finds nothing and returns false. A Deadlines must not be destroyed
//   from one of its own callbacks (the destructor joins that thread).
#include "events/hub.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

namespace mailjar::events {

namespace {

// The deadline thread wakes at least this often (ms), so any int64 deadline is safe to wait for.
constexpr int64_t kMaxSleepMs = 3600 * 1000;

struct Entry {
  int64_t inbox_id = 0;
  Hub::Sink sink;
  bool removed = false;
  std::vector<std::thread::id> running;  // one element per call in progress (calls may nest)
};

}  // namespace

struct Hub::Impl {
  mutable std::mutex mu;
  std::condition_variable idle;  // signalled when a removed entry's call ends
  SubscriberId next_id = 1;
  std::map<SubscriberId, std::shared_ptr<Entry>> entries;
  // inbox id (0 = every inbox) -> its subscribers, ascending id, i.e. subscription order.
  std::unordered_map<int64_t, std::set<SubscriberId>> by_inbox;

  // Marks the end of one sink call, also when the sink throws (the exception then propagates out of
  // publish() and later sinks miss this event), so that unsubscribe() never waits for a call that ended.
  struct Running {
    Impl& impl;
    Entry& entry;
    std::thread::id self;
    Running(Impl& i, Entry& e, std::thread::id t) : impl(i), entry(e), self(t) {}
    Running(const Running&) = delete;
    Running& operator=(const Running&) = delete;
    ~Running() {
      Sink doomed;  // destroyed after the lock is released
      std::lock_guard lock(impl.mu);
      entry.running.erase(std::find(entry.running.begin(), entry.running.end(), self));
      if (entry.removed) {
        if (entry.running.empty()) doomed = std::move(entry.sink);
        impl.idle.notify_all();
      }
    }
  };

  // Requires mu. True if a thread other than `self` is running the entry's sink.
  static bool running_elsewhere(const Entry& entry, std::thread::id self) {
    return std::any_of(entry.running.begin(), entry.running.end(),
                       [self](std::thread::id id) { return id != self; });
  }
};

Hub::Hub() : impl_(std::make_unique<Impl>()) {}

Hub::~Hub() = default;

Hub::SubscriberId Hub::subscribe(int64_t inbox_id, Sink sink) {
  auto entry = std::make_shared<Entry>();
  entry->inbox_id = inbox_id;
  entry->sink = std::move(sink);
  std::lock_guard lock(impl_->mu);
  const SubscriberId id = impl_->next_id++;
  impl_->entries.emplace(id, std::move(entry));
  impl_->by_inbox[inbox_id].insert(id);
  return id;
}

void Hub::unsubscribe(SubscriberId id) {
  Sink doomed;  // destroyed after the lock is released: its captures may call back into the hub
  {
    std::unique_lock lock(impl_->mu);
    auto it = impl_->entries.find(id);
    if (it == impl_->entries.end()) return;
    std::shared_ptr<Entry> entry = std::move(it->second);
    impl_->entries.erase(it);
    auto group = impl_->by_inbox.find(entry->inbox_id);
    if (group != impl_->by_inbox.end()) {
      group->second.erase(id);
      if (group->second.empty()) impl_->by_inbox.erase(group);
    }
    entry->removed = true;
    const std::thread::id self = std::this_thread::get_id();
    impl_->idle.wait(lock, [&] { return !Impl::running_elsewhere(*entry, self); });
    // Still running here only when called from inside this sink: the last call to end destroys it.
    if (entry->running.empty()) doomed = std::move(entry->sink);
  }
}

void Hub::publish(const Event& event) {
  std::vector<std::pair<SubscriberId, std::shared_ptr<Entry>>> targets;
  {
    std::lock_guard lock(impl_->mu);
    auto add = [&](int64_t inbox) {
      auto group = impl_->by_inbox.find(inbox);
      if (group == impl_->by_inbox.end()) return;
      for (SubscriberId id : group->second) targets.emplace_back(id, impl_->entries.at(id));
    };
    add(0);
    if (event.inbox_id > 0) add(event.inbox_id);
  }
  // Subscription order across the "every inbox" and the per-inbox groups.
  std::sort(targets.begin(), targets.end(), [](const auto& a, const auto& b) { return a.first < b.first; });

  const std::thread::id self = std::this_thread::get_id();
  for (auto& [id, entry] : targets) {
    {
      std::lock_guard lock(impl_->mu);
      if (entry->removed) continue;  // unsubscribed since the snapshot: never called again
      entry->running.push_back(self);
    }
    const Impl::Running running(*impl_, *entry, self);
    entry->sink(event);
  }
}

std::size_t Hub::subscribers() const {
  std::lock_guard lock(impl_->mu);
  return impl_->entries.size();
}

struct Deadlines::Impl {
  std::mutex mu;
  std::condition_variable wake;
  bool stopping = false;
  TimerId next_id = 1;
  std::set<std::pair<int64_t, TimerId>> queue;  // (deadline, id), earliest first, ties in creation order
  std::unordered_map<TimerId, std::pair<int64_t, std::function<void()>>> callbacks;
  std::thread thread;

  void run() {
    std::unique_lock lock(mu);
    while (!stopping) {
      if (queue.empty()) {
        wake.wait(lock);
        continue;
      }
      const auto [deadline, id] = *queue.begin();
      const int64_t now = now_ms();
      if (deadline > now) {
        // Bounded so that a far-future deadline cannot overflow the clock's nanoseconds.
        const int64_t until = std::min(deadline, now + kMaxSleepMs);
        wake.wait_until(lock, std::chrono::steady_clock::time_point(std::chrono::milliseconds(until)));
        continue;  // woken early, by a new earlier deadline, a cancel or the destructor: look again
      }
      queue.erase(queue.begin());
      auto node = callbacks.extract(id);
      lock.unlock();
      // A throwing callback must not end the thread (every later deadline would be lost).
      try {
        node.mapped().second();
      } catch (...) {
      }
      node = {};  // the callback's captures are released outside the lock too
      lock.lock();
    }
  }
};

Deadlines::Deadlines() : impl_(std::make_unique<Impl>()) {
  impl_->thread = std::thread([impl = impl_.get()] { impl->run(); });
}

Deadlines::~Deadlines() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->wake.notify_all();
  impl_->thread.join();
  // Pending callbacks are destroyed with impl_, never called.
}

Deadlines::TimerId Deadlines::at(int64_t steady_ms, std::function<void()> callback) {
  bool earliest = false;
  TimerId id = 0;
  {
    std::lock_guard lock(impl_->mu);
    id = impl_->next_id++;
    impl_->queue.emplace(steady_ms, id);
    impl_->callbacks.emplace(id, std::make_pair(steady_ms, std::move(callback)));
    earliest = impl_->queue.begin()->second == id;
  }
  if (earliest) impl_->wake.notify_one();
  return id;
}

bool Deadlines::cancel(TimerId id) {
  std::function<void()> doomed;  // released outside the lock
  std::lock_guard lock(impl_->mu);
  auto it = impl_->callbacks.find(id);
  if (it == impl_->callbacks.end()) return false;  // unknown, already started or finished
  impl_->queue.erase({it->second.first, id});
  doomed = std::move(it->second.second);
  impl_->callbacks.erase(it);
  return true;
}

int64_t Deadlines::now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace mailjar::events
