#include "scp/reconcile.hpp"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <unistd.h>

#include "base/error.hpp"
#include "base/log.hpp"
#include "db/index_reader.hpp"
#include "db/index_writer.hpp"
#include "ingest/stored_record.hpp"
#include "storage/store.hpp"

namespace pacsnode::scp {
namespace {

// Files handed to the index writer and not yet answered: bounds memory when a whole store
// is re-indexed.
constexpr std::size_t kMaxPending = 256;
// Index rows without a file are deleted in batches of this many.
constexpr std::size_t kDeleteBatch = 5000;

// A replacement that a crash interrupted (storage::CommitOutcome::Replaced): the staged
// file becomes the instance's if the index committed its row (same checksum), else it was
// never acknowledged and goes.
void resolve_staged(storage::Store& store, const std::string& conninfo, storage::FolderListing& folder,
                    ReconcileReport& report) {
  for (const auto& name : folder.staged) {
    const std::string relative = folder.folder + "/" + name.substr(0, name.size() - 4);  // without ".new"
    try {
      const auto row = db::checksum_of_file(conninfo, relative);
      const auto [size, checksum] = store.size_and_checksum(storage::staged_path(relative));
      if (row && *row == checksum) {
        store.finish_replacement(relative);
        ++report.replacements_finished;
        log::warn("reconcile: {}: the replacement indexed before the crash put in place", relative);
        const std::string object = name.substr(0, name.size() - 4);
        const auto at = std::lower_bound(folder.objects.begin(), folder.objects.end(), object);
        if (at == folder.objects.end() || *at != object) folder.objects.insert(at, object);
      } else {
        store.abandon_replacement(relative);
        ++report.replacements_dropped;
        log::warn("reconcile: {}: a replacement never indexed (not acknowledged) removed; the earlier copy stays",
                  relative);
      }
    } catch (const std::exception& e) {
      log::error("reconcile: {}: cannot resolve the interrupted replacement: {}", relative, e.what());
    }
  }
}

void remove_temp(storage::Store& store, const storage::FolderListing& folder, ReconcileReport& report) {
  for (const auto& name : folder.temp) {
    if (::unlink(store.absolute(folder.folder + "/" + name).c_str()) == 0) ++report.temp_files_removed;
  }
}

}  // namespace

ReconcileReport reconcile(storage::Store& store, db::IndexWriter& index, const std::string& conninfo, bool rebuild) {
  ReconcileReport report;
  if (rebuild) {
    // The rows that say which staged replacement is the instance's go with the index.
    store.for_each_folder([&](storage::FolderListing& folder) { resolve_staged(store, conninfo, folder, report); });
    db::clear_index(conninfo);
  }

  std::mutex mutex;
  std::condition_variable changed;
  std::size_t pending = 0;
  std::size_t failed = 0;
  auto submit = [&](const std::string& key) {
    try {
      IndexRecord record = ingest::stored_file_record(store, key);
      {
        std::unique_lock lock(mutex);
        changed.wait(lock, [&] { return pending < kMaxPending; });
        ++pending;
      }
      index.submit(std::move(record), [&, key](db::IndexResult result) {
        std::lock_guard lock(mutex);
        if (result.outcome == db::IndexOutcome::Failed) {
          ++failed;
          log::error("reconcile: {}: {}", key, result.error);
        }
        --pending;
        changed.notify_all();
      });
      ++report.files_indexed;
    } catch (const std::exception& e) {
      ++report.files_unreadable;
      log::error("reconcile: {} cannot be indexed: {}", key, e.what());
    }
  };

  std::vector<std::string> missing;
  auto delete_missing = [&] {
    if (missing.empty()) return;
    report.rows_removed += static_cast<std::size_t>(db::delete_instances_by_file_paths(conninfo, missing));
    missing.clear();
  };
  auto row_without_file = [&](const std::string& path) {
    std::string absolute;
    try {
      absolute = store.absolute(path).string();
    } catch (const Error& e) {
      // Not a path of the store (a row written by hand, or a damaged index): no door can
      // serve it. Removed at once, so that the instance's own file, met later in this walk,
      // is indexed again. Such a path sorts before "objects/" unless it starts with
      // "objects/" and climbs out ("objects/../../x"): then the file came first and was kept
      // as a duplicate of this row, and it is indexed at the next start.
      log::error("reconcile: index row for {}: {}; removing the row", path, e.what());
      missing.push_back(path);
      delete_missing();
      return;
    }
    // Outside the folders the walk lists (an older layout): still there is still there.
    if (::access(absolute.c_str(), F_OK) == 0) return;
    log::error("reconcile: index row for {} has no file: removing the row", path);
    missing.push_back(path);
    if (missing.size() >= kDeleteBatch) delete_missing();
  };

  // A merge of two sorted streams: the index's file paths and the folders' listings.
  db::FilePathCursor rows(conninfo);
  store.for_each_folder([&](storage::FolderListing& folder) {
    remove_temp(store, folder, report);
    if (!rebuild) resolve_staged(store, conninfo, folder, report);
    for (const auto& name : folder.objects) {
      const std::string key = folder.folder + "/" + name;
      ++report.files_total;
      const std::string* row = rows.peek();
      for (; row && *row < key; row = rows.peek()) {
        row_without_file(*row);
        rows.pop();
      }
      if (row && *row == key) {
        rows.pop();
        continue;
      }
      submit(key);
    }
  });
  for (const std::string* row; (row = rows.peek()); rows.pop()) row_without_file(*row);
  delete_missing();
  {
    std::unique_lock lock(mutex);
    changed.wait(lock, [&] { return pending == 0; });
  }
  report.files_indexed -= failed;
  return report;
}

}  // namespace pacsnode::scp
