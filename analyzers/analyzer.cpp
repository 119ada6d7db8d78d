// NAME
//   analyzer.cpp - building analyzers by name from the registry (registry.cpp), run_step() and run_all()
//   (timing each and turning a throwing one into a kError report), the grading helpers verdict_of() and
//   summary_of(), and the JSON form of a Report.
// CONTRACT
//   See analyzer.h. Nothing here throws on any Report content: to_json() replaces invalid UTF-8.
#include "analyzers/analyzer.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "analyzers/analyzer_internal.h"
#include "core/utf8.h"

namespace mailjar::analyzers {
namespace {

constexpr std::string_view kEllipsis = "...";
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

using core::utf8_sequence_length;

std::string plural(std::size_t n, std::string_view one, std::string_view many) {
  return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

}  // namespace

namespace internal {

std::string evidence(std::string_view s) {
  std::string out;
  out.reserve(std::min(s.size(), kMaxEvidenceBytes));
  const std::size_t budget = kMaxEvidenceBytes - kEllipsis.size();
  std::size_t cut = std::string::npos;  // out's size when it last fitted `budget`
  std::size_t i = 0;
  while (i < s.size()) {
    const std::size_t n = utf8_sequence_length(s, i);
    const std::string_view piece = n ? s.substr(i, n) : kReplacement;
    if (out.size() + piece.size() > kMaxEvidenceBytes) {
      out.resize(cut);
      out.append(kEllipsis);
      return out;
    }
    out.append(piece);
    if (out.size() <= budget) cut = out.size();
    i += n ? n : 1;
  }
  return out;
}

}  // namespace internal

std::string_view to_string(Verdict v) {
  switch (v) {
    case Verdict::kPass:
      return "pass";
    case Verdict::kWarn:
      return "warn";
    case Verdict::kFail:
      return "fail";
    case Verdict::kNeutral:
      return "neutral";
    case Verdict::kError:
      return "error";
  }
  return "error";
}

std::string_view to_string(Severity s) {
  switch (s) {
    case Severity::kInfo:
      return "info";
    case Severity::kWarning:
      return "warning";
    case Severity::kError:
      return "error";
  }
  return "error";
}

Verdict verdict_of(const std::vector<Finding>& findings) {
  Verdict v = Verdict::kPass;
  for (const Finding& f : findings) {
    if (f.severity == Severity::kError) return Verdict::kFail;
    if (f.severity == Severity::kWarning) v = Verdict::kWarn;
  }
  return v;
}

// "1 error, 2 warnings, 1 note"; with no errors or warnings "all checks passed", plus " (2 notes)" when
// there are informational findings.
std::string summary_of(const std::vector<Finding>& findings) {
  std::size_t errors = 0;
  std::size_t warnings = 0;
  std::size_t infos = 0;
  for (const Finding& f : findings) {
    switch (f.severity) {
      case Severity::kError:
        ++errors;
        break;
      case Severity::kWarning:
        ++warnings;
        break;
      case Severity::kInfo:
        ++infos;
        break;
    }
  }
  if (errors == 0 && warnings == 0) {
    return infos == 0 ? "all checks passed" : "all checks passed (" + plural(infos, "note", "notes") + ")";
  }
  std::string out;
  const auto add = [&](std::size_t n, std::string_view one, std::string_view many) {
    if (n == 0) return;
    if (!out.empty()) out.append(", ");
    out.append(plural(n, one, many));
  };
  add(errors, "error", "errors");
  add(warnings, "warning", "warnings");
  add(infos, "note", "notes");
  return out;
}

const dns::Answer* DnsAnswers::find(const dns::Question& question) const {
  for (const dns::Answer& a : answers_) {
    if (a.question == question) return &a;
  }
  return nullptr;
}

void DnsAnswers::add(dns::Answer answer) {
  for (dns::Answer& a : answers_) {
    if (a.question == answer.question) {
      a = std::move(answer);
      return;
    }
  }
  answers_.push_back(std::move(answer));
}

Step run_step(const Analyzer& analyzer, const Input& input, const Context& context) {
  const auto start = std::chrono::steady_clock::now();
  Step step;
  std::string failure;
  bool failed = false;
  try {
    step = analyzer.step(input, context);
  } catch (const std::exception& e) {
    failed = true;
    failure = e.what();
  } catch (...) {
    failed = true;
    failure = "unknown exception";
  }
  if (failed) {
    Report report;
    report.verdict = Verdict::kError;
    report.summary = "analyzer failed: " + internal::evidence(failure);
    step = Step::done(std::move(report));
  }
  if (step.report) {
    step.report->analyzer = std::string(analyzer.name());
    step.report->title = std::string(analyzer.title());
    step.report->duration_us =
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count();
  }
  return step;
}

Report timed_out(const Analyzer& analyzer) {
  Report report;
  report.analyzer = std::string(analyzer.name());
  report.title = std::string(analyzer.title());
  report.verdict = Verdict::kError;
  report.summary = "analyzer did not finish in its time budget";
  return report;
}

std::vector<Report> run_all(const std::vector<std::unique_ptr<Analyzer>>& analyzers, const Input& input,
                            const Context& context) {
  std::vector<Report> reports;
  reports.reserve(analyzers.size());
  for (const auto& analyzer : analyzers) {
    Step step = run_step(*analyzer, input, context);
    if (!step.report) {
      Context last = context;
      last.final_round = true;
      step = run_step(*analyzer, input, last);
    }
    reports.push_back(step.report ? std::move(*step.report) : timed_out(*analyzer));
  }
  return reports;
}

std::string to_json(const Report& report) {
  nlohmann::ordered_json findings = nlohmann::ordered_json::array();
  for (const Finding& f : report.findings) {
    findings.push_back({{"ID", f.id},
                        {"Severity", std::string(to_string(f.severity))},
                        {"Message", f.message},
                        {"Evidence", f.evidence}});
  }
  nlohmann::ordered_json j;
  j["Analyzer"] = report.analyzer;
  j["Title"] = report.title;
  j["Verdict"] = std::string(to_string(report.verdict));
  if (report.score) {
    j["Score"] = *report.score;  // a NaN or infinite score is written as null
  } else {
    j["Score"] = nullptr;
  }
  j["Summary"] = report.summary;
  j["Findings"] = std::move(findings);
  j["DurationMs"] = static_cast<double>(report.duration_us) / 1000.0;
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace mailjar::analyzers
