#pragma once
// One writer connection of the IndexWriter: writes a batch of records in one transaction.
// Internal to db/ (index_writer.cpp); does not include libpqxx.
#include <memory>
#include <string>
#include <vector>

#include "base/index_record.hpp"
#include "db/index_writer.hpp"

namespace pacsnode::db::detail {

class IndexSession {
 public:
  // Connects now. Throws pacsnode::Error(Unavailable) when it cannot.
  // `route_arrivals` false: the session sets pacsnode.routing = off (IndexWriterSettings).
  IndexSession(std::string conninfo, DuplicatePolicy duplicates, bool route_arrivals = true);
  ~IndexSession();
  IndexSession(const IndexSession&) = delete;
  IndexSession& operator=(const IndexSession&) = delete;

  // Writes the records in one transaction and returns one result per record, in order,
  // once that transaction has committed (or failed for good). A record the database
  // rejects fails alone; a lost connection or a serialization failure retries the batch
  // (bounded, with jittered back-off). Never throws.
  std::vector<IndexResult> write(const std::vector<const IndexRecord*>& records);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pacsnode::db::detail
