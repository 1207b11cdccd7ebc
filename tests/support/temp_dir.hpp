#pragma once
// A fresh directory for one test, removed with everything in it when the test ends.
#include <filesystem>
#include <string_view>

namespace pacsnode::test {

class TempDir {
 public:
  // Creates /tmp/<prefix>-XXXXXX, mode 0755. Short on purpose: a PostgreSQL socket path
  // must stay under 108 bytes. World-traversable because the embedded cluster runs as
  // another user (postgres) when the tests run as root.
  explicit TempDir(std::string_view prefix = "pn");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace pacsnode::test
