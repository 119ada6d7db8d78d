#include "dns/dns.h"

#include "core/ascii.h"

namespace mailjar::dns {

std::string_view to_string(Type type) {
  switch (type) {
    case Type::kA:
      return "A";
    case Type::kNS:
      return "NS";
    case Type::kCNAME:
      return "CNAME";
    case Type::kPTR:
      return "PTR";
    case Type::kMX:
      return "MX";
    case Type::kTXT:
      return "TXT";
    case Type::kAAAA:
      return "AAAA";
  }
  return "?";
}

std::string_view to_string(Status status) {
  switch (status) {
    case Status::kOk:
      return "ok";
    case Status::kNxDomain:
      return "nxdomain";
    case Status::kServFail:
      return "servfail";
    case Status::kTimeout:
      return "timeout";
    case Status::kError:
      return "error";
  }
  return "error";
}

std::string_view to_string(Source source) {
  switch (source) {
    case Source::kNetwork:
      return "network";
    case Source::kOverride:
      return "override";
    case Source::kCache:
      return "cache";
  }
  return "network";
}

Question question(std::string_view name, Type type) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  return Question{core::ascii_lowercase(name), type};
}

}  // namespace mailjar::dns
