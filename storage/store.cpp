#include "storage/store.hpp"

#include <fcntl.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>

#include "base/error.hpp"
#include "base/log.hpp"
#include "dicom/uid.hpp"

namespace pacsnode::storage {
namespace fs = std::filesystem;
namespace {

constexpr std::size_t kBufferSize = 1 << 20;
// objects/000 … objects/fff: a million instances make about 250 files per folder.
constexpr unsigned kFanOut = 4096;

Error io_error(const std::string& what, const fs::path& path, int err = errno) {
  const ErrorCode code = (err == ENOSPC || err == EDQUOT) ? ErrorCode::OutOfResources : ErrorCode::Unavailable;
  return Error(code, what + " " + path.string() + ": " + std::strerror(err));
}

void fsync_directory(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw io_error("cannot open folder", dir);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) throw io_error("cannot fsync folder", dir, err);
}

std::string random_name() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format(".{:016x}{:016x}.part", rng(), rng());
}

}  // namespace

struct TempFile::Hasher {
  XXH3_state_t* state = XXH3_createState();
  Hasher() { XXH3_128bits_reset(state); }
  ~Hasher() { XXH3_freeState(state); }
};

TempFile::TempFile(int fd, fs::path path) : fd_(fd), path_(std::move(path)), hasher_(std::make_unique<Hasher>()) {
  buffer_.reserve(kBufferSize);
}

TempFile::TempFile(TempFile&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      path_(std::move(other.path_)),
      buffer_(std::move(other.buffer_)),
      size_(other.size_),
      written_(other.written_),
      writeback_from_(other.writeback_from_),
      hasher_(std::move(other.hasher_)) {
  other.path_.clear();
}

TempFile& TempFile::operator=(TempFile&& other) noexcept {
  if (this != &other) {
    discard();
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
    other.path_.clear();
    buffer_ = std::move(other.buffer_);
    size_ = other.size_;
    written_ = other.written_;
    writeback_from_ = other.writeback_from_;
    hasher_ = std::move(other.hasher_);
  }
  return *this;
}

TempFile::~TempFile() { discard(); }

void TempFile::discard() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!path_.empty()) ::unlink(path_.c_str());
  path_.clear();
}

void TempFile::write(std::span<const std::uint8_t> bytes) {
  if (fd_ < 0) throw Error(ErrorCode::Internal, "write to a closed temp file");
  XXH3_128bits_update(hasher_->state, bytes.data(), bytes.size());
  size_ += bytes.size();
  if (buffer_.size() + bytes.size() > kBufferSize) flush();
  if (bytes.size() >= kBufferSize) {  // large fragments go straight through
    write_all(bytes);
    return;
  }
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
}

void TempFile::write_all(std::span<const std::uint8_t> bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw io_error("cannot write", path_);
    }
    done += static_cast<std::size_t>(n);
  }
  written_ += bytes.size();
  // A large instance: the disk starts writing what has arrived while the rest is still on
  // the network, so that the fdatasync before the answer waits only for the tail. Advisory:
  // a failure here changes nothing (fdatasync reports any error that matters).
  if (written_ - writeback_from_ >= kBufferSize) {
    ::sync_file_range(fd_, static_cast<off_t>(writeback_from_), static_cast<off_t>(written_ - writeback_from_),
                      SYNC_FILE_RANGE_WRITE);
    writeback_from_ = written_;
  }
}

void TempFile::flush() {
  write_all(buffer_);
  buffer_.clear();
}

void TempFile::flush_and_free() {
  flush();
  std::vector<std::uint8_t>().swap(buffer_);
}

void TempFile::sync() {
  flush();
  if (::fdatasync(fd_) != 0) throw io_error("cannot fdatasync", path_);
}

std::string TempFile::format_checksum(const Hasher& hasher) {
  const XXH128_hash_t h = XXH3_128bits_digest(hasher.state);
  return fmt::format("xxh3-128:{:016x}{:016x}", h.high64, h.low64);
}

std::string TempFile::checksum() const { return format_checksum(*hasher_); }

Store::Store(StorageSettings settings) : settings_(std::move(settings)) {
  std::error_code ec;
  const fs::path objects = settings_.root / "objects";
  fs::create_directories(objects, ec);
  if (ec) throw Error(ErrorCode::Unavailable, "cannot create storage folders under " + settings_.root.string() + ": " + ec.message());
  // All the fan-out folders exist before the first instance arrives, so that the hot path
  // never creates (and has to make durable) a folder.
  if (!fs::exists(objects / fmt::format("{:03x}", kFanOut - 1))) {
    for (unsigned i = 0; i < kFanOut; ++i) {
      const fs::path folder = objects / fmt::format("{:03x}", i);
      if (::mkdir(folder.c_str(), 0750) != 0 && errno != EEXIST) throw io_error("cannot create", folder);
    }
    fsync_directory(objects);
  }
}

TempFile Store::create_temp(std::string_view sop_instance_uid) {
  // In the instance's own folder: the final rename stays within one folder, and creating
  // files is spread over 4,096 folders instead of contending for one (ext4 serialises
  // creations per folder and searches the folder's block group for a free inode).
  const fs::path path = absolute(relative_path_for(sop_instance_uid)).parent_path() / random_name();
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (fd < 0) throw io_error("cannot create", path);
  return TempFile(fd, path);
}

