// Helpers shared by the unit test binaries (header-only, test code only).
#pragma once

#include <unistd.h>

#include <filesystem>
#include <random>
#include <string>
#include <string_view>
#include <system_error>

namespace mailjar::testing {

// A fresh directory path under the system temp dir (created unless `create` is false, for code that must
// create it itself), removed with everything in it when the object goes.
class TempDir {
 public:
  explicit TempDir(std::string_view prefix = "mailjar-test", bool create = true) {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            (std::string(prefix) + "-" + std::to_string(::getpid()) + "-" + std::to_string(rd()) +
             std::to_string(rd()));
    if (create) std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string str() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

// Test messages are written with "\n"; messages on the wire use CRLF.
inline std::string crlf(std::string_view s) {
  std::string out;
  out.reserve(s.size() + s.size() / 32);
  for (char c : s) {
    if (c == '\n') out.push_back('\r');
    out.push_back(c);
  }
  return out;
}

}  // namespace mailjar::testing
