// Process-wide counters shown by GET /api/v1/info (Mailpit's RuntimeStats). Plain atomics: any thread
// increments, readers see a recent value. Counts since the process started.
#pragma once

#include <atomic>
#include <cstdint>

namespace mailjar::core {

struct RuntimeStats {
  std::atomic<int64_t> smtp_accepted{0};       // messages stored (SMTP and POST /api/v1/send)
  std::atomic<int64_t> smtp_accepted_size{0};  // their raw bytes
  std::atomic<int64_t> smtp_rejected{0};       // messages that could not be stored (storage errors, overload)
  std::atomic<int64_t> messages_deleted{0};    // deleted through the API or by retention
};

}  // namespace mailjar::core
