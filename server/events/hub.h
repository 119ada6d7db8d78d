// NAME
//   events::Hub - in-process publish/subscribe of inbox events (Mailpit's websocket events: new, update,
//   delete, truncate, prune, stats) to websocket clients and to waiters of the wait API.
// CONTRACT
//   Thread-safe. publish() calls every matching sink synchronously on the publishing thread, outside
//   the hub's lock, so a sink may subscribe/unsubscribe (even itself); sinks must not block (post work
//   elsewhere). After unsubscribe(id) returns, that sink is not running and will not be called again
//   (unless called from inside that very sink, where the current call finishes). Cost while idle: one
//   map entry per subscriber, nothing else.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace mailjar::events {

struct Event {
  int64_t inbox_id = 0;   // the inbox concerned
  std::string type;       // "new", "update", "delete", "truncate", "prune", "stats", "analysis"
  std::string data_json;  // the event's Data, serialised JSON ("null" when none)
  int64_t seq = 0;        // for "new": the message's storage sequence number (wait API); else 0
  std::string message_id; // for "new": the message's public ID; else ""
};

class Hub {
 public:
  using SubscriberId = uint64_t;
  using Sink = std::function<void(const Event&)>;

  Hub();
  ~Hub();
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  // Receives events of one inbox (inbox_id > 0) or of every inbox (inbox_id == 0).
  SubscriberId subscribe(int64_t inbox_id, Sink sink);
  void unsubscribe(SubscriberId id);
  void publish(const Event& event);
  std::size_t subscribers() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A single thread that calls callbacks at their deadlines (for wait API timeouts), so that idle waiters
// need no thread and no socket timer each. Thread-safe. cancel() returns true if the callback had not
// started and now never will. The destructor calls no pending callback.
class Deadlines {
 public:
  using TimerId = uint64_t;
  Deadlines();
  ~Deadlines();
  TimerId at(int64_t steady_ms, std::function<void()> callback);  // steady clock, milliseconds
  bool cancel(TimerId id);
  static int64_t now_ms();  // the steady clock used by at()

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mailjar::events
