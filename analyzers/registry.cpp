// NAME
//   analyzers/registry.cpp - the one list of the analyzers this build has: a row each, in the order they
//   run (local ones first, then network ones). Adding an analyzer is its folder (its own CMake target,
//   linked into mailjar_analyzers in analyzers/CMakeLists.txt) and one row here; nothing else lists them
//   (the API shows them in /api/v1/info, tests read registry()).
#include <algorithm>
#include <string>
#include <vector>

#include "analyzers/analyzer.h"
#include "analyzers/analyzer_internal.h"
#include "analyzers/headers/headers.h"

namespace mailjar::analyzers {

namespace {

constexpr Registration kRegistry[] = {
    {"headers", "Header sanity", Kind::kLocal, &make_headers_analyzer},
};

}  // namespace

std::span<const Registration> registry() { return kRegistry; }

std::vector<std::string> known_analyzers() {
  std::vector<std::string> out;
  for (const Registration& r : registry()) out.emplace_back(r.name);
  return out;
}

core::Result<std::vector<std::unique_ptr<Analyzer>>> make_analyzers(const std::vector<std::string>& names) {
  const std::vector<std::string> known = known_analyzers();
  for (const std::string& name : names) {
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      std::string list;
      for (const std::string& k : known) list.append(list.empty() ? "" : ", ").append(k);
      return core::make_error(
          "invalid", "unknown analyzer \"" + internal::evidence(name) + "\" (known analyzers: " + list + ")");
    }
  }
  std::vector<std::unique_ptr<Analyzer>> out;
  for (const Registration& r : registry()) {
    if (std::find(names.begin(), names.end(), r.name) != names.end()) out.push_back(r.make());
  }
  return out;
}

}  // namespace mailjar::analyzers
