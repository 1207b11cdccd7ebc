#pragma once
// Instance files under the storage root: temp files written while an instance arrives,
// made durable and atomically renamed into place, read back, reconciled at start.
//
// Layout: <root>/objects/<hhh>/<SOPInstanceUID>.dcm, where hhh is 12 bits of a hash of the
// UID in hex (4,096 folders, created up front: no folder grows huge, and storing an instance
// never creates a folder). One SOP Instance UID has exactly
// one path whatever its study says, so "is it stored?" is one stat and a duplicate can be
// detected atomically by the rename itself. A temp file (.<random>.part) lives in the
// folder its instance will have, so the rename is atomic and stays within one folder.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pacsnode::storage {

struct StorageSettings {
  std::filesystem::path root;               // absolute
  std::uint64_t min_free_bytes = 1ull << 30;  // refuse new instances below this
};

// A file being received. Writes are buffered; the checksum (XXH3-128) is computed as the
// bytes go by, so that no second read is needed. Removed on destruction unless committed.
class TempFile {
 public:
  TempFile(TempFile&&) noexcept;
  TempFile& operator=(TempFile&&) noexcept;
  ~TempFile();

  void write(std::span<const std::uint8_t> bytes);  // throws pacsnode::Error (disk full …)
  // Hands the buffered bytes to the OS (so that other readers of path() see them).
  void flush();
  // flush(), and frees the buffer: the file is complete and waits to be committed.
  void flush_and_free();
  // Flushes the buffer and fdatasyncs. Throws pacsnode::Error.
  void sync();
  const std::filesystem::path& path() const { return path_; }
  std::uint64_t size() const { return size_; }
  std::string checksum() const;  // "xxh3-128:<32 hex digits>"
  void discard() noexcept;       // close and unlink now

 private:
  friend class Store;
  TempFile(int fd, std::filesystem::path path);
  void write_all(std::span<const std::uint8_t> bytes);
  struct Hasher;
  static std::string format_checksum(const Hasher& hasher);
  int fd_ = -1;
  std::filesystem::path path_;
  std::vector<std::uint8_t> buffer_;
  std::uint64_t size_ = 0;
  std::uint64_t written_ = 0;         // bytes handed to the OS
  std::uint64_t writeback_from_ = 0;  // where the last early writeback request ended
  std::unique_ptr<Hasher> hasher_;
};

// Replaced: (replace) a copy was in place; the new file waits beside it, synced, as
// <relative>.new until the index has committed its row, then finish_replacement() renames it
// over the old copy (abandon_replacement() drops it when the commit failed). A crash between
// the two leaves both files, and start-up reconciliation keeps the one the row describes.
enum class CommitOutcome { Stored, AlreadyExists, Replaced };

// Where a replacement waits for its index commit: <relative>.new.
std::filesystem::path staged_path(const std::filesystem::path& relative);

// One folder of the store as start-up reconciliation walks it.
struct FolderListing {
  std::string folder;                  // "objects/<hhh>", relative to the root
  std::vector<std::string> objects;    // *.dcm file names, sorted bytewise
  std::vector<std::string> staged;     // *.dcm.new file names (replacements a crash interrupted)
  std::vector<std::string> temp;       // .*.part file names (interrupted transfers)
};

// `root`/`relative` for a relative path from the index, refusing (pacsnode::Error
// InvalidArgument) an absolute path, an empty one, or one that leaves the root. Every
// path read from the index goes through this (Store::absolute is this with its root).
std::filesystem::path resolve_under(const std::filesystem::path& root, const std::filesystem::path& relative);

class Store {
 public:
  explicit Store(StorageSettings settings);  // creates root/objects and its 4,096 folders

  const std::filesystem::path& root() const { return settings_.root; }
  // A temp file for the instance with this (valid) SOP Instance UID.
  TempFile create_temp(std::string_view sop_instance_uid);
  // objects/<hhh>/<uid>.dcm. Throws pacsnode::Error(InvalidArgument) for an invalid UID:
  // no path is ever built from an unchecked value.
  std::filesystem::path relative_path_for(std::string_view sop_instance_uid) const;
  // Resolves a relative path from the index, refusing anything that leaves the root.
  std::filesystem::path absolute(const std::filesystem::path& relative) const;
  // Free space on the storage file system is below the watermark.
  bool below_watermark() const;
  std::uint64_t free_bytes() const;

  // Makes `temp` the file at `relative`: sync, rename never over an existing file, fsync of
  // the folder so the rename is durable. When a copy is there: AlreadyExists (temp
  // discarded), or with `replace` the file is staged (Replaced, above). Throws
  // pacsnode::Error, and then nothing changed: when the folder's fsync fails the renamed
  // file is removed again; a second replacement of the same instance while one waits for
  // its commit is refused (Unavailable: the sender retries).
  CommitOutcome commit(TempFile& temp, const std::filesystem::path& relative, bool replace);
  // After the index committed the staged replacement's row: rename it over the old copy,
  // fsync the folder. Throws pacsnode::Error (the next start finishes it: the row says so).
  void finish_replacement(const std::filesystem::path& relative);
  // The index commit failed: the old copy and its row stay, the staged file goes.
  void abandon_replacement(const std::filesystem::path& relative) noexcept;
  void remove(const std::filesystem::path& relative);

  // Size and checksum of a stored file, as a TempFile would have computed them.
  std::pair<std::uint64_t, std::string> size_and_checksum(const std::filesystem::path& relative) const;

  // The 4,096 folders in order (objects/000 … objects/fff, which is also the bytewise order
  // of their paths), each listed once, one at a time: memory holds one folder's names.
  void for_each_folder(const std::function<void(FolderListing&)>& visit) const;

 private:
  StorageSettings settings_;
};

}  // namespace pacsnode::storage
