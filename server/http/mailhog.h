// NAME
//   http mailhog - MailHog's API v2 for its CI clients: GET /api/v2/messages and GET /api/v2/search, with
//   MailHog's JSON ({total, count, start, items[]}; items {ID, From{Relays, Mailbox, Domain, Params},
//   To[], Content{Headers{Name: [values]}, Body, Size, MIME}, Created, MIME, Raw{From, To[], Data, Helo}}).
// CONTRACT
//   Synchronous, on a worker thread with that thread's Store, like Api::handle. Never throws; errors are
//   JSON {"Error", "Code"} with honest statuses. `start` (default 0) and `limit` (default 50, at most
//   5000) page newest first. search: kind=from|to|containing and query (required); from/to match the
//   envelope/header addresses (substring, case-insensitive), containing the full-text index.
//   Bounded (MailHogLimits): a message's Content.Body, Raw.Data and header block are cut to max_body
//   bytes, a cut one ending in the marker "\r\n[mailjar: truncated at N of M bytes; GET
//   /api/v1/message/{ID}/raw for the whole message]" (Content.Size stays the whole size); a page ends
//   early once its JSON reaches max_reply bytes (count then says how many items it has; at least one),
//   so one request holds about max_reply plus one stored message, whatever is stored.
#pragma once

#include <cstddef>

#include "http/mailhog_limits.h"
#include "http/message.h"
#include "http/router.h"
#include "store/store.h"

namespace mailjar::http {

Response mailhog_messages(const Target& target, const store::Inbox& inbox, store::Store& store,
                          const MailHogLimits& limits = {});
Response mailhog_search(const Target& target, const store::Inbox& inbox, store::Store& store,
                        const MailHogLimits& limits = {});

}  // namespace mailjar::http
