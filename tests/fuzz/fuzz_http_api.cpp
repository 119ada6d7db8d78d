// libFuzzer target: whole API requests ("METHOD TARGET\nheader: value\n...\n\nbody") handled by http::Api
// against a real Store in a temporary directory: routing, the guard, every JSON body (the send request
// included, up to the building of its message), search, views. /send's message is built and dropped.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "core/id.h"
#include "http/api.h"
#include "mime/detail_cache.h"
#include "mime/mime.h"
#include "store/store.h"

namespace {

using namespace mailjar;

struct World {
  std::unique_ptr<store::Store> store;
  std::unique_ptr<http::Api> api;
  mime::DetailCache cache{1 << 20};

  World() {
    mime::init();
    char dir[] = "/tmp/mailjar-fuzz-api-XXXXXX";
    if (!mkdtemp(dir)) std::abort();
    store::StoreOptions options;
    options.data_dir = dir;
    options.sync_full = false;
    auto opened = store::Store::open(options);
    if (!opened.ok()) std::abort();
    store = std::move(opened).value();
    core::IdGenerator ids;
    const auto inbox = store->default_inbox();
    for (const char* raw :
         {"From: a@example.com\r\nSubject: one\r\n\r\nbody\r\n",
          "From: b@example.com\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n"
          "Content-Type: text/html\r\n\r\n<p>hi</p>\r\n--x\r\nContent-Disposition: attachment;"
          " filename=a.txt\r\n\r\nA\r\n--x--\r\n"}) {
      store::NewMessage m;
      m.id = ids.next(1795428000000);
      m.inbox_id = inbox->id;
      m.received_ms = 1795428000000;
      m.raw = raw;
      m.summary = mime::parse_summary(m.raw);
      if (!store->insert_messages({&m}).ok()) std::abort();
    }
    http::ApiContext context;
    context.version = "fuzz";
    context.origin_policy.loopback_only = true;
    context.detail_cache = &cache;
    context.json_limits.max_bytes = 1 << 16;
    context.submit = [](core::Envelope, std::string, std::function<void(core::Result<std::string>)> done) {
      done(std::string("01HZZZZZZZZZZZZZZZZZZZZZZZ"));
    };
    api = std::make_unique<http::Api>(context);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World world;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  http::Request request;
  const std::size_t line_end = text.find('\n');
  const std::string_view first = text.substr(0, line_end);
  const std::size_t space = first.find(' ');
  if (space == std::string_view::npos) return 0;
  request.method = std::string(first.substr(0, space));
  request.target = std::string(first.substr(space + 1));
  std::size_t pos = line_end == std::string_view::npos ? text.size() : line_end + 1;
  while (pos < text.size()) {
    const std::size_t end = std::min(text.find('\n', pos), text.size());
    const std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty()) break;
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string name(line.substr(0, colon));
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    request.headers.emplace_back(std::move(name), std::string(line.substr(colon + 1)));
  }
  if (pos < text.size()) request.body = std::string(text.substr(pos));
  http::Response response = world.api->handle(request, *world.store);
  if (response.deferred) response.deferred([](http::Response) {});
  if (response.status < 100 || response.status > 599) std::abort();
  return 0;
}
