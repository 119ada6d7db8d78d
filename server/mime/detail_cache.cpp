#include "mime/detail_cache.h"

namespace mailjar::mime {

std::size_t DetailCache::size_of(const MessageDetail& d) {
  std::size_t n = sizeof(MessageDetail) + d.return_path.size() + d.text.size() + d.html.size() +
                  d.parse_error.size() + d.list_unsubscribe.header.size() +
                  d.list_unsubscribe.header_post.size();
  for (const auto& [name, value] : d.headers) n += name.size() + value.size() + 64;
  for (const auto* parts : {&d.inline_parts, &d.attachments}) {
    for (const PartInfo& p : *parts) {
      n += sizeof(PartInfo) + p.part_id.size() + p.file_name.size() + p.content_type.size() +
           p.content_id.size() + p.md5.size() + p.sha1.size() + p.sha256.size();
    }
  }
  for (const auto* list : {&d.list_unsubscribe.links, &d.list_unsubscribe.errors}) {
    for (const std::string& s : *list) n += s.size() + 32;
  }
  return n;
}

std::shared_ptr<const MessageDetail> DetailCache::find(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  const auto it = index_.find(key);
  if (it == index_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->detail;
}

void DetailCache::put(const std::string& key, std::shared_ptr<const MessageDetail> detail) {
  if (!detail) return;
  const std::size_t bytes = size_of(*detail) + key.size();
  if (bytes > max_bytes_ / 8) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (const auto it = index_.find(key); it != index_.end()) evict_locked(it->second);
  lru_.push_front(Entry{key, std::move(detail), bytes});
  index_.emplace(key, lru_.begin());
  bytes_ += bytes;
  while (bytes_ > max_bytes_ && !lru_.empty()) evict_locked(std::prev(lru_.end()));
}

void DetailCache::evict_locked(std::list<Entry>::iterator it) {
  bytes_ -= it->bytes;
  index_.erase(it->key);
  lru_.erase(it);
}

std::size_t DetailCache::bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_;
}

std::size_t DetailCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lru_.size();
}

}  // namespace mailjar::mime
