#pragma once
// The one path an instance takes into the node, from any door: a complete Part-10 file in
// a temp file of the store is parsed, checked against what its sender announced, synced,
// renamed into place and indexed (db/IndexWriter: committed before anyone is told the
// instance is safe; routing hears of it in the same transaction). The C-STORE SCP uses it
// for what peers send; the analyze worker for the reports and objects the node makes
// itself, STOW-RS for what HTTP clients send. Outcomes are reported; failures are pacsnode::Error, whose
// code says the cause (InvalidArgument: the data; OutOfResources: the disk; else I/O or the
// database).
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_set>

#include "base/index_record.hpp"
#include "db/index_writer.hpp"

namespace pacsnode {
class Error;
namespace storage {
class Store;
class TempFile;
enum class CommitOutcome;
}  // namespace storage
}  // namespace pacsnode

namespace pacsnode::ingest {

// Where an instance came from, as the index records it.
struct Origin {
  std::string calling_ae;       // the sender's AE title; "" for what the node made itself
  std::string called_ae;        // the AE title it was sent to
  std::string transfer_syntax;  // as stored (the file's own when empty)
};

// What the sender announced (empty: not checked): a C-STORE's command UIDs, a STOW-RS part's
// File Meta UIDs and the study of its request's path.
struct Announced {
  std::string sop_instance_uid, sop_class_uid;
  std::string study_instance_uid;
};

// A placed file, ready to be indexed.
struct Placed {
  // Set when the data set contradicts what was announced: nothing was stored.
  std::string mismatch;
  bool other_study = false;  // the mismatch is the Study Instance UID
  std::optional<IndexRecord> record;  // what to index (the kept copy's, for a kept duplicate)
  bool already_existed = false;       // a copy of this SOP Instance UID was there (kept)
  // (replace) an earlier copy is in place: the new file is staged beside it, and index()
  // puts it in the old one's place once its row has committed (storage::CommitOutcome).
  bool replaced = false;
  // Announced to the index writer from the start of place() until index() submits the
  // record (instances up to 1 MiB): a batch another association's instance is about to
  // join waits for it.
  db::Arrival arrival;
};

// The index's verdict on a placed file.
struct Indexed {
  bool ok = false;
  std::string error;          // !ok: why (the file is in place; the next start's reconciliation indexes it)
  bool indexed_late = false;  // a kept duplicate had no index row: it has one now
};

// The one mapping of a failure's cause to a DIMSE status, which C-STORE answers and STOW-RS
// gives as Failure Reason: out of space is 0xA700 (out of resources), bad input 0xC000
// (cannot understand), anything else (I/O, the database) 0x0110 (processing failure) —
// never "out of resources" by default.
std::uint16_t failure_status(const Error& error);

class Ingest {
 public:
  Ingest(storage::Store& store, db::IndexWriter& index, bool replace_duplicates);

  storage::Store& store() { return store_; }

  // Blocking (parsing, fsync): parse the complete temp file, check it, commit it under its
  // SOP Instance UID. The temp file is discarded on any failure or mismatch. Under
  // `replace`, one copy of a SOP Instance UID at a time is between here and the end of its
  // index(): a second one meanwhile is refused (Unavailable: the sender retries), so that
  // the file in place and its row always come from the same copy.
  Placed place(storage::TempFile& temp, const Announced& announced, const Origin& origin);
  // Hands a placed file's record to the index writer; `done` runs on a writer thread with
  // the outcome, after a staged replacement took the old copy's place (or was dropped, when
  // the commit failed: then the old copy and its row stay as they were).
  void index(Placed placed, std::function<void(Indexed)> done);
  // The two in one, blocking until the index has committed: for what the node writes
  // itself. Returns the stored instance's record; throws pacsnode::Error when it could not
  // be stored or indexed.
  IndexRecord store_part10(std::span<const std::uint8_t> part10, const std::string& sop_instance_uid,
                           const Origin& origin);
  IndexRecord store_file(const std::filesystem::path& file, const Origin& origin);

 private:
  Indexed settle(const db::IndexResult& result, const std::filesystem::path& staged);
  void release(const std::string& sop_instance_uid);

  storage::Store& store_;
  db::IndexWriter& index_;
  bool replace_;
  std::mutex in_flight_mutex_;
  std::unordered_set<std::string> in_flight_;  // replace: SOP Instance UIDs placed, not yet indexed
};

}  // namespace pacsnode::ingest
