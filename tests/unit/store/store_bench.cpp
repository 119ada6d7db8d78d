// store_bench: measures the per-message server CPU of the ingest path's heavy steps, with realistic
// 4 KiB messages (multipart/alternative, text + HTML, varied headers):
//   1. mime::parse_summary()                      (what ingest runs per message, on a worker)
//   2. store::prepare_message()                   (column encoding: JSON, zstd raw, zstd index text; on
//                                                  a worker since the writer takes prepared messages)
//   3. Store::insert_prepared() in batches of 64  (what the single writer thread does per message: bind,
//                                                  step, commit; one transaction per batch, FTS5)
//   4. Store::insert_messages() in batches of 64  (2 + 3 on one thread: what the writer did before)
// Prints µs/message (process CPU and wall; best and median of 3 rounds) for each, then list/search
// latencies on the result. CPU time is the number to compare with the per-message budget: wall time
// includes the fsync of each commit. Single-threaded throughout, so process CPU is the timed thread's.
// Usage: store_bench [dir]   (default: a fresh directory under /tmp, removed afterwards)
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "core/id.h"
#include "mime/mime.h"
#include "store/store.h"

namespace {

using namespace mailjar;

constexpr int kMessages = 20000;
constexpr std::size_t kBatch = 64;
constexpr std::size_t kTargetSize = 4096;

volatile std::size_t g_sink = 0;  // keeps results alive so that timed calls are not optimised away

double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double wall_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

const char* const kWords[] = {"account",
                              "invoice",
                              "payment",
                              "welcome",
                              "password",
                              "reset",
                              "order",
                              "shipping",
                              "confirm",
                              "newsletter",
                              "update",
                              "security",
                              "alert",
                              "team",
                              "report",
                              "weekly",
                              "monthly",
                              "receipt",
                              "subscription",
                              "trial",
                              "upgrade",
                              "caf\xC3\xA9",
                              "\xC3\xA9t\xC3\xA9",
                              "na\xC3\xAFve",
                              "stra\xC3\x9F"
                              "e",
                              "delivery",
                              "tracking",
                              "customer",
                              "support",
                              "ticket",
                              "meeting",
                              "calendar",
                              "project"};

std::string words(std::mt19937& rng, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    if (i) out += ' ';
    out += kWords[rng() % std::size(kWords)];
  }
  return out;
}

// A transactional-style message: multipart/alternative with a text and an HTML part, ~4 KiB.
std::string make_message(std::mt19937& rng, int i) {
  const std::string user = "user" + std::to_string(rng() % 5000);
  std::string m;
  m += "Return-Path: <bounces+" + std::to_string(i) + "@mailer.example.com>\r\n";
  m += "Received: from app-server-3.internal (app-server-3.internal [10.0.3.17])\r\n"
       "\tby mx.example.com with ESMTPS id 4f1a2b3c; Tue, 02 Jan 2024 03:04:05 +0000\r\n";
  m += "From: \"Example Shop\" <noreply@shop.example.com>\r\n";
  m += "To: \"" + user + "\" <" + user + (i % 7 == 0 ? "+orders" : "") + "@customer.example.org>\r\n";
  if (i % 5 == 0) m += "Cc: support@shop.example.com\r\n";
  m += "Subject: " + words(rng, 3 + static_cast<int>(rng() % 5)) + " #" + std::to_string(i) + "\r\n";
  m += "Date: Tue, 2 Jan 2024 03:04:" + std::to_string(10 + i % 50) + " +0100\r\n";
  m += "Message-ID: <" + std::to_string(i) + "." + std::to_string(rng()) + "@shop.example.com>\r\n";
  m += "MIME-Version: 1.0\r\n";
  if (i % 3 == 0) m += "X-Tags: transactional, shop\r\n";
  m += "Content-Type: multipart/alternative; boundary=\"=_b" + std::to_string(i) + "\"\r\n\r\n";
  std::string text, html;
  while (text.size() < 1300) text += words(rng, 12) + ".\r\n";
  html = "<html><head><style>p{margin:0}</style></head><body><h1>Hello " + user + "</h1>\r\n";
  while (html.size() < 1900)
    html += "<p>" + words(rng, 10) + " <a href=\"https://shop.example.com/x\">link</a></p>\r\n";
  html += "</body></html>\r\n";
  m += "--=_b" + std::to_string(i) +
       "\r\nContent-Type: text/plain; charset=utf-8\r\n"
       "Content-Transfer-Encoding: 8bit\r\n\r\n" +
       text;
  m += "--=_b" + std::to_string(i) +
       "\r\nContent-Type: text/html; charset=utf-8\r\n"
       "Content-Transfer-Encoding: 8bit\r\n\r\n" +
       html;
  m += "--=_b" + std::to_string(i) + "--\r\n";
  constexpr std::size_t kPadHeader = sizeof("X-Padding: \r\n") - 1;
  if (m.size() + kPadHeader < kTargetSize) {
    m.insert(m.find("MIME-Version"),
             "X-Padding: " + std::string(kTargetSize - m.size() - kPadHeader, 'p') + "\r\n");
  }
  return m;
}

