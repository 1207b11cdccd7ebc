#include "scp/reconcile.hpp"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <unordered_set>

#include "base/error.hpp"
#include "base/log.hpp"
#include "db/index_reader.hpp"
#include "db/index_writer.hpp"
#include "ingest/stored_record.hpp"
#include "storage/store.hpp"

namespace pacsnode::scp {

ReconcileReport reconcile(storage::Store& store, db::IndexWriter& index, const std::string& conninfo, bool rebuild) {
  ReconcileReport report;
  report.temp_files_removed = store.clean_temp();
  if (rebuild) db::clear_index(conninfo);

  std::unordered_set<std::string> indexed;
  for (auto& path : db::all_file_paths(conninfo)) indexed.insert(std::move(path));

  // Submit every unindexed file, then wait for all callbacks.
  std::mutex mutex;
  std::condition_variable all_done;
  std::size_t pending = 0;
  std::size_t failed = 0;
  std::unordered_set<std::string> on_disk;
  store.for_each_object([&](const std::filesystem::path& relative) {
    ++report.files_total;
    const std::string key = relative.string();
    on_disk.insert(key);
    if (indexed.count(key)) return;
    try {
      IndexRecord record = ingest::stored_file_record(store, relative);
      {
        std::lock_guard lock(mutex);
        ++pending;
      }
      index.submit(std::move(record), [&, key](db::IndexResult result) {
        std::lock_guard lock(mutex);
        if (result.outcome == db::IndexOutcome::Failed) {
          ++failed;
          log::error("reconcile: {}: {}", key, result.error);
        }
        if (--pending == 0) all_done.notify_all();
      });
      ++report.files_indexed;
    } catch (const std::exception& e) {
      ++report.files_unreadable;
      log::error("reconcile: {} cannot be indexed: {}", key, e.what());
    }
  });
  {
    std::unique_lock lock(mutex);
    all_done.wait(lock, [&] { return pending == 0; });
  }
  report.files_indexed -= failed;

  std::vector<std::string> missing;
  for (const auto& path : indexed) {
    if (!on_disk.count(path)) missing.push_back(path);
  }
  if (!missing.empty()) {
    for (const auto& path : missing) log::error("reconcile: index row for {} has no file: removing the row", path);
    db::delete_instances_by_file_paths(conninfo, missing);
    report.rows_removed = missing.size();
  }
  return report;
}

}  // namespace pacsnode::scp
