#include "ingest/pipeline.h"

#include "store/thread_store.h"

#include <memory>

namespace mailjar::ingest {

Pipeline::Pipeline(PipelineOptions options, core::WorkerPool& workers, store::BatchWriter& writer)
    : options_(std::move(options)), workers_(workers), writer_(writer) {}

core::Result<int64_t> Pipeline::resolve_inbox(const std::string& auth_user) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auth_user.empty() && default_inbox_ != 0) return default_inbox_;
    if (!auth_user.empty()) {
      auto it = inbox_by_user_.find(auth_user);
      if (it != inbox_by_user_.end()) return it->second;
    }
  }
  auto st = store::thread_store(options_.store);
  if (!st.ok()) return st.error();
  store::Store& s = *st.value();
  if (!auth_user.empty()) {
    auto found = s.find_inbox_by_username(auth_user);
    if (!found.ok()) return found.error();
    if (found.value()) {
      std::lock_guard<std::mutex> lock(mu_);
      inbox_by_user_[auth_user] = found.value()->id;
      return found.value()->id;
    }
  }
  auto def = s.default_inbox();
  if (!def.ok()) return def.error();
  std::lock_guard<std::mutex> lock(mu_);
  default_inbox_ = def->id;
  return default_inbox_;
}

void Pipeline::submit(core::Envelope envelope, std::string raw,
                      std::function<void(core::Result<std::string>)> done) {
  if (writer_.pending() + workers_.queued() >= options_.max_pending) {
    done(core::make_error("busy", "too many messages waiting to be stored"));
    return;
  }
  int64_t received = core::now_unix_ms();
  workers_.post([this, received, envelope = std::move(envelope), raw = std::move(raw),
                 done = std::move(done)]() mutable {
    auto inbox = resolve_inbox(envelope.auth_user);
    if (!inbox.ok()) {
      done(inbox.error());
      return;
    }
    store::NewMessage m;
    m.summary = mime::parse_summary(raw, options_.mime);
    m.id = ids_.next(received);
    m.inbox_id = inbox.value();
    m.received_ms = received;
    m.envelope = std::move(envelope);
    m.raw = std::move(raw);
    std::string id = m.id;
    std::shared_ptr<store::MessageRow> row;
    if (options_.on_stored && (!options_.stored_wanted || options_.stored_wanted())) {
      row = std::make_shared<store::MessageRow>();
      row->id = m.id;
      row->inbox_id = m.inbox_id;
      row->received_ms = m.received_ms;
      row->size = static_cast<int64_t>(m.raw.size());
      row->auth_user = m.envelope.auth_user;
      std::string text = std::move(m.summary.text_for_index);  // not copied: the row never shows it
      row->summary = m.summary;
      m.summary.text_for_index = std::move(text);
    }
    // Encode the columns here, on the worker, so that the single writer thread only binds and commits.
    auto prepared = store::prepare_message(std::move(m));
    if (!prepared.ok()) {
      done(prepared.error());
      return;
    }
    writer_.submit(std::move(prepared).value(),
                   [on_stored = row ? options_.on_stored : nullptr, row = std::move(row), id = std::move(id),
                    after_commit = options_.after_commit, inbox_id = inbox.value(),
                    done = std::move(done)](const core::Result<int64_t>& r) {
                     // Runs on the writer's thread, possibly while the writer drains after this pipeline
                     // is gone: it must not touch `this`.
                     if (r.ok()) {
                       if (row) {
                         row->seq = r.value();
                         on_stored(*row);
                       }
                       if (after_commit) after_commit(inbox_id, id);
                       done(id);
                     } else {
                       done(r.error());
                     }
                   });
  });
}

void Pipeline::lookup_password(std::string username, std::function<void(std::optional<std::string>)> done) {
  workers_.post([this, username = std::move(username), done = std::move(done)] {
    auto st = store::thread_store(options_.store);
    if (!st.ok()) {
      done(std::nullopt);
      return;
    }
    auto found = st.value()->find_inbox_by_username(username);
    if (!found.ok() || !found.value()) {
      done(std::nullopt);
      return;
    }
    done(found.value()->smtp_password);
  });
}

}  // namespace mailjar::ingest
