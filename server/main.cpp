// mailjar: the binary. Wiring only: parse options, build the modules, connect them, run.
#include <malloc.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "analyzers/analyzer.h"
#include "config/options.h"
#include "core/byte_budget.h"
#include "core/heap.h"
#include "core/worker_pool.h"
#include "events/hub.h"
#include "http/api.h"
#include "http/event_stream.h"
#include "http/request_guard.h"
#include "http/server.h"
#include "ingest/analysis.h"
#include "ingest/pipeline.h"
#include "mime/detail_cache.h"
#include "mime/mime.h"
#include "smtp/listener.h"
#include "store/store.h"
#include "store/thread_store.h"

extern char** environ;

namespace mailjar {
namespace {

int fail(const std::string& what) {
  std::cerr << "mailjar: " << what << "\n";
  return 1;
}

nlohmann::json inbox_json(const store::Inbox& i) {
  return {{"slug", i.slug},
          {"name", i.name},
          {"project", i.project_name},
          {"smtp_username", i.smtp_username},
          {"smtp_password", i.smtp_password}};
}

core::Result<std::unique_ptr<store::Store>> open_store(const std::string& data_dir) {
  store::StoreOptions so;
  so.data_dir = data_dir;
  return store::Store::open(so);
}

int run_admin(const config::Command& cmd) {
  const auto& a = cmd.admin;
  auto opened = open_store(a.data_dir);
  if (!opened.ok()) return fail(opened.error().message);
  store::Store& st = *opened.value();
  switch (cmd.kind) {
    case config::Command::kProjectCreate: {
      auto p = st.create_project(a.args.at(0));
      if (!p.ok()) return fail(p.error().message);
      if (a.json) {
        std::cout << nlohmann::json{{"name", p->name}}.dump() << "\n";
      } else {
        std::cout << "project: " << p->name << "\n";
      }
      return 0;
    }
    case config::Command::kProjectList: {
      auto ps = st.list_projects();
      if (!ps.ok()) return fail(ps.error().message);
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& p : ps.value()) {
        if (a.json) {
          arr.push_back({{"name", p.name}});
        } else {
          std::cout << p.name << "\n";
        }
      }
      if (a.json) std::cout << arr.dump() << "\n";
      return 0;
    }
    case config::Command::kInboxCreate: {
      auto i = st.create_inbox(a.project, a.args.at(0));
      if (!i.ok()) return fail(i.error().message);
      if (a.json) {
        std::cout << inbox_json(i.value()).dump() << "\n";
      } else {
        std::cout << "name: " << i->name << "\nslug: " << i->slug << "\nproject: " << i->project_name
                  << "\nsmtp_username: " << i->smtp_username << "\nsmtp_password: " << i->smtp_password << "\n";
      }
      return 0;
    }
    case config::Command::kInboxList: {
      auto is = st.list_inboxes();
      if (!is.ok()) return fail(is.error().message);
      if (a.json) {
        nlohmann::json arr = nlohmann::json::array();
        for (const auto& i : is.value()) arr.push_back(inbox_json(i));
        std::cout << arr.dump() << "\n";
      } else {
        std::printf("%-24s %-16s %-18s %s\n", "SLUG", "PROJECT", "SMTP_USERNAME", "SMTP_PASSWORD");
        for (const auto& i : is.value()) {
          std::printf("%-24s %-16s %-18s %s\n", i.slug.c_str(), i.project_name.c_str(), i.smtp_username.c_str(),
                      i.smtp_password.c_str());
        }
      }
      return 0;
    }
    case config::Command::kTokenCreate: {
      const std::optional<std::string> project = a.admin ? std::nullopt : std::optional<std::string>(a.project);
      auto t = st.create_token(project, a.args.at(0));
      if (!t.ok()) return fail(t.error().message);
      if (a.json) {
        std::cout << nlohmann::json{{"token", t.value()}, {"project", project.value_or("")}, {"admin", a.admin}}.dump()
                  << "\n";
      } else {
        std::cout << t.value() << "\n";
      }
      return 0;
    }
    default:
      return fail("internal: not an admin command");
  }
}

smtp::Reply storage_failure(const core::Error& e) {
  if (e.code == "busy") return smtp::Reply{451, "4.3.2", {"System busy, try again later"}};
  return smtp::Reply{451, "4.3.0", {"Temporary storage failure, try again later"}};
}

int run_serve(const config::ServeOptions& o) {
  // Keep freed heap memory instead of returning it to the kernel after every batch: trimming (brk/munmap
  // and the TLB-flush IPIs that follow) cost ~5% of the writer thread under load. Messages up to 32 MiB
  // come from the heap, so their memory is reused too.
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mime::init();
  // Half the cores for the network and half for the worker pool: the single writer thread and the pool
  // need the rest. Measured on 2 cores (bench/smtp-peers.sh): 1+1 threads took 60% more new-connection
  // mail per second than 2+2, at half the CPU per message, because every extra thread adds cross-thread
  // wake-ups, which are expensive here.
  int half = static_cast<int>(std::max(2u, std::thread::hardware_concurrency())) / 2;
  int net_threads = o.threads > 0 ? o.threads : half;
  int worker_threads = o.workers > 0 ? o.workers : half;
  int api_threads = o.http_workers > 0 ? o.http_workers : half;

  store::StoreOptions so;
  so.data_dir = o.data_dir;
  // --sync applies to the writer's group commits, which hold every message before its 250 (store.h,
  // BatchWriter). Other connections (API writes, the CLI) keep FULL.
  store::StoreOptions wo = so;
  wo.sync_full = o.sync_full;
  // The writer stores messages without indexing them and indexes when it has no mail to commit: the
  // full-text work leaves the path to the 250 (store.h, WriterIndexing; searches catch up themselves).
  wo.index_lag = true;
  auto writer_store = store::Store::open(wo);
  if (!writer_store.ok()) return fail("cannot open the data directory: " + writer_store.error().message);

  std::string cert = o.tls_cert, key = o.tls_key;
  if (o.tls_self_signed && cert.empty()) {
    cert = o.data_dir + "/tls/cert.pem";
    key = o.data_dir + "/tls/key.pem";
    auto made = smtp::ensure_self_signed(cert, key, o.hostname);
    if (!made.ok()) return fail(made.error().message);
  }

  // Declared in dependency order and destroyed in reverse: the listeners stop first, then the worker pool
  // drains (its tasks post replies into `io`, which outlives it), then the writer commits what is queued.
  boost::asio::io_context io(net_threads);
  // Events outlive the writer and the workers, whose last callbacks (draining at shutdown) publish.
  events::Hub hub;
  events::Deadlines deadlines;
  core::RuntimeStats stats;
  store::BatchWriter writer(std::move(writer_store.value()), 512);
  core::WorkerPool workers(worker_threads);
  // The API has workers of its own: no HTTP request waits behind the parse of a large message, and none
  // can delay one (issue: a slow request must never hold up SMTP ingestion).
  core::WorkerPool api_workers(api_threads);
  mime::MimeLimits mime_limits;
  mime_limits.max_parts = o.mime_max_parts;
  mime_limits.max_depth = o.mime_max_depth;
  ingest::AnalysisOptions ao;
  ao.store = so;
  ao.mime = mime_limits;
  ao.analyzers = o.analyzers;
  ao.queue_limit = o.analysis_queue;
  ao.on_reports = [&hub](int64_t inbox_id, const std::string& id, const std::vector<std::string>& names) {
    events::Event e;
    e.inbox_id = inbox_id;
    e.type = "analysis";
    e.data_json = nlohmann::json{{"ID", id}, {"Analyzers", names}}.dump();
    hub.publish(e);
  };
  auto analysis_made = ingest::Analysis::create(ao, writer);
  if (!analysis_made.ok()) return fail("--analyzers: " + analysis_made.error().message);
  // Shared, because the writer's last callbacks (draining after `analysis` is gone) must find it gone.
  std::shared_ptr<ingest::Analysis> analysis = std::move(analysis_made).value();
  // Messages stored but never analysed (the queue is in memory) are queued again, newest first.
  workers.post([a = analysis] {
    if (auto r = a->catch_up(); !r) std::cerr << "mailjar: analysis catch-up: " << r.error().message << "\n";
  });
  ingest::PipelineOptions po;
  po.store = so;
  po.mime = mime_limits;
  po.on_stored = [&hub](const store::MessageRow& row) {
    events::Event e;
    e.inbox_id = row.inbox_id;
    e.type = "new";
    e.data_json = http::Api::summary_json(row);
    e.seq = row.seq;
    e.message_id = row.id;
    hub.publish(e);
  };
  // A message stored while nobody subscribes (no WebSocket, no waiter) needs no event: a client that
  // subscribes later reads the store, and a new waiter checks the store after subscribing.
  po.stored_wanted = [&hub] { return hub.subscribers() > 0; };
  if (!analysis->names().empty() && o.analysis_queue > 0) {
    po.after_commit = [weak = std::weak_ptr<ingest::Analysis>(analysis)](int64_t inbox_id, const std::string& id) {
      if (auto a = weak.lock()) a->enqueue(inbox_id, id);
    };
  }
  ingest::Pipeline pipeline(po, workers, writer);

  smtp::AcceptAllPolicy policy;

  // Never less than one message of the largest size, or such a message could never be received.
  core::ByteBudget pending_data(std::max(o.max_pending_data, o.limits.max_message_size));
  smtp::ListenerOptions lo;
  lo.session.budget = &pending_data;
  lo.session.hostname = o.hostname;
  lo.session.limits = o.limits;
  lo.session.auth = o.smtp_auth;
  lo.session.allow_cleartext_auth = o.allow_cleartext_auth;
  lo.session.bare_newline = o.bare_newline;
  lo.max_connections = o.max_connections;
  lo.command_timeout_s = o.command_timeout_s;
  lo.data_timeout_s = o.data_timeout_s;
  lo.min_data_rate = o.min_data_rate;
  lo.tls_cert = cert;
  lo.tls_key = key;

  auto deliver = [&pipeline, &stats](core::Envelope env, std::string data, std::function<void(smtp::DeliveryOutcome)> done) {
    const auto size = static_cast<int64_t>(data.size());
    pipeline.submit(std::move(env), std::move(data), [done = std::move(done), &stats, size](core::Result<std::string> r) {
      smtp::DeliveryOutcome out;
      out.ok = r.ok();
      if (r.ok()) {
        stats.smtp_accepted += 1;
        stats.smtp_accepted_size += size;
        out.id = std::move(r.value());
      } else {
        std::cerr << "mailjar: storing a message failed: " << r.error().message << "\n";
        stats.smtp_rejected += 1;
        out.failure = storage_failure(r.error());
      }
      done(std::move(out));
    });
  };
  auto lookup = [&pipeline](std::string user, std::function<void(std::optional<std::string>)> done) {
    pipeline.lookup_password(std::move(user), std::move(done));
  };

  smtp::Listener smtp_listener(io, lo, policy, deliver, lookup);
  auto smtp_port = smtp_listener.listen(o.smtp.host, o.smtp.port);
  if (!smtp_port.ok()) return fail("SMTP: " + smtp_port.error().message);

  std::unique_ptr<smtp::Listener> smtps_listener;
  uint16_t smtps_port = 0;
  if (o.smtps_enabled) {
    auto so2 = lo;
    so2.implicit_tls = true;
    smtps_listener = std::make_unique<smtp::Listener>(io, so2, policy, deliver, lookup);
    auto p = smtps_listener->listen(o.smtps.host, o.smtps.port);
    if (!p.ok()) return fail("SMTPS: " + p.error().message);
    smtps_port = p.value();
  }

  http::ApiContext ctx;
  ctx.version = config::kVersion;
  ctx.database_path = o.data_dir + "/mailjar.db";
  ctx.pending_writes = [&writer] { return writer.pending(); };
  ctx.hub = &hub;
  ctx.deadlines = &deadlines;
  ctx.post_work = [&api_workers](std::function<void()> task) { api_workers.post(std::move(task)); };
  ctx.store_options = so;
  ctx.hostname = o.hostname;
  ctx.auth_required = o.api_auth;
  ctx.stats = &stats;
  ctx.origin_policy.loopback_only = http::is_loopback_address(o.http.host);
  ctx.origin_policy.allowed_hosts = o.allowed_hosts;
  ctx.json_limits.max_bytes = o.http_max_json;
  ctx.json_limits.max_depth = o.http_max_json_depth;
  ctx.max_message_size = o.limits.max_message_size;
  mime::DetailCache detail_cache(o.detail_cache);
  ctx.mime_limits = mime_limits;
  ctx.detail_cache = o.detail_cache > 0 ? &detail_cache : nullptr;
  ctx.mailhog.max_body = o.mailhog_max_body;
  ctx.mailhog.max_reply = o.mailhog_max_reply;
  // A send body carries the message's attachments in base64 (4/3 of their size) plus its JSON.
  ctx.send_body_limit = o.limits.max_message_size / 3 * 4 + (1 << 20);
  ctx.smtp_host = o.smtp.host;
  ctx.smtp_port = smtp_port.value();
  ctx.submit = [&pipeline, &stats](core::Envelope env, std::string raw,
                                    std::function<void(core::Result<std::string>)> done) {
    const auto size = static_cast<int64_t>(raw.size());
    pipeline.submit(std::move(env), std::move(raw), [&stats, size, done = std::move(done)](core::Result<std::string> r) {
      if (r.ok()) {
        stats.smtp_accepted += 1;
        stats.smtp_accepted_size += size;
      } else {
        stats.smtp_rejected += 1;
      }
      done(std::move(r));
    });
  };
  ctx.analyzers = analysis->names();
  ctx.analysis_counters = [a = analysis.get()] {
    const ingest::Analysis::Stats st = a->stats();
    return http::ApiContext::AnalysisCounters{static_cast<int64_t>(st.queued), static_cast<int64_t>(st.analysed),
                                              static_cast<int64_t>(st.skipped), static_cast<int64_t>(st.in_flight)};
  };
  for (const analyzers::Registration& r : analyzers::registry()) {
    ctx.analyzers_available.push_back(http::ApiContext::AnalyzerInfo{
        std::string(r.name), std::string(r.title), r.kind == analyzers::Kind::kLocal ? "local" : "network"});
  }
  ctx.analyze_now = [a = analysis.get()](int64_t inbox_id, const std::string& id, http::ApiContext::AnalysisDone done) {
    a->run_now(inbox_id, id, std::move(done));
  };
  http::Api api(ctx);
  http::HttpLimits hl;
  hl.max_body_bytes = o.http_max_body;
  hl.body_limit = [&api](std::string_view method, std::string_view target) { return api.body_limit(method, target); };
  hl.read_timeout_s = o.http_timeout_s;
  hl.max_connections = o.http_max_connections;
  http::Server http_server(io, hl, [&api_workers, &api, so](http::Request req, std::function<void(http::Response)> reply) {
    api_workers.post([&api, so, req = std::move(req), reply = std::move(reply)] {
      auto st = store::thread_store(so);
      if (!st.ok()) {
        http::Response r;
        r.status = 503;
        r.body = nlohmann::json{{"Error", st.error().message}, {"Code", "store_unavailable"}}.dump();
        reply(std::move(r));
        return;
      }
      http::Response response = api.handle(req, *st.value());
      if (response.deferred) {
        auto deferred = std::move(response.deferred);
        deferred(std::move(reply));
      } else {
        reply(std::move(response));
      }
    });
  }, http::event_stream_hooks(ctx, api));
  // Retention limits are applied once a second, on an API worker, and free heap memory is given back;
  // the timer only runs while `io` does.
  boost::asio::steady_timer prune_timer(io);
  std::function<void()> schedule_prune = [&] {
    prune_timer.expires_after(std::chrono::seconds(1));
    prune_timer.async_wait([&](const boost::system::error_code& ec) {
      if (ec) return;
      api_workers.post([&api] {
        api.prune_all();
        core::trim_free_heap(64 << 20);  // memory left free by large messages goes back to the OS
      });
      schedule_prune();
    });
  };
  schedule_prune();
  auto http_port = http_server.listen(o.http.host, o.http.port);
  if (!http_port.ok()) return fail("HTTP: " + http_port.error().message);

  // --log-level: errors (failed stores, fatal start-up problems) are always written; the start and stop
  // lines are "info". Nothing logs at "debug" yet.
  const bool log_info = o.log_level == "info" || o.log_level == "debug";
  if (log_info) {
    std::cerr << "mailjar " << config::kVersion << ": SMTP on " << o.smtp.host << ":" << smtp_port.value();
    if (smtps_listener) std::cerr << ", SMTPS on " << o.smtps.host << ":" << smtps_port;
    std::cerr << ", HTTP on http://" << o.http.host << ":" << http_port.value() << ", data in " << o.data_dir
              << std::endl;
  }

  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (ec) return;
    if (log_info) std::cerr << "mailjar: shutting down" << std::endl;
    smtp_listener.stop();
    if (smtps_listener) smtps_listener->stop();
    http_server.stop();
    io.stop();
  });

  std::vector<std::thread> threads;
  for (int i = 1; i < net_threads; ++i) threads.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& t : threads) t.join();
  // Tasks still queued use the API, the pipeline and the stores: run them while those exist.
  api_workers.shutdown();
  workers.shutdown();
  return 0;
}

}  // namespace
}  // namespace mailjar

int main(int argc, char** argv) {
  using mailjar::config::Command;
  auto parsed = mailjar::config::parse_command_line(argc, argv, environ);
  if (!parsed.ok()) {
    std::cerr << "mailjar: " << parsed.error().message << "\n";
    return 2;
  }
  const Command& cmd = parsed.value();
  switch (cmd.kind) {
    case Command::kHelp:
      std::cout << cmd.help_text;
      return 0;
    case Command::kVersion:
      std::cout << "mailjar " << mailjar::config::kVersion << "\n";
      return 0;
    case Command::kServe:
      return mailjar::run_serve(cmd.serve);
    default:
      return mailjar::run_admin(cmd);
  }
}
