// NAME
//   mime::DetailCache - parsed messages (MessageDetail) kept for the API's views, so that opening a message
//   (its detail, headers, HTML and text views, one after another) parses it once, not once per view.
// CONTRACT
//   Thread-safe. Bounded by bytes (an estimate of each detail's strings): the least recently used entries
//   go first, and a detail larger than an eighth of the bound is never kept. Stored messages never change,
//   so an entry never goes stale; a deleted message's entry only ages out (callers check that a message
//   exists before they look here, and keys carry the inbox, so the cache never widens what a request sees).
#pragma once

#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

#include "mime/detail.h"

namespace mailjar::mime {

class DetailCache {
 public:
  explicit DetailCache(std::size_t max_bytes) : max_bytes_(max_bytes) {}

  // The detail kept under `key`, or nullptr.
  std::shared_ptr<const MessageDetail> find(const std::string& key);
  // Keeps `detail` under `key` (replacing an older one), unless it is too large for the bound.
  void put(const std::string& key, std::shared_ptr<const MessageDetail> detail);

  std::size_t bytes() const;  // held now (estimate)
  std::size_t size() const;   // entries held now

  // The bytes a detail is counted as.
  static std::size_t size_of(const MessageDetail& detail);

 private:
  struct Entry {
    std::string key;
    std::shared_ptr<const MessageDetail> detail;
    std::size_t bytes = 0;
  };
  void evict_locked(std::list<Entry>::iterator it);  // by value: the map entry holding it goes first

  const std::size_t max_bytes_;
  mutable std::mutex mu_;
  std::list<Entry> lru_;  // most recently used first
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
  std::size_t bytes_ = 0;
};

}  // namespace mailjar::mime
