// NAME
//   http json helpers - the one shape of every HTTP error body: {"Error": "<human message>", "Code":
//   "<stable_code>"}, shared by the API handlers and the listener (413, 400, 503 it answers itself).
// CONTRACT
//   Never throws. Invalid UTF-8 in the message is replaced (U+FFFD), never an exception.
#pragma once

#include <string>
#include <string_view>

#include "http/message.h"

namespace mailjar::http {

std::string error_body(std::string_view message, std::string_view code);

Response error_response(int status, std::string_view message, std::string_view code);

}  // namespace mailjar::http
