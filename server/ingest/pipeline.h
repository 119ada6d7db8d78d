// NAME
//   ingest::Pipeline - what happens to a message the SMTP session has received: parse its summary, pick
//   its inbox, commit it through the single group-commit writer, and report the outcome.
// CONTRACT
//   submit() and lookup_password() return at once; the work runs on the worker pool (never on the caller's
//   network thread) and `done` is called exactly once, from a worker or writer thread. submit() reports
//   success only after the transaction holding the message has committed. Thread-safe.
//   The summary is parsed BEFORE the commit so that a stored message is never visible without it; a
//   message GMime cannot parse is still stored (raw, flagged). Parsing and encoding the stored columns
//   (store::prepare_message: JSON, zstd) both run on the worker, so the single writer only commits.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "core/id.h"
#include "core/result.h"
#include "core/types.h"
#include "core/worker_pool.h"
#include "mime/mime.h"
#include "store/store.h"

namespace mailjar::ingest {

struct PipelineOptions {
  store::StoreOptions store;        // where worker threads open their read connections
  mime::MimeLimits mime;
  std::size_t max_pending = 20000;  // messages parsed but not yet committed; beyond it: "busy"
  // Called once per stored message, after its commit and before its `done`, on the writer's (or sync)
  // thread: must not block. The row is what the list API would read back (read = false).
  std::function<void(const store::MessageRow&)> on_stored;
  // Asked when a message is submitted: false skips on_stored for it (and the copy of its summary), e.g.
  // while nobody listens for events. Unset: always true.
  std::function<bool()> stored_wanted;
  // Called once per stored message after its commit (with on_stored's thread rules), whatever
  // stored_wanted says: e.g. to queue its analysis. Must not block.
  std::function<void(int64_t inbox_id, const std::string& id)> after_commit;
};

class Pipeline {
 public:
  Pipeline(PipelineOptions options, core::WorkerPool& workers, store::BatchWriter& writer);

  // Stores a message; done(id) once committed, or done(error) ("busy", "io", ...).
  void submit(core::Envelope envelope, std::string raw, std::function<void(core::Result<std::string>)> done);

  // The SMTP password of an inbox's username, or nullopt.
  void lookup_password(std::string username, std::function<void(std::optional<std::string>)> done);

 private:
  // The inbox a message goes to: the one whose SMTP username authenticated, else the default inbox.
  core::Result<int64_t> resolve_inbox(const std::string& auth_user);

  PipelineOptions options_;
  core::WorkerPool& workers_;
  store::BatchWriter& writer_;
  core::IdGenerator ids_;
  std::mutex mu_;
  std::unordered_map<std::string, int64_t> inbox_by_user_;  // cache; inboxes are never renamed
  int64_t default_inbox_ = 0;
};

}  // namespace mailjar::ingest