// A single-part 4 KiB text/plain message (the "simple message" of the MIME target).
std::string make_simple(std::mt19937& rng, int i) {
  std::string m = "From: Alice <alice@example.com>\r\nTo: Bob <bob@example.com>\r\nSubject: Report " +
                  std::to_string(i) + "\r\nDate: Tue, 2 Jan 2024 03:04:05 +0000\r\nMessage-ID: <" +
                  std::to_string(i) + "@example.com>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n";
  while (m.size() < kTargetSize) m += words(rng, 10) + "\r\n";
  m.resize(kTargetSize);
  return m;
}

struct Stats {
  double best = 1e18, median = 0;
};

// Runs `fn` `rounds` times; each run returns {wall µs/msg, cpu µs/msg}.
template <typename Fn>
std::pair<Stats, Stats> rounds(int n, Fn fn) {
  std::vector<double> wall, cpu;
  for (int r = 0; r < n; ++r) {
    const auto [w, c] = fn(r);
    wall.push_back(w);
    cpu.push_back(c);
  }
  std::sort(wall.begin(), wall.end());
  std::sort(cpu.begin(), cpu.end());
  return {Stats{wall.front(), wall[wall.size() / 2]}, Stats{cpu.front(), cpu[cpu.size() / 2]}};
}

void report(const char* what, const std::pair<Stats, Stats>& s) {
  std::printf("%-34s cpu %6.1f us/msg (median %6.1f)   wall %6.1f us/msg (median %6.1f)\n", what,
              s.second.best, s.second.median, s.first.best, s.first.median);
}

}  // namespace

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  const fs::path base = argc >= 2 ? fs::path(argv[1])
                                  : fs::temp_directory_path() /
                                        ("mailjar_store_bench_" + std::to_string(std::random_device{}()));
  constexpr int kRounds = 3;
  mime::init();

  std::mt19937 rng(2024);
  std::vector<std::string> raws, simple;
  raws.reserve(kMessages);
  std::size_t bytes = 0;
  for (int i = 0; i < kMessages; ++i) {
    raws.push_back(make_message(rng, i));
    bytes += raws.back().size();
  }
  for (int i = 0; i < 2000; ++i) simple.push_back(make_simple(rng, i));
  std::printf("%d messages (multipart/alternative, average %.0f bytes), batches of %zu, best of %d rounds\n",
              kMessages, double(bytes) / kMessages, kBatch, kRounds);

  // 1. Parse.
  std::vector<core::MessageSummary> summaries(kMessages);
  report("parse_summary (4 KiB multipart)", rounds(kRounds, [&](int) {
           const double w0 = wall_seconds(), c0 = cpu_seconds();
           for (int i = 0; i < kMessages; ++i) summaries[i] = mime::parse_summary(raws[i]);
           return std::pair{(wall_seconds() - w0) * 1e6 / kMessages, (cpu_seconds() - c0) * 1e6 / kMessages};
         }));
  report("parse_summary (4 KiB text/plain)", rounds(kRounds, [&](int) {
           const double w0 = wall_seconds(), c0 = cpu_seconds();
           for (int k = 0; k < 5; ++k) {
             for (const auto& m : simple) g_sink = g_sink + mime::parse_summary(m).snippet.size();
           }
           const double count = 5.0 * simple.size();
           return std::pair{(wall_seconds() - w0) * 1e6 / count, (cpu_seconds() - c0) * 1e6 / count};
         }));

  // The messages as ingest builds them.
  core::IdGenerator ids;
  std::vector<store::NewMessage> messages(kMessages);
  const auto fill_messages = [&](int64_t inbox_id) {
    const int64_t now = core::now_unix_ms();
    for (int i = 0; i < kMessages; ++i) {
      auto& m = messages[i];
      m = store::NewMessage{};
      m.received_ms = now + i / 8;
      m.id = ids.next(m.received_ms);
      m.inbox_id = inbox_id;
      m.raw = raws[i];
      m.summary = summaries[i];
      m.envelope.mail_from = "bounces@mailer.example.com";
      m.envelope.rcpts = {{m.summary.to.empty() ? "x@example.org" : m.summary.to[0].address, ""}};
      m.envelope.helo = "app-server-3.internal";
      m.envelope.esmtp = true;
      m.envelope.client_ip = "10.0.3.17";
      m.envelope.client_port = 40000;
    }
  };
  std::unique_ptr<store::Store> last;
  int64_t inbox = 0;
  // Each insert round writes into a fresh database.
  const auto fresh_store = [&](const std::string& name) {
    const fs::path dir = base / name;
    std::error_code ec;
    fs::remove_all(dir, ec);
    last.reset();
    auto opened = store::Store::open(store::StoreOptions{dir.string(), 5000, false});
    if (!opened) {
      std::fprintf(stderr, "open: %s\n", opened.error().message.c_str());
      std::exit(1);
    }
    last = std::move(opened).value();
    inbox = last->default_inbox()->id;
  };

  // 2. Prepare (no database).
  std::vector<store::PreparedMessage> prepared(kMessages);
  fill_messages(1);
  report("prepare_message (any thread)", rounds(kRounds, [&](int) {
           std::vector<store::NewMessage> copies = messages;  // prepare_message() consumes its argument
           const double w0 = wall_seconds(), c0 = cpu_seconds();
           for (int i = 0; i < kMessages; ++i) {
             auto p = store::prepare_message(std::move(copies[i]));
             if (!p) {
               std::fprintf(stderr, "prepare: %s\n", p.error().message.c_str());
               std::exit(1);
             }
             prepared[i] = std::move(p).value();
           }
           return std::pair{(wall_seconds() - w0) * 1e6 / kMessages, (cpu_seconds() - c0) * 1e6 / kMessages};
         }));

  // 3. Insert prepared messages: the writer thread's share.
  report("insert_prepared (writer, batch 64)", rounds(kRounds, [&](int round) {
           fresh_store("round" + std::to_string(round));
           fill_messages(inbox);
           for (int i = 0; i < kMessages; ++i) prepared[i] = store::prepare_message(messages[i]).value();
           const double w0 = wall_seconds(), c0 = cpu_seconds();
           std::vector<const store::PreparedMessage*> batch;
           for (int i = 0; i < kMessages; i += kBatch) {
             batch.clear();
             for (int k = i; k < std::min<int>(i + kBatch, kMessages); ++k) batch.push_back(&prepared[k]);
             if (auto r = last->insert_prepared(batch); !r) {
               std::fprintf(stderr, "insert: %s\n", r.error().message.c_str());
               std::exit(1);
             }
           }
           return std::pair{(wall_seconds() - w0) * 1e6 / kMessages, (cpu_seconds() - c0) * 1e6 / kMessages};
         }));
  prepared = {};

  // 4. Insert NewMessages: encoding and insert on one thread.
  report("insert_messages (batches of 64)", rounds(kRounds, [&](int round) {
           fresh_store("round" + std::to_string(round));
           fill_messages(inbox);
           const double w0 = wall_seconds(), c0 = cpu_seconds();
           std::vector<const store::NewMessage*> batch;
           for (int i = 0; i < kMessages; i += kBatch) {
             batch.clear();
             for (int k = i; k < std::min<int>(i + kBatch, kMessages); ++k) batch.push_back(&messages[k]);
             if (auto r = last->insert_messages(batch); !r) {
               std::fprintf(stderr, "insert: %s\n", r.error().message.c_str());
               std::exit(1);
             }
           }
           return std::pair{(wall_seconds() - w0) * 1e6 / kMessages, (cpu_seconds() - c0) * 1e6 / kMessages};
         }));

  // 5. Reads on the last database.
  const auto time_ms = [](auto&& fn, int runs) {
    double best = 1e9;
    for (int r = 0; r < runs; ++r) {
      const double t0 = wall_seconds();
      fn();
      best = std::min(best, (wall_seconds() - t0) * 1e3);
    }
    return best;
  };
  std::printf("list first page (50 of %d): %.3f ms\n", kMessages,
              time_ms([&] { (void)last->list_messages(inbox, 0, 50); }, 20));
  std::printf("search 'invoice' (50): %.3f ms\n",
              time_ms([&] { (void)last->search_ids(inbox, "invoice", 50); }, 20));
  std::printf("get_raw: %.3f ms\n",
              time_ms([&] { (void)last->get_raw(inbox, messages[kMessages / 2].id); }, 20));
  const fs::path db = base / ("round" + std::to_string(kRounds - 1)) / "mailjar.db";
  std::error_code ec;
  std::printf("database size: %.1f MiB (%.0f bytes/message)\n",
              double(fs::file_size(db, ec) + fs::file_size(db.string() + "-wal", ec)) / 1048576.0,
              double(fs::file_size(db, ec) + fs::file_size(db.string() + "-wal", ec)) / kMessages);
  last.reset();
  if (argc < 2) fs::remove_all(base, ec);
  return 0;
}
