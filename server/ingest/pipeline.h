// NAME
//   ingest::Pipeline - what happens to a message the SMTP session has received: parse its summary, pick
//   its inbox, commit it through the single group-commit writer, and report the outcome.
// CONTRACT
//   submit() and lookup_password() return at once; the work never runs on the caller's network thread and
//   `done` is called exactly once, from a worker or writer thread. submit() reports success only after the
//   transaction holding the message has committed. Thread-safe.
//   The summary is parsed BEFORE the commit so that a stored message is never visible without it; a
//   message GMime cannot parse is still stored (raw, flagged). Parsing and encoding the stored columns
//   (store::prepare_message: JSON, zstd) run on the writer thread itself for messages up to
//   PipelineOptions::writer_prepare_max bytes, else on the worker pool. For small messages the two
//   thread hand-offs (to a worker, then to the writer) cost more than the parse, so skipping them is the
//   faster path; a large message is parsed on a worker so that it does not hold back the group commit
//   of the small ones. Work queued in the writer does not use the Pipeline object, which may be gone
//   before the writer has drained.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/result.h"
#include "core/types.h"
#include "core/worker_pool.h"
#include "mime/mime.h"
#include "store/store.h"

namespace mailjar::ingest {

struct PipelineOptions {
  store::StoreOptions store;        // where the preparing threads open their read connections
  mime::MimeLimits mime;
  std::size_t max_pending = 20000;  // messages parsed but not yet committed; beyond it: "busy"
  // Messages up to this many bytes are parsed and encoded on the writer thread (see CONTRACT).
  std::size_t writer_prepare_max = 64 * 1024;
  // Called once per stored message, after its commit and before its `done`, on the writer's thread:
  // must not block. The row is what the list API would read back (read = false).
  std::function<void(const store::MessageRow&)> on_stored;
  // Asked when a message is prepared: false skips on_stored for it (and the copy of its summary), e.g.
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
  struct Shared;  // what preparing a message needs; shared with the work queued in the writer
  struct Staged;  // what a message's commit callback needs, filled in when it is prepared

  PipelineOptions options_;
  core::WorkerPool& workers_;
  store::BatchWriter& writer_;
  std::shared_ptr<Shared> shared_;
};

}  // namespace mailjar::ingest
