#include "store/thread_store.h"

#include <map>
#include <memory>

namespace mailjar::store {

core::Result<Store*> thread_store(const StoreOptions& options) {
  thread_local std::map<std::string, std::unique_ptr<Store>> stores;
  auto it = stores.find(options.data_dir);
  if (it != stores.end()) return it->second.get();
  auto opened = Store::open(options);
  if (!opened.ok()) return opened.error();
  Store* s = opened.value().get();
  stores.emplace(options.data_dir, std::move(opened.value()));
  return s;
}

}  // namespace mailjar::store
