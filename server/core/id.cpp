#include "core/id.h"

#include <algorithm>
#include <chrono>
#include <random>

namespace mailjar::core {
namespace {
constexpr char kCrockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

uint64_t splitmix(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
}  // namespace

IdGenerator::IdGenerator() {
  std::random_device rd;
  seed_ = (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

std::string IdGenerator::next(int64_t unix_ms) {
  uint64_t ms, hi, lo;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (unix_ms <= last_ms_) {
      // Same (or earlier: clock stepped back) millisecond: keep order by incrementing.
      if (++lo_ == 0) hi_ = (hi_ + 1) & 0xffff;
    } else {
      last_ms_ = unix_ms;
      hi_ = splitmix(seed_) & 0x7fff;  // top bit clear leaves room to increment without overflow
      lo_ = splitmix(seed_);
    }
    ms = static_cast<uint64_t>(last_ms_);
    hi = hi_;
    lo = lo_;
  }
  // 128 bits: 48 ms | 16 hi | 64 lo, written as 26 base32 digits (the top 2 bits are zero).
  std::string out(26, '0');
  unsigned __int128 v = (static_cast<unsigned __int128>((ms << 16) | hi) << 64) | lo;
  for (int i = 25; i >= 0; --i) {
    out[i] = kCrockford[static_cast<unsigned>(v & 31)];
    v >>= 5;
  }
  return out;
}

int64_t now_unix_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string id_floor(int64_t unix_ms) {
  uint64_t t = static_cast<uint64_t>(std::clamp<int64_t>(unix_ms, 0, (int64_t{1} << 48) - 1));
  std::string out(26, '0');
  for (int i = 9; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = kCrockford[t & 31];
    t >>= 5;
  }
  return out;
}

}  // namespace mailjar::core
