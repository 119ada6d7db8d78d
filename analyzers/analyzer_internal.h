// NAME
//   analyzer_internal.h - private to analyzers/: helpers every analyzer shares, defined in analyzer.cpp.
// CONTRACT
//   Pure functions of their arguments; any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mailjar::analyzers::internal {

// The most bytes of offending input a Finding quotes as its evidence.
constexpr std::size_t kMaxEvidenceBytes = 300;

// `s` as Finding evidence: valid UTF-8 (each byte of an invalid sequence becomes U+FFFD, NUL is kept)
// and at most kMaxEvidenceBytes, cut between characters; a cut string ends in "...".
std::string evidence(std::string_view s);

}  // namespace mailjar::analyzers::internal
