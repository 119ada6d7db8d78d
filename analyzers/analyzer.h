// NAME
//   analyzers - the interface every analyzer implements, its report, and the registry that builds and
//   runs them (DESIGN.md section 5).
// CONTRACT
//   An Analyzer is stateless after construction and thread-safe: analyze() may run on any number of
//   threads at once. It takes the parsed message, the raw bytes and the envelope, and returns a Report.
//   It never throws on any input (hostile mail is normal input), never touches the store, and reaches
//   the outside world only through the Context (nothing yet: the DNS resolver joins it with the first
//   DNS-based analyzer). An analyzer's own failure is data: run_all() turns an exception into a report
//   with Verdict::kError, so one analyzer can never stop the others or ingestion.
//   Finding ids are stable ("date.missing"): tests and API clients match on them, so an id never
//   changes meaning; messages are for people and may be reworded.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/types.h"
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

// The outside world, injected (leveldb's Env): a fixed clock in tests.
struct Context {
  int64_t now_ms = 0;
};

class Analyzer {
 public:
  virtual ~Analyzer() = default;
  virtual std::string_view name() const = 0;   // short, lower-case, stable: "headers"
  virtual std::string_view title() const = 0;  // for people: "Header sanity"
  virtual Report analyze(const Input& input, const Context& context) const = 0;
};

// The verdict of a list of findings, as most analyzers grade them: any error -> kFail, else any
// warning -> kWarn, else kPass. And a summary line for them ("1 error, 2 warnings", "all checks passed").
Verdict verdict_of(const std::vector<Finding>& findings);
std::string summary_of(const std::vector<Finding>& findings);

// Every analyzer this build has, by name, in the order they run (cheap ones first).
std::vector<std::string> known_analyzers();

// Builds the named analyzers, in known_analyzers() order whatever the order of `names`.
// Errors ("invalid"): an unknown name (the message lists the known ones).
core::Result<std::vector<std::unique_ptr<Analyzer>>> make_analyzers(const std::vector<std::string>& names);

// Runs each analyzer in order and returns one report per analyzer, in the same order. A throwing
// analyzer yields {verdict kError, summary "analyzer failed: <what>"}. Sets analyzer, title and
// duration_us on every report.
std::vector<Report> run_all(const std::vector<std::unique_ptr<Analyzer>>& analyzers, const Input& input,
                            const Context& context);

// The report as the API shows it (Mailpit's naming style), one JSON object:
// {"Analyzer","Title","Verdict","Score"(number|null),"Summary","Findings":[{"ID","Severity","Message",
// "Evidence"}],"DurationMs"(number)}. Invalid UTF-8 in any text is replaced (U+FFFD), so the result is
// always valid JSON.
std::string to_json(const Report& report);

}  // namespace mailjar::analyzers
