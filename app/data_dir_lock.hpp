#pragma once
// An exclusive lock on <data_dir>/pacsnode.lock, held by `serve` for its lifetime, so a
// second `serve` on the same data directory is refused instead of corrupting anything.
#include <filesystem>
#include <optional>
#include <sys/types.h>

namespace pacsnode::app {

class DataDirLock {
 public:
  // Tries to take the lock (creating data_dir if needed). Returns nullopt if another
  // process holds it; `holder` then receives that process's pid when known.
  static std::optional<DataDirLock> try_acquire(const std::filesystem::path& data_dir, pid_t* holder = nullptr);
  DataDirLock(DataDirLock&&) noexcept;
  DataDirLock& operator=(DataDirLock&&) noexcept;
  ~DataDirLock();

 private:
  explicit DataDirLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace pacsnode::app
