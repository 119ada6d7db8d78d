// The bounds of MailHog's API v2 replies (see mailhog.h for how they apply).
#pragma once

#include <cstddef>

namespace mailjar::http {

struct MailHogLimits {
  std::size_t max_body = 1 << 20;    // --mailhog-max-body: bytes of one message's Body, Raw.Data, headers
  std::size_t max_reply = 32 << 20;  // --mailhog-max-reply: bytes of one reply's JSON (then the page ends)
};

}  // namespace mailjar::http
