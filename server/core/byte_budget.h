// NAME
//   core::ByteBudget - a server-wide count of bytes held for one purpose (message content received over
//   SMTP and not yet stored), with a limit: reservations beyond it are refused, so that the memory all
//   sessions hold together stays bounded whatever the clients do.
// CONTRACT
//   Thread-safe and lock-free; try_reserve() never lets used() exceed limit(). A limit of 0 refuses
//   every reservation.
#pragma once

#include <atomic>
#include <cstddef>

namespace mailjar::core {

class ByteBudget {
 public:
  explicit ByteBudget(std::size_t limit) : limit_(limit) {}
  ByteBudget(const ByteBudget&) = delete;
  ByteBudget& operator=(const ByteBudget&) = delete;

  // Takes `bytes` of the budget; false (and nothing taken) when that would exceed the limit.
  bool try_reserve(std::size_t bytes) {
    std::size_t used = used_.load(std::memory_order_relaxed);
    do {
      if (used > limit_ || bytes > limit_ - used) return false;
    } while (!used_.compare_exchange_weak(used, used + bytes, std::memory_order_relaxed));
    return true;
  }

  // Takes `bytes` whatever the limit (to count memory already taken); try_reserve() refuses until it is
  // given back.
  void add(std::size_t bytes) { used_.fetch_add(bytes, std::memory_order_relaxed); }

  // Gives back bytes taken by try_reserve() or add().
  void release(std::size_t bytes) { used_.fetch_sub(bytes, std::memory_order_relaxed); }

  std::size_t used() const { return used_.load(std::memory_order_relaxed); }
  std::size_t limit() const { return limit_; }

 private:
  const std::size_t limit_;
  std::atomic<std::size_t> used_{0};
};

}  // namespace mailjar::core
