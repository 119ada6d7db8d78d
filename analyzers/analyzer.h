// NAME
//   analyzers - the interface every analyzer implements, its report, the registry of analyzers, and
//   run_all() for running them where no lookups can be made (DESIGN.md section 5).
// CONTRACT
//   An Analyzer is stateless after construction and thread-safe: step() may run on any number of threads
//   at once. It takes the parsed message, the raw bytes and the envelope, and returns a Step: its Report,
//   or (a network analyzer) the DNS questions it needs answered next. It never blocks and never does I/O:
//   the runner (ingest::Analysis) answers the questions asynchronously and calls step() again with the
//   answers so far in Context::dns, from scratch, as often as it asks (a multi-round lookup such as
//   SPF's includes is a few rounds), until it reports or the message's budget is spent; then it is called
//   once more with Context::final_round, when a report is required (unanswered questions read as
//   timeouts). It never throws on any input (hostile mail is normal input), never touches the store, and
//   reaches the outside world only through the Context. An analyzer's own failure is data: the runner
//   and run_all() turn an exception into a report with Verdict::kError, so one analyzer can never stop
//   the others or ingestion.
//   Finding ids are stable ("date.missing"): tests and API clients match on them, so an id never
//   changes meaning; messages are for people and may be reworded.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/types.h"
#include "dns/dns.h"
#include "mime/detail.h"

namespace mailjar::analyzers {

enum class Verdict { kPass, kWarn, kFail, kNeutral, kError };
enum class Severity { kInfo, kWarning, kError };

std::string_view to_string(Verdict v);    // "pass" "warn" "fail" "neutral" "error"
std::string_view to_string(Severity s);   // "info" "warning" "error"

struct Finding {
  std::string id;        // stable, dotted: "<area>.<problem>", e.g. "from.missing"
  Severity severity = Severity::kInfo;
  std::string message;   // one sentence for a person
  std::string evidence;  // the offending text (a header line, a value), may be empty; UTF-8, truncated
};

struct Report {
  std::string analyzer;  // the analyzer's name()
  std::string title;     // the analyzer's title()
  Verdict verdict = Verdict::kNeutral;
  std::optional<double> score;  // analyzer-specific (e.g. a spam score); absent when it has none
  std::string summary;          // one line: "2 warnings", "all checks passed"
  std::vector<Finding> findings;
  int64_t duration_us = 0;      // set by run_all()
};

// What an analyzer gets about one message. The references outlive the call.
struct Input {
  const mime::MessageDetail& message;  // parse_detail() of `raw`
  std::string_view raw;                // the bytes exactly as received
  const core::Envelope& envelope;
  int64_t received_ms = 0;             // when mailjar received it (Unix ms)
};

// Local analyzers read only the message; network ones also ask the DNS (through the runner).
enum class Kind { kLocal, kNetwork };

// The DNS answers a message's analysis has so far, by question. The runner adds; analyzers read.
class DnsAnswers {
 public:
  // The answer to `question`, or nullptr when it has not come (yet).
  const dns::Answer* find(const dns::Question& question) const;
  // Adds an answer, replacing one to the same question.
  void add(dns::Answer answer);
  const std::vector<dns::Answer>& all() const { return answers_; }

 private:
  std::vector<dns::Answer> answers_;  // a message asks a few dozen questions at most: a linear search
};

// The client whose mail is judged: the SMTP connection's facts from the envelope (API-submitted mail has
// no client IP).
struct Client {
  std::string ip;
  std::string helo;
  std::string tls_version;  // "" on a cleartext session
  std::string auth_user;    // "" without SMTP AUTH
};

// The outside world, injected (leveldb's Env): a fixed clock in tests, fixture answers for the DNS.
struct Context {
  int64_t now_ms = 0;
  Client client;
  const DnsAnswers* dns = nullptr;  // answers so far; null for local analyzers (and when no DNS is run)
  bool final_round = false;         // no more answers will come: report with what there is
};

// What one call to step() gives: a report (done), or the questions whose answers it needs next.
struct Step {
  std::optional<Report> report;
  std::vector<dns::Question> questions;

  static Step done(Report report) { return Step{std::move(report), {}}; }
  static Step ask(std::vector<dns::Question> questions) { return Step{std::nullopt, std::move(questions)}; }
};

class Analyzer {
 public:
  virtual ~Analyzer() = default;
  virtual std::string_view name() const = 0;   // short, lower-case, stable: "headers"
  virtual std::string_view title() const = 0;  // for people: "Header sanity"
  virtual Kind kind() const = 0;
  virtual Step step(const Input& input, const Context& context) const = 0;
};

// An analyzer that needs nothing beyond the message: one call, one report.
class LocalAnalyzer : public Analyzer {
 public:
  Kind kind() const final { return Kind::kLocal; }
  Step step(const Input& input, const Context& context) const final { return Step::done(analyze(input, context)); }
  virtual Report analyze(const Input& input, const Context& context) const = 0;
};

// One row of the registry (analyzers/registry.cpp): every analyzer this build has, in the order they run
// (local ones first). A test checks that each factory's analyzer reports the same name, title and kind.
struct Registration {
  std::string_view name;
  std::string_view title;
  Kind kind;
  std::unique_ptr<Analyzer> (*make)();
};
std::span<const Registration> registry();

// The verdict of a list of findings, as most analyzers grade them: any error -> kFail, else any
// warning -> kWarn, else kPass. And a summary line for them ("1 error, 2 warnings", "all checks passed").
Verdict verdict_of(const std::vector<Finding>& findings);
std::string summary_of(const std::vector<Finding>& findings);

// The names in registry(), in its order.
std::vector<std::string> known_analyzers();

// Builds the named analyzers, in known_analyzers() order whatever the order of `names`.
// Errors ("invalid"): an unknown name (the message lists the known ones).
core::Result<std::vector<std::unique_ptr<Analyzer>>> make_analyzers(const std::vector<std::string>& names);

// One step of `analyzer`, with an exception turned into an error report ({verdict kError, summary
// "analyzer failed: <what>"}); sets analyzer, title and duration_us on the report it returns.
Step run_step(const Analyzer& analyzer, const Input& input, const Context& context);

// Runs each analyzer to its report with no lookups beyond the answers in context.dns (a network analyzer
// that asks for more is called again with final_round), in order; one report per analyzer.
std::vector<Report> run_all(const std::vector<std::unique_ptr<Analyzer>>& analyzers, const Input& input,
                            const Context& context);

// The report for an analyzer that did not report in time (the runner's budget): verdict kError.
Report timed_out(const Analyzer& analyzer);

// The report as the API shows it (Mailpit's naming style), one JSON object:
// {"Analyzer","Title","Verdict","Score"(number|null),"Summary","Findings":[{"ID","Severity","Message",
// "Evidence"}],"DurationMs"(number)}. Invalid UTF-8 in any text is replaced (U+FFFD), so the result is
// always valid JSON.
std::string to_json(const Report& report);

}  // namespace mailjar::analyzers