fs::path Store::relative_path_for(std::string_view uid) const {
  if (!dicom::is_valid_uid(uid)) {
    throw Error(ErrorCode::InvalidArgument, "invalid SOP Instance UID '" + std::string(uid.substr(0, 80)) + "'");
  }
  const XXH64_hash_t h = XXH3_64bits(uid.data(), uid.size());
  return fs::path("objects") / fmt::format("{:03x}", h % kFanOut) / (std::string(uid) + ".dcm");
}

fs::path resolve_under(const fs::path& root, const fs::path& relative) {
  const fs::path normal = relative.lexically_normal();
  if (normal.is_absolute() || normal.empty() || *normal.begin() == "..") {
    throw Error(ErrorCode::InvalidArgument, "path outside the storage root: " + relative.string());
  }
  return root / normal;
}

fs::path Store::absolute(const fs::path& relative) const { return resolve_under(settings_.root, relative); }

std::uint64_t Store::free_bytes() const {
  struct statvfs s {};
  if (::statvfs(settings_.root.c_str(), &s) != 0) return 0;
  return static_cast<std::uint64_t>(s.f_bavail) * s.f_frsize;
}

bool Store::below_watermark() const { return free_bytes() < settings_.min_free_bytes; }

fs::path staged_path(const fs::path& relative) {
  fs::path staged = relative;
  staged += ".new";
  return staged;
}

namespace {

bool rename_noreplace(const fs::path& from, const fs::path& to) {
  // renameat2(RENAME_NOREPLACE): atomic even when two associations send the same instance.
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return true;
  if (errno == EEXIST) return false;
  throw io_error("cannot rename into", to);
}

}  // namespace

CommitOutcome Store::commit(TempFile& temp, const fs::path& relative, bool replace) {
  const fs::path target = absolute(relative);
  const fs::path folder = target.parent_path();
  temp.sync();
  CommitOutcome outcome = CommitOutcome::Stored;
  fs::path placed = target;
  if (!rename_noreplace(temp.path(), target)) {
    if (!replace) {
      temp.discard();
      return CommitOutcome::AlreadyExists;
    }
    // The old copy stays until the new row has committed (finish_replacement).
    placed = absolute(staged_path(relative));
    if (!rename_noreplace(temp.path(), placed)) {
      throw Error(ErrorCode::Unavailable, "another copy of " + target.filename().string() +
                                              " is being stored at this moment; try again");
    }
    outcome = CommitOutcome::Replaced;
  }
  ::close(std::exchange(temp.fd_, -1));
  temp.path_.clear();  // it is the stored (or staged) file now
  try {
    fsync_directory(folder);
  } catch (const Error&) {
    // The rename may not be durable and the caller answers a failure: a new file left in
    // place would make the peer's retry an AlreadyExists, acknowledged but never indexed.
    ::unlink(placed.c_str());
    throw;
  }
  return outcome;
}

void Store::finish_replacement(const fs::path& relative) {
  const fs::path target = absolute(relative);
  if (::rename(absolute(staged_path(relative)).c_str(), target.c_str()) != 0) {
    throw io_error("cannot rename the replacement into", target);
  }
  fsync_directory(target.parent_path());
}

void Store::abandon_replacement(const fs::path& relative) noexcept {
  try {
    ::unlink(absolute(staged_path(relative)).c_str());
  } catch (...) {
  }
}

void Store::remove(const fs::path& relative) {
  std::error_code ec;
  fs::remove(absolute(relative), ec);
  if (ec) log::warn("cannot remove {}: {}", relative.string(), ec.message());
}

std::pair<std::uint64_t, std::string> Store::size_and_checksum(const fs::path& relative) const {
  const fs::path path = absolute(relative);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw io_error("cannot open", path);
  TempFile::Hasher hasher;
  std::vector<std::uint8_t> buffer(kBufferSize);
  std::uint64_t size = 0;
  for (;;) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      throw io_error("cannot read", path, err);
    }
    if (n == 0) break;
    XXH3_128bits_update(hasher.state, buffer.data(), static_cast<std::size_t>(n));
    size += static_cast<std::uint64_t>(n);
  }
  ::close(fd);
  return {size, TempFile::format_checksum(hasher)};
}

void Store::for_each_folder(const std::function<void(FolderListing&)>& visit) const {
  FolderListing listing;
  for (unsigned i = 0; i < kFanOut; ++i) {
    listing.folder = fmt::format("objects/{:03x}", i);
    listing.objects.clear();
    listing.staged.clear();
    listing.temp.clear();
    const fs::path dir = settings_.root / listing.folder;
    DIR* d = ::opendir(dir.c_str());
    if (!d) {
      if (errno == ENOENT) continue;  // created at start; gone only if someone removed it
      throw io_error("cannot list", dir);
    }
    while (const dirent* entry = ::readdir(d)) {
      const std::string_view name(entry->d_name);
      if (entry->d_type != DT_REG && entry->d_type != DT_UNKNOWN) continue;
      if (name.ends_with(".dcm")) {
        listing.objects.emplace_back(name);
      } else if (name.ends_with(".dcm.new")) {
        listing.staged.emplace_back(name);
      } else if (name.starts_with('.') && name.ends_with(".part")) {
        listing.temp.emplace_back(name);
      }
    }
    ::closedir(d);
    std::sort(listing.objects.begin(), listing.objects.end());
    visit(listing);
  }
}

}  // namespace pacsnode::storage
