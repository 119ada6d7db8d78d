// A Store per thread, opened on first use: worker threads that read (HTTP handlers, inbox lookups) each
// get their own SQLite connection, as Store requires. The Store lives until the thread exits.
#pragma once

#include "core/result.h"
#include "store/store.h"

namespace mailjar::store {

// This thread's Store for `options.data_dir` (opened on the first call; later calls with another
// data_dir open another one). The pointer stays valid for the thread's lifetime.
core::Result<Store*> thread_store(const StoreOptions& options);

}  // namespace mailjar::store
