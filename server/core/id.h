// Time-ordered unique message IDs: 26-character ULIDs (48-bit milliseconds + 80 random bits,
// Crockford base32). Lexicographic order is creation order; within one millisecond the generator
// increments the random part so IDs from one generator are strictly increasing.
// Thread-safe.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>

namespace mailjar::core {

class IdGenerator {
 public:
  IdGenerator();
  // Returns a new ID for a message received at `unix_ms`.
  std::string next(int64_t unix_ms);

 private:
  std::mutex mu_;
  int64_t last_ms_ = -1;
  uint64_t hi_ = 0;  // top 16 bits of the 80-bit random part
  uint64_t lo_ = 0;  // low 64 bits
  uint64_t seed_;
};

// The smallest ID of millisecond `unix_ms` (its time part, then zeros): every ID generated for an earlier
// millisecond sorts before it, every ID for this or a later one at or after it. unix_ms is clamped to
// 0 .. 2^48-1.
std::string id_floor(int64_t unix_ms);

// Milliseconds since the Unix epoch from the system clock.
int64_t now_unix_ms();

}  // namespace mailjar::core
