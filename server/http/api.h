// NAME
//   http::Api - the REST API's request handling: a request in, a response out, against one Store.
// CONTRACT
//   handle() is synchronous and blocking (it reads SQLite): call it on a worker thread, never on a
//   network thread, with that thread's own Store. It never throws; every failure becomes a JSON error
//   response {"Error": "...", "Code": "..."} with an honest status code.
//   Paths are served both bare (the default inbox) and under /inboxes/{slug}/ (that inbox).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "core/stats.h"
#include "core/types.h"
#include "events/hub.h"
#include "http/mailhog_limits.h"
#include "http/message.h"
#include "http/request_body.h"
#include "http/request_guard.h"
#include "mime/detail_cache.h"
#include "mime/mime.h"
#include "store/store.h"

namespace mailjar::http {

// What handlers need beyond the request and the thread's Store. Everything optional has a safe default:
// without a hub no events are published and /api/v1/wait answers 503.
struct ApiContext {
  std::string version;                                  // /api/v1/info
  std::string database_path;                            // /api/v1/info
  std::function<std::size_t()> pending_writes;          // messages accepted but not yet committed
  std::size_t overload_pending = 10000;                 // /readyz answers 503 above this
  events::Hub* hub = nullptr;                           // events out; new-message events in (wait API)
  events::Deadlines* deadlines = nullptr;               // wait API timeouts
  // Runs a task on a worker thread (where a Store may be opened with store_options).
  std::function<void(std::function<void()>)> post_work;
  store::StoreOptions store_options;
  // Stores a message as SMTP mail is stored (POST /api/v1/send): done(ID) after the commit.
  std::function<void(core::Envelope, std::string, std::function<void(core::Result<std::string>)>)> submit;
  int64_t max_wait_ms = 300000;                         // longest ?timeout= accepted by /api/v1/wait
  std::size_t max_waiters = 10000;                      // waits held at once; beyond it 503
  std::string hostname = "mailjar.local";               // Message-ID domain of sent messages
  // --auth on: every request but /livez, /readyz and the OpenAPI document needs a token (Bearer, or HTTP
  // Basic with the token as password or user name). An admin token sees every project, a project token
  // only its project's inboxes (others answer 404, the bare default-inbox paths 403).
  bool auth_required = false;
  core::RuntimeStats* stats = nullptr;                  // /api/v1/info RuntimeStats; deletes counted here
  // Analysis (ingest::Analysis, wired by main): the configured analyzers' names in run order, and a
  // function that analyses a message now and calls back, from any thread, once its reports have committed
  // (nullopt: no such message); it returns at once. Unset: no analyzers (POST .../analysis answers 503).
  std::vector<std::string> analyzers;
  struct AnalysisCounters {
    int64_t queued = 0;    // messages waiting for background analysis now
    int64_t analysed = 0;  // messages whose reports were stored since start
    int64_t skipped = 0;   // dropped from the full queue (analysed only on request)
    int64_t in_flight = 0;  // messages whose network analyzers wait on the DNS now
  };
  // Every analyzer this build has (the registry), for /api/v1/info.
  struct AnalyzerInfo {
    std::string name;
    std::string title;
    std::string kind;  // "local" or "network"
  };
  std::vector<AnalyzerInfo> analyzers_available;
  std::function<AnalysisCounters()> analysis_counters;  // /api/v1/info RuntimeStats; unset: zeros
  using AnalysisDone = std::function<void(core::Result<std::optional<std::vector<store::StoredReport>>>)>;
  std::function<void(int64_t inbox_id, const std::string& id, AnalysisDone done)> analyze_now;
  OriginPolicy origin_policy;                           // Host, Origin and Content-Type checks (request_guard.h)
  JsonLimits json_limits;                               // every JSON body but /send's
  MailHogLimits mailhog;                                // bounds of the MailHog v2 replies
  mime::MimeLimits mime_limits;                         // parsing a stored message for a view
  mime::DetailCache* detail_cache = nullptr;            // parsed messages shared by the views; null: none
  std::size_t send_body_limit = 36 << 20;               // POST /api/v1/send's JSON body (base64 attachments)
  std::size_t max_message_size = 25 << 20;              // a message built by /send larger than this: 413
  std::string smtp_host = "127.0.0.1";                  // shown with inbox credentials
  uint16_t smtp_port = 1025;
};

class Api {
 public:
  explicit Api(ApiContext context);
  ~Api();
  Response handle(const Request& request, store::Store& store) const;

  // Applies every inbox's retention limits now, on the calling (worker) thread, and publishes "prune"
  // events. The server calls it periodically (--retention-interval).
  void prune_all() const;

  // The largest body a request to `method` `target` may have (HttpLimits::body_limit): /send's limit for
  // POST /api/v1/send, the JSON limit for everything else. Pure, cheap: for a network thread.
  std::size_t body_limit(std::string_view method, std::string_view target) const;

  // The scope of a request under --auth on (an admin scope when auth is off): for the WebSocket, whose
  // upgrade is checked on a network thread and verified here on a worker. nullopt: refuse.
  std::optional<store::TokenScope> authenticate(const Request& request, store::Store& store) const;

  // The Data of a "new" event: the message summary JSON as the list API shows it (for ingest's callback).
  static std::string summary_json(const store::MessageRow& row);

 private:
  ApiContext context_;
  struct Waits;
  std::unique_ptr<Waits> waits_;  // live waiters (count for max_waiters)
};

}  // namespace mailjar::http
