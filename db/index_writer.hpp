#pragma once
// The batched index writer: ingest hands it one IndexRecord per stored instance and
// acknowledges the instance only when the callback reports the rows committed. Records
// from all associations queue together and are committed in one transaction per batch
// (group commit), so durability costs one fsync per batch, not per instance.
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "base/index_record.hpp"

namespace pacsnode::db {

// What to do with an instance whose SOP Instance UID is already indexed.
enum class DuplicatePolicy {
  Keep,     // the indexed row stays; the new file is not referenced (IndexOutcome::DuplicateKept)
  Replace,  // the new record replaces the row, wherever it lives (IndexOutcome::Replaced)
};

enum class IndexOutcome { Inserted, DuplicateKept, Replaced, Failed };

struct IndexResult {
  IndexOutcome outcome = IndexOutcome::Failed;
  std::string error;  // Failed: why, for the log
  // Replaced: the old row's file_path when it differs from the new one, for the caller to
  // delete now that the commit no longer references it; empty otherwise.
  std::string replaced_file_path;
};

struct IndexWriterSettings {
  std::string conninfo;
  DuplicatePolicy duplicates = DuplicatePolicy::Keep;
  std::size_t max_batch = 500;
  // How long a writer waits for a batch to grow before committing it; 0 commits what is
  // queued when the writer becomes free (which already batches under load).
  std::chrono::microseconds max_wait{0};
  // How long a writer holding a batch waits for records announced (IndexWriter::announce)
  // but not yet submitted — an instance another association is parsing and syncing — so
  // that they share its transaction; it stops waiting as soon as none is on its way. 0: no
  // waiting. One association alone never waits: its record is the only one announced.
  std::chrono::microseconds gather_wait{2000};
  unsigned connections = 1;  // writer threads, one connection each
  // Record each batch's arrivals for routing (migration 0005's trigger). Off only to
  // rebuild an index from its files (`db reindex`): those instances were routed when
  // they first arrived.
  bool route_arrivals = true;
};

class IndexWriter;

// A record on its way to IndexWriter::submit (IndexWriter::announce): ends when it is
// submitted or destroyed unsubmitted. Move-only.
class Arrival {
 public:
  Arrival() = default;
  Arrival(Arrival&& other) noexcept : writer_(std::exchange(other.writer_, nullptr)) {}
  Arrival& operator=(Arrival&& other) noexcept;
  ~Arrival();
  bool announced() const { return writer_ != nullptr; }

 private:
  friend class IndexWriter;
  explicit Arrival(IndexWriter* writer) : writer_(writer) {}
  IndexWriter* writer_ = nullptr;
};

class IndexWriter {
 public:
  // Connects every writer at once and starts the writer threads. Throws
  // pacsnode::Error(Unavailable) when the database cannot be reached.
  explicit IndexWriter(IndexWriterSettings settings);
  // Commits everything queued, then stops (as stop()).
  ~IndexWriter();
  IndexWriter(const IndexWriter&) = delete;
  IndexWriter& operator=(const IndexWriter&) = delete;

  // Thread-safe. `done` runs exactly once, on a writer thread, after the batch holding the
  // record has committed (or failed for good). After stop() it runs at once, on the
  // caller's thread, with outcome Failed. `done` should be quick (it holds up the next
  // batch) and must not call stop(); a throw from it is logged and ignored.
  // With `arrival`: the record it announced is here (it joins the batch a writer may be
  // gathering).
  void submit(IndexRecord record, std::function<void(IndexResult)> done, Arrival arrival = {});
  // Thread-safe: a record will be submitted soon (see IndexWriterSettings::gather_wait).
  Arrival announce();
  // Refuses new records, commits everything queued, joins the writer threads. Idempotent.
  void stop();

 private:
  friend class Arrival;
  void arrived();  // an announced record was submitted or given up
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pacsnode::db
