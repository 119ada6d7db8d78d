// Analysis that waits on the DNS never holds up ingestion: the real SMTP listener, pipeline, writer and
// analysis runner in one process (as main wires them), a network analyzer that needs three rounds of DNS
// from a resolver that answers 50 ms after each question, and 20 SMTP clients on real sockets sending at
// once, with analysis starting at once (no quiet period). Every message must get its 250 (not one 451)
// and then its reports. How fast the senders go with and without the analyzer is printed by
// bench/analysis_dns.sh (the disabled Measure case of this binary).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "analyzers/analyzer.h"
#include "core/worker_pool.h"
#include "ingest/analysis.h"
#include "ingest/pipeline.h"
#include "mime/mime.h"
#include "smtp/listener.h"
#include "store/store.h"
#include "tests/unit/ingest/analysis_testing.h"
#include "tests/unit/testing.h"

namespace mailjar::ingest {
namespace {

// The server side: listener -> pipeline -> writer, and the analysis runner after each commit.
struct Server {
  testing::TempDir dir{"mailjar-analysis-load"};
  store::StoreOptions options;
  std::unique_ptr<store::BatchWriter> writer;
  std::unique_ptr<core::WorkerPool> workers;
  testing::FakeResolver resolver{std::chrono::milliseconds(50)};  // each answer 50 ms after its question
  std::shared_ptr<Analysis> analysis;
  std::unique_ptr<Pipeline> pipeline;
  boost::asio::io_context io{1};
  smtp::AcceptAllPolicy policy;
  std::unique_ptr<smtp::Listener> listener;
  std::thread io_thread;
  uint16_t port = 0;
  std::atomic<int> analysed{0};

  explicit Server(bool analyse) {
    mime::init();
    testing::fill_zone(resolver);
    options.data_dir = dir.str();
    options.sync_full = false;
    auto st = store::Store::open(options);
    EXPECT_TRUE(st.ok());
    store::StoreOptions wo = options;
    wo.index_lag = true;
    auto ws = store::Store::open(wo);
    writer = std::make_unique<store::BatchWriter>(std::move(ws).value());
    workers = std::make_unique<core::WorkerPool>(1);
    AnalysisOptions ao;
    ao.store = options;
    ao.resolver = &resolver;
    ao.quiet_ms = 0;  // the worst case: analysis (and its DNS waits) runs while the senders send
    ao.on_reports = [this](int64_t, const std::string&, const std::vector<std::string>&) { analysed += 1; };
    std::vector<std::unique_ptr<analyzers::Analyzer>> list;
    if (analyse) list.push_back(std::make_unique<testing::ThreeRounds>());
    analysis = Analysis::create(ao, *writer, std::move(list));
    PipelineOptions po;
    po.store = options;
    po.after_commit = [weak = std::weak_ptr<Analysis>(analysis)](int64_t inbox, const std::string& id) {
      if (auto a = weak.lock()) a->enqueue(inbox, id);
    };
    pipeline = std::make_unique<Pipeline>(po, *workers, *writer);
    smtp::ListenerOptions lo;
    lo.max_connections = 100;
    auto deliver = [this](core::Envelope env, std::string data,
                          std::function<void(smtp::DeliveryOutcome)> done) {
      pipeline->submit(std::move(env), std::move(data),
                       [done = std::move(done)](core::Result<std::string> r) {
                         smtp::DeliveryOutcome out;
                         out.ok = r.ok();
                         if (r.ok())
                           out.id = r.value();
                         else
                           out.failure = smtp::Reply{451, "4.3.0", {r.error().message}};
                         done(std::move(out));
                       });
    };
    auto lookup = [](std::string, std::function<void(std::optional<std::string>)> done) {
      done(std::nullopt);
    };
    listener = std::make_unique<smtp::Listener>(io, lo, policy, deliver, lookup);
    auto bound = listener->listen("127.0.0.1", 0);
    EXPECT_TRUE(bound.ok());
    port = bound.value();
    io_thread = std::thread([this] { io.run(); });
  }

