#pragma once
// Reads and bulk maintenance of the index for startup reconciliation, `pacsnode db
// reindex` and tests. Each call opens its own connection (these are rare, long or both)
// and throws pacsnode::Error: Unavailable when the server cannot be reached, Internal else.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace pacsnode::db {

bool instance_exists(const std::string& conninfo, const std::string& sop_instance_uid);
std::int64_t count_instances(const std::string& conninfo);

// Every indexed file path (relative to the storage root) in bytewise order — the column's
// "C" collation, read along its unique index, which is also the order in which
// storage::Store::for_each_folder lists the files — fetched in chunks through a cursor, so
// memory stays flat however large the index is.
class FilePathCursor {
 public:
  explicit FilePathCursor(const std::string& conninfo);
  ~FilePathCursor();
  FilePathCursor(const FilePathCursor&) = delete;
  FilePathCursor& operator=(const FilePathCursor&) = delete;
  const std::string* peek();  // the next path; nullptr after the last
  void pop();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// The same, collected.
std::vector<std::string> all_file_paths(const std::string& conninfo);

// The checksum the index holds for this file path, if it has a row.
std::optional<std::string> checksum_of_file(const std::string& conninfo, const std::string& file_path);

// Deletes the instance rows that point at these files (gone from disk), in one
// transaction; the triggers fix the counts. Returns how many rows went.
std::int64_t delete_instances_by_file_paths(const std::string& conninfo, const std::vector<std::string>& file_paths);

// Empties the index (patients and everything below them), for a reindex from the files.
void clear_index(const std::string& conninfo);

// One line per instance, sorted: every column of the instance and of its series, study and
// patient except surrogate keys and timestamps, as "name='value'" (NULL unquoted). Two
// indexes with the same lines hold the same data.
std::vector<std::string> index_snapshot(const std::string& conninfo);

}  // namespace pacsnode::db
