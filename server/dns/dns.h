// NAME
//   dns - the questions analyzers ask the DNS, the answers they get, and the asynchronous Resolver
//   interface that answers them (the c-ares resolver, zone files and per-inbox overrides implement it;
//   tests use a fake).
// STANDARDS
//   RFC 1035 (types, names, rcodes), RFC 2308 (NXDOMAIN and NODATA), RFC 3596 (AAAA).
// CONTRACT
//   Value types are plain data. A Resolver never blocks its caller: resolve() returns at once and calls
//   `done` exactly once, later, from any thread (or at once on the calling thread when it can answer from
//   memory), with one Answer per question, in order. Thread-safe. Record text forms: A and AAAA as
//   printed addresses, MX as "PREFERENCE HOST", TXT as its strings joined, PTR/CNAME/NS as the name,
//   names lower-case without the final dot.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace mailjar::dns {

enum class Type : uint16_t { kA = 1, kNS = 2, kCNAME = 5, kPTR = 12, kMX = 15, kTXT = 16, kAAAA = 28 };
std::string_view to_string(Type type);  // "A", "TXT", ...

struct Question {
  std::string name;  // lower-case, no final dot (see question())
  Type type = Type::kA;
  friend bool operator==(const Question&, const Question&) = default;
  friend auto operator<=>(const Question&, const Question&) = default;
};

// A question with its name normalised: ASCII letters lowered, one final dot removed.
Question question(std::string_view name, Type type);

enum class Status {
  kOk,        // records (possibly none: NODATA)
  kNxDomain,  // the name does not exist
  kServFail,  // the server failed (RFC 7208 and 7489 call this a temporary error)
  kTimeout,   // no answer in time (also: the analysis budget ran out before the answer came)
  kError,     // anything else: refused, malformed answer, no resolver
};
std::string_view to_string(Status status);  // "ok", "nxdomain", ...

enum class Source { kNetwork, kOverride, kCache };
std::string_view to_string(Source source);  // "network", "override", "cache"

struct Answer {
  Question question;
  Status status = Status::kError;
  std::vector<std::string> records;  // in the text forms above; empty unless kOk
  uint32_t ttl = 0;                  // seconds (the smallest of the records')
  Source source = Source::kNetwork;
  std::string detail;  // why, for kError/kServFail/kTimeout; may be empty
};

class Resolver {
 public:
  virtual ~Resolver() = default;
  virtual void resolve(std::vector<Question> questions, std::function<void(std::vector<Answer>)> done) = 0;
};

}  // namespace mailjar::dns
