#pragma once
// Brings the index and the files on disk back into agreement: at every start (after a crash,
// a file may be in place whose index row never committed, and leftovers of interrupted
// transfers are left as .part files), and for `pacsnode db reindex` (disaster recovery: the index is
// rebuilt from the files alone). One pass over the folders and one over the index in the
// same (bytewise) order, merged: the time is the listing's, and memory holds one folder's
// names and one chunk of index rows whatever the store's size.
#include <cstddef>
#include <string>

namespace pacsnode {
namespace storage {
class Store;
}
namespace db {
class IndexWriter;
}
}  // namespace pacsnode

namespace pacsnode::scp {

struct ReconcileReport {
  std::size_t temp_files_removed = 0;
  std::size_t files_indexed = 0;      // on disk, not in the index: indexed now
  std::size_t rows_removed = 0;       // in the index, file missing: row deleted
  std::size_t files_unreadable = 0;   // on disk, cannot be parsed: left alone, logged
  std::size_t files_total = 0;
  std::size_t replacements_finished = 0;  // staged, indexed, crash before the rename: put in place
  std::size_t replacements_dropped = 0;   // staged, never indexed: removed (the old copy stays)
};

// With `rebuild`, the index is emptied first and every file re-indexed.
ReconcileReport reconcile(storage::Store& store, db::IndexWriter& index, const std::string& conninfo, bool rebuild);

}  // namespace pacsnode::scp
