#include "app/data_dir_lock.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/file.h>
#include <unistd.h>
#include <utility>

#include "base/error.hpp"

namespace pacsnode::app {
namespace {

// The pid the holder wrote; 0 when it has not written it yet (it writes right after locking).
pid_t read_holder(int fd) {
  char buffer[32] = {};
  const ssize_t n = ::pread(fd, buffer, sizeof buffer - 1, 0);
  if (n <= 0) return 0;
  char* end = nullptr;
  const long pid = std::strtol(buffer, &end, 10);
  return pid > 0 ? static_cast<pid_t>(pid) : 0;
}

}  // namespace

std::optional<DataDirLock> DataDirLock::try_acquire(const std::filesystem::path& data_dir, pid_t* holder) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) throw Error(ErrorCode::Unavailable, "cannot create data directory " + data_dir.string() + ": " + ec.message());

  const auto path = data_dir / "pacsnode.lock";
  // CLOEXEC: a child (the postmaster) inheriting the descriptor would keep the lock alive
  // after we exit.
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(ErrorCode::Unavailable, "cannot open " + path.string() + ": " + std::strerror(errno));
  // flock, not fcntl locks: fcntl locks belong to the process and vanish when any descriptor
  // of the file is closed, and a second lock from the same process would succeed.
  int rc;
  do {
    rc = ::flock(fd, LOCK_EX | LOCK_NB);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    const int error = errno;
    if (error == EWOULDBLOCK) {
      if (holder != nullptr) *holder = read_holder(fd);
      ::close(fd);
      return std::nullopt;
    }
    ::close(fd);
    throw Error(ErrorCode::Unavailable, "cannot lock " + path.string() + ": " + std::strerror(error));
  }
  // The pid is for people and for the refusal message; the lock itself is the flock.
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    const int error = errno;
    ::close(fd);
    throw Error(ErrorCode::Unavailable, "cannot write " + path.string() + ": " + std::strerror(error));
  }
  return DataDirLock(fd);
}

DataDirLock::DataDirLock(DataDirLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

DataDirLock& DataDirLock::operator=(DataDirLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

// The file stays: unlinking it would let a third process lock a new file while a second
// still waits on the old one.
DataDirLock::~DataDirLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace pacsnode::app
