#pragma once
// The index record of an instance file already in storage, read back from the file alone:
// what start-up reconciliation indexes, and what a duplicate under `keep` is checked against
// (its first copy may have lost its index row to a failed commit).
#include <filesystem>

#include "base/index_record.hpp"

namespace pacsnode::storage {
class Store;
}

namespace pacsnode::ingest {

// Parses the stored file at `relative` (headers only), checks that its name matches its SOP
// Instance UID, and fills what ingest took from the association from our File Meta
// Information (Source AE Title), plus path, size and checksum. Throws pacsnode::Error.
IndexRecord stored_file_record(const storage::Store& store, const std::filesystem::path& relative);

}  // namespace pacsnode::ingest
