// NAME
//   analyzers/rfc5322 - the pieces of RFC 5322 that analyzers read headers with: whitespace and comments
//   (CFWS), addr-specs and address lists, dates, msg-ids. For any analyzer (headers, DMARC's From domain,
//   ...); they read header values as mime::parse_detail gives them (unfolded, not decoded).
// STANDARDS
//   RFC 5322 3.2 (lexical tokens), 3.3 and 4.3 (date-time, obsolete forms), 3.4 and 4.4 (addresses,
//   obsolete routes), 3.6.4 (msg-id); RFC 6532 (UTF-8 in atext).
// CONTRACT
//   Pure functions, any thread, never throw; every input is hostile and bounded only by its length.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mailjar::analyzers::rfc5322 {

// `s` without leading and trailing whitespace (CR and LF included: a bare CR or LF left in an unfolded
// value is trimmed too).
std::string_view trim(std::string_view s);

// Skips CFWS (whitespace and nested comments with quoted-pairs) from s[i]; false when a comment is not
// closed.
bool skip_cfws(std::string_view s, std::size_t& i);

// The domain of an addr-spec (3.4.1: local-part "@" domain, the local part a dot-atom or a quoted
// string, the domain a dot-atom or a domain literal), lower-case; nullopt when `addr` is not one.
// `in_angle`: an obsolete route ("@a,@b:") may precede it (4.4).
std::optional<std::string> addr_spec_domain(std::string_view addr, bool in_angle);

// What an address list (3.4: mailboxes and groups, display names, comments, quoted strings) holds.
struct AddressList {
  int mailboxes = 0;         // entries, in groups too, well-formed or not (empty list elements skipped)
  int addr_specs = 0;        // entries with a well-formed addr-spec
  std::string first_domain;  // lower-case domain of the first well-formed addr-spec
};
AddressList scan_address_list(std::string_view value);

// The lower-case domain of an SMTP path ("user@example.com"), "" when it has none.
std::string path_domain(std::string_view path);

// A date-time (3.3, with the obsolete forms of 4.3: two-digit years, named zones) as Unix milliseconds;
// nullopt when `value` is not one.
std::optional<int64_t> parse_date(std::string_view value);

// True when `value` is exactly one msg-id (3.6.4: [CFWS] "<" id-left "@" id-right ">" [CFWS]).
bool valid_msg_id(std::string_view value);

}  // namespace mailjar::analyzers::rfc5322
