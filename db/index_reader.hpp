#pragma once
// Reads and bulk maintenance of the index for startup reconciliation, `pacsnode db
// reindex` and tests. Each call opens its own connection (these are rare, long or both)
// and throws pacsnode::Error: Unavailable when the server cannot be reached, Internal else.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace pacsnode::db {

bool instance_exists(const std::string& conninfo, const std::string& sop_instance_uid);
std::int64_t count_instances(const std::string& conninfo);

// Calls `fn` with every indexed file path (relative to the storage root), in no particular
// order, fetching through a cursor so memory stays flat however large the index is.
void for_each_file_path(const std::string& conninfo, const std::function<void(const std::string&)>& fn);
// The same, collected.
std::vector<std::string> all_file_paths(const std::string& conninfo);

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
