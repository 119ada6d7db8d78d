// NAME
//   http mailhog - MailHog's API v2 for its CI clients: GET /api/v2/messages and GET /api/v2/search, with
//   MailHog's JSON ({total, count, start, items[]}; items {ID, From{Relays, Mailbox, Domain, Params},
//   To[], Content{Headers{Name: [values]}, Body, Size, MIME}, Created, MIME, Raw{From, To[], Data, Helo}}).
// CONTRACT
//   Synchronous, on a worker thread with that thread's Store, like Api::handle. Never throws; errors are
//   JSON {"Error", "Code"} with honest statuses. `start` (default 0) and `limit` (default 50, at most
//   5000) page newest first. search: kind=from|to|containing and query (required); from/to match the
//   envelope/header addresses (substring, case-insensitive), containing the full-text index.
#pragma once

#include "http/api.h"
#include "http/router.h"
#include "store/store.h"

namespace mailjar::http {

Response mailhog_messages(const Target& target, const store::Inbox& inbox, store::Store& store);
Response mailhog_search(const Target& target, const store::Inbox& inbox, store::Store& store);

}  // namespace mailjar::http
