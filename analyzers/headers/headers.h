// NAME
//   headers - the header sanity analyzer: is this message's header what RFC 5322 and receiving mail
//   systems expect of a message sent to real people?
// STANDARDS
//   RFC 5322 (3.6: required and single-instance fields, 2.1.1 line length, 3.3 date-time, 3.6.4
//   msg-id), RFC 2045 (MIME-Version), RFC 6532 / RFC 6531 (UTF-8 headers need SMTPUTF8),
//   RFC 2369 / RFC 8058 (List-Unsubscribe), RFC 5321 4.4 (Return-Path is added at final delivery).
// CONTRACT
//   Pure: reads only its Input and Context.now_ms. Findings and their ids are listed in headers.cpp.
#pragma once

#include <memory>

#include "analyzers/analyzer.h"

namespace mailjar::analyzers {

std::unique_ptr<Analyzer> make_headers_analyzer();

}  // namespace mailjar::analyzers
