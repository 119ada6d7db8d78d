// Returning memory to the operating system after large transient buffers. The server keeps freed heap
// memory by default (main sets M_TRIM_THRESHOLD high: trimming after every group commit cost ~5% of the
// writer), so after a burst of large messages malloc's arenas hold free memory for good: 40 unfinished
// 24 MB messages left the process at 1.18 GB while idle. A periodic call to trim_free_heap() gives it back.
#pragma once

#include <cstddef>

namespace mailjar::core {

// When more than `threshold` bytes lie free in malloc's arenas, returns them to the OS (malloc_trim) and
// returns how many were free; else does nothing and returns 0. Thread-safe; costs a walk of the free
// lists, so call it at most every second or so.
std::size_t trim_free_heap(std::size_t threshold);

}  // namespace mailjar::core
