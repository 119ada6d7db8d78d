#include "http/json.h"

#include <nlohmann/json.hpp>

namespace mailjar::http {

std::string error_body(std::string_view message, std::string_view code) {
  try {
    nlohmann::json body = {{"Error", message}, {"Code", code}};
    return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } catch (...) {
    // Only std::bad_alloc can get here; a fixed body still tells the client what happened.
    return R"({"Error":"internal error","Code":"internal"})";
  }
}

Response error_response(int status, std::string_view message, std::string_view code) {
  Response response;
  response.status = status;
  response.content_type = "application/json";
  response.body = error_body(message, code);
  return response;
}

}  // namespace mailjar::http
