#include "ingest/pipeline.h"

#include <mutex>
#include <unordered_map>

#include "core/id.h"
#include "store/thread_store.h"

namespace mailjar::ingest {

struct Pipeline::Staged {
  std::string id;
  int64_t inbox_id = 0;
  std::shared_ptr<store::MessageRow> row;  // set when on_stored wants this message
};

struct Pipeline::Shared {
  store::StoreOptions store;
  mime::MimeLimits mime;
  std::function<void(const store::MessageRow&)> on_stored;
  std::function<bool()> stored_wanted;
  core::IdGenerator ids;
  std::mutex mu;
  std::unordered_map<std::string, int64_t> inbox_by_user;  // guarded by mu; inboxes are never renamed
  int64_t default_inbox = 0;                               // guarded by mu; 0 = not looked up yet

  // The inbox a message goes to: the one whose SMTP username authenticated, else the default inbox.
  core::Result<int64_t> resolve_inbox(const std::string& auth_user) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (auth_user.empty() && default_inbox != 0) return default_inbox;
      if (!auth_user.empty()) {
        auto it = inbox_by_user.find(auth_user);
        if (it != inbox_by_user.end()) return it->second;
      }
    }
    auto st = store::thread_store(store);
    if (!st.ok()) return st.error();
    store::Store& s = *st.value();
    if (!auth_user.empty()) {
      auto found = s.find_inbox_by_username(auth_user);
      if (!found.ok()) return found.error();
      if (found.value()) {
        std::lock_guard<std::mutex> lock(mu);
        inbox_by_user[auth_user] = found.value()->id;
        return found.value()->id;
      }
    }
    auto def = s.default_inbox();
    if (!def.ok()) return def.error();
    std::lock_guard<std::mutex> lock(mu);
    default_inbox = def->id;
    return default_inbox;
  }

  // Picks the inbox, parses the summary and encodes the columns of one message; fills `staged` for its
  // commit callback. Runs on a worker or on the writer thread.
  core::Result<store::PreparedMessage> prepare(core::Envelope envelope, std::string raw, int64_t received,
                                               Staged& staged) {
    auto inbox = resolve_inbox(envelope.auth_user);
    if (!inbox.ok()) return inbox.error();
    store::NewMessage m;
    m.summary = mime::parse_summary(raw, mime);
    m.id = ids.next(received);
    m.inbox_id = inbox.value();
    m.received_ms = received;
    m.envelope = std::move(envelope);
    m.raw = std::move(raw);
    staged.id = m.id;
    staged.inbox_id = m.inbox_id;
    if (on_stored && (!stored_wanted || stored_wanted())) {
      auto row = std::make_shared<store::MessageRow>();
      row->id = m.id;
      row->inbox_id = m.inbox_id;
      row->received_ms = m.received_ms;
      row->size = static_cast<int64_t>(m.raw.size());
      row->auth_user = m.envelope.auth_user;
      std::string text = std::move(m.summary.text_for_index);  // not copied: the row never shows it
      row->summary = m.summary;
      m.summary.text_for_index = std::move(text);
      staged.row = std::move(row);
    }
    return store::prepare_message(std::move(m));
  }
};

Pipeline::Pipeline(PipelineOptions options, core::WorkerPool& workers, store::BatchWriter& writer)
    : options_(std::move(options)), workers_(workers), writer_(writer), shared_(std::make_shared<Shared>()) {
  shared_->store = options_.store;
  shared_->mime = options_.mime;
  shared_->on_stored = options_.on_stored;
  shared_->stored_wanted = options_.stored_wanted;
}

void Pipeline::submit(core::Envelope envelope, std::string raw,
                      std::function<void(core::Result<std::string>)> done) {
  if (writer_.pending() + workers_.queued() >= options_.max_pending) {
    done(core::make_error("busy", "too many messages waiting to be stored"));
    return;
  }
  const int64_t received = core::now_unix_ms();
  auto staged = std::make_shared<Staged>();
  // Runs on the writer's thread, possibly while the writer drains after this pipeline is gone: it must
  // not touch `this`.
  store::BatchWriter::Done committed = [staged, on_stored = options_.on_stored,
                                        after_commit = options_.after_commit,
                                        done = std::move(done)](const core::Result<int64_t>& r) {
    if (!r.ok()) {
      done(r.error());
      return;
    }
    if (staged->row) {
      staged->row->seq = r.value();
      on_stored(*staged->row);
    }
    if (after_commit) after_commit(staged->inbox_id, staged->id);
    done(staged->id);
  };
  if (raw.size() <= options_.writer_prepare_max) {
    writer_.submit(
        [shared = shared_, staged, received, envelope = std::move(envelope), raw = std::move(raw)]() mutable {
          return shared->prepare(std::move(envelope), std::move(raw), received, *staged);
        },
        std::move(committed));
    return;
  }
  workers_.post([this, staged, received, envelope = std::move(envelope), raw = std::move(raw),
                 committed = std::move(committed)]() mutable {
    auto prepared = shared_->prepare(std::move(envelope), std::move(raw), received, *staged);
    if (!prepared.ok()) {
      committed(prepared.error());
      return;
    }
    writer_.submit(std::move(prepared).value(), std::move(committed));
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
