#include "http/event_stream.h"

#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>

#include "http/json.h"
#include "http/router.h"
#include "store/thread_store.h"

namespace mailjar::http {

namespace {

// Which subscription belongs to which open connection, so that `closed` can end it. A connection that
// closes before its subscription exists is remembered as closed, and the subscription is dropped as soon
// as it is made.
struct Registry {
  std::mutex mu;
  std::map<const WsConnection*, events::Hub::SubscriberId> subscriptions;  // 0 = not yet subscribed
};

}  // namespace

WsHooks event_stream_hooks(const ApiContext& context, const Api& api) {
  auto registry = std::make_shared<Registry>();
  WsHooks hooks;
  hooks.check = [&context](const Request& request) -> std::optional<Response> {
    auto target = parse_target(request.target);
    if (!target) return error_response(400, target.error().message, "bad_request");
    const RouteMatch match = match_route("GET", target->raw_path);
    if (match.kind != RouteMatch::Kind::kFound || match.route->id != RouteId::kEvents) {
      return error_response(404, "no WebSocket at " + target->raw_path, "not_found");
    }
    if (auto refused = check_host(request, context.origin_policy)) return refused;
    return check_origin(request, context.origin_policy);
  };
  hooks.opened = [&context, &api, registry](const Request& request, std::shared_ptr<WsConnection> ws) {
    {
      std::lock_guard<std::mutex> lock(registry->mu);
      registry->subscriptions[ws.get()] = 0;
    }
    std::optional<std::string> slug;
    if (auto target = parse_target(request.target)) {
      slug = match_route("GET", target->raw_path).inbox_slug;
    }
    if (!context.post_work || !context.hub) {
      ws->close();
      return;
    }
    context.post_work([&context, &api, registry, ws, slug, request] {
      int64_t inbox_id = 0;
      auto st = store::thread_store(context.store_options);
      if (st.ok()) {
        const auto scope = api.authenticate(request, *st.value());
        std::optional<store::Inbox> inbox;
        if (slug) {
          auto found = st.value()->find_inbox_by_slug(*slug);
          if (found.ok() && found.value()) inbox = *found.value();
        } else {
          auto def = st.value()->default_inbox();
          if (def.ok()) inbox = def.value();
        }
        if (scope && inbox && (scope->admin || scope->project_id == inbox->project_id)) inbox_id = inbox->id;
      }
      if (inbox_id == 0) {
        ws->close();
        return;
      }
      std::weak_ptr<WsConnection> weak = ws;
      const auto id = context.hub->subscribe(inbox_id, [weak](const events::Event& e) {
        auto conn = weak.lock();
        if (!conn) return;
        std::string frame = "{\"Type\":";
        frame += nlohmann::json(e.type).dump();
        frame += ",\"Data\":";
        frame += e.data_json.empty() ? "null" : e.data_json;
        frame += "}";
        conn->send(std::move(frame));
      });
      bool still_open;
      {
        std::lock_guard<std::mutex> lock(registry->mu);
        auto it = registry->subscriptions.find(ws.get());
        still_open = it != registry->subscriptions.end();
        if (still_open) it->second = id;
      }
      if (!still_open) context.hub->unsubscribe(id);
    });
  };
  hooks.closed = [&context, registry](const std::shared_ptr<WsConnection>& ws) {
    events::Hub::SubscriberId id = 0;
    {
      std::lock_guard<std::mutex> lock(registry->mu);
      auto it = registry->subscriptions.find(ws.get());
      if (it == registry->subscriptions.end()) return;
      id = it->second;
      registry->subscriptions.erase(it);
    }
    if (id && context.hub) context.hub->unsubscribe(id);
  };
  return hooks;
}

}  // namespace mailjar::http
