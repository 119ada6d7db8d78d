#include "core/heap.h"

#include <malloc.h>

namespace mailjar::core {

std::size_t trim_free_heap(std::size_t threshold) {
  const struct mallinfo2 info = mallinfo2();
  if (info.fordblks <= threshold) return 0;
  malloc_trim(0);
  return info.fordblks;
}

}  // namespace mailjar::core
