// NAME
//   http message - the value types of one HTTP exchange as the listener and the handlers share them: a
//   parsed request, the response to write (or to deliver later), and the signal that the client left.
// CONTRACT
//   Plain data (CancelSignal is thread-safe). No Beast, no storage.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace mailjar::http {

// Fired by the listener when the client goes away while its request is being answered, so that a held
// request (a wait) can end at once instead of at its timeout. Thread-safe; the callback runs at most once:
// on the firing thread, or on the registering thread when the signal had already fired.
class CancelSignal {
 public:
  void on_cancel(std::function<void()> callback) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!fired_) {
        callback_ = std::move(callback);
        return;
      }
    }
    if (callback) callback();
  }
  void fire() {
    std::function<void()> callback;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (fired_) return;
      fired_ = true;
      callback = std::move(callback_);
    }
    if (callback) callback();
  }

 private:
  std::mutex mu_;
  bool fired_ = false;
  std::function<void()> callback_;
};

struct Request {
  std::string method;                                        // "GET", "POST", ...
  std::string target;                                        // path + optional "?query", as received
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::shared_ptr<CancelSignal> cancel;  // set by the listener; may be null (tests)
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
  std::string body;
  // Set when the answer is not ready yet (the wait API, a send waiting for its commit): the caller must
  // call deferred(reply) once, and `reply` will be called exactly once later, from any thread. The other
  // fields are then unused.
  std::function<void(std::function<void(Response)>)> deferred;
};

}  // namespace mailjar::http