  ~Server() {
    listener->stop();
    io.stop();
    io_thread.join();
    listener.reset();
    workers->shutdown();
    pipeline.reset();
    analysis.reset();
    writer.reset();
  }
};

// One SMTP client on a blocking socket: the replies' codes, in order.
class Client {
 public:
  explicit Client(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ok_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 && reply() == 220 &&
          command("EHLO load.test\r\n") == 250;
  }
  ~Client() { ::close(fd_); }
  bool ok() const { return ok_; }

  int command(const std::string& line) {
    if (::send(fd_, line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size())) return -1;
    return reply();
  }

  // The code of the next whole reply (the last line of a multi-line one), -1 on a timeout or close.
  int reply() {
    for (;;) {
      const auto eol = buffer_.find("\r\n");
      if (eol != std::string::npos) {
        const std::string line = buffer_.substr(0, eol);
        buffer_.erase(0, eol + 2);
        if (line.size() >= 4 && line[3] == '-') continue;
        return line.size() >= 3 ? std::atoi(line.substr(0, 3).c_str()) : -1;
      }
      char chunk[4096];
      const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) return -1;
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

 private:
  int fd_ = -1;
  bool ok_ = false;
  std::string buffer_;
};

struct LoadResult {
  int accepted = 0;
  int temporary = 0;  // 4xx to DATA's end
  int other = 0;
  double seconds = 0;
};

LoadResult send_load(uint16_t port, int senders, int per_sender) {
  LoadResult out;
  std::mutex mu;
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int s = 0; s < senders; ++s) {
    threads.emplace_back([&, s] {
      Client c(port);
      int accepted = 0, temporary = 0, other = 0;
      for (int i = 0; i < per_sender && c.ok(); ++i) {
        const std::string body = "From: s" + std::to_string(s) + "@load.test\r\nSubject: load " +
                                 std::to_string(i) + "\r\n\r\n" + std::string(2000, 'x') + "\r\n.\r\n";
        if (c.command("MAIL FROM:<s@load.test>\r\n") != 250 ||
            c.command("RCPT TO:<r@load.test>\r\n") != 250 || c.command("DATA\r\n") != 354) {
          ++other;
          continue;
        }
        const int code = c.command(body);
        if (code == 250) {
          ++accepted;
        } else if (code >= 400 && code < 500) {
          ++temporary;
        } else {
          ++other;
        }
      }
      if (!c.ok()) other = per_sender;
      std::lock_guard<std::mutex> lock(mu);
      out.accepted += accepted;
      out.temporary += temporary;
      out.other += other;
    });
  }
  for (auto& t : threads) t.join();
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

TEST(AnalysisLoad, DnsWaitingAnalysisBesideTwentySendersGivesNo451) {
  Server server(/*analyse=*/true);
  const LoadResult r = send_load(server.port, 20, 25);
  EXPECT_EQ(r.accepted, 500);
  EXPECT_EQ(r.temporary, 0);
  EXPECT_EQ(r.other, 0);
  // Then every message is analysed (three rounds of 50 ms each, many messages at a time).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (server.analysed.load() < 500 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling a counter with a deadline
  }
  EXPECT_EQ(server.analysed.load(), 500);
  EXPECT_EQ(server.analysis->stats().in_flight, 0u);
}

// The measurement (bench/analysis_dns.sh): senders' rate with the DNS-waiting analyzer and without, in
// turns. Disabled as a test: timing belongs in benchmarks.
TEST(AnalysisLoad, DISABLED_Measure) {
  const int rounds = std::getenv("ROUNDS") ? std::atoi(std::getenv("ROUNDS")) : 5;
  for (int round = 0; round < rounds; ++round) {
    for (bool analyse : {false, true}) {
      Server server(analyse);
      const LoadResult r = send_load(server.port, 20, 100);
      std::printf("round %d analyzer %-3s: %d accepted, %d 4xx, %d other, %.0f msg/s\n", round,
                  analyse ? "on" : "off", r.accepted, r.temporary, r.other, r.accepted / r.seconds);
      std::fflush(stdout);
    }
  }
}

}  // namespace
}  // namespace mailjar::ingest
