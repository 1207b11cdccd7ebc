#pragma once
// A C-FIND result read in batches through a server-side cursor, so that the first matches
// go out before the query has produced the last one and memory stays flat however many
// rows match. Not thread-safe: one caller at a time (it may be a different thread each
// time). This header does not include libpqxx.
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "db/connection_pool.hpp"
#include "db/find_query.hpp"

namespace pacsnode::db {

class FindCursor {
 public:
  // Takes a connection from `pool`, opens a read-only transaction and declares the cursor
  // for `query`. Throws pacsnode::Error: Unavailable when the server cannot be reached,
  // Internal otherwise.
  FindCursor(ConnectionPool& pool, const SqlQuery& query);
  ~FindCursor();  // ends the transaction; the connection goes back to the pool
  FindCursor(const FindCursor&) = delete;
  FindCursor& operator=(const FindCursor&) = delete;

  // The next at most `n` rows as text (NULL as ""); fewer than `n` (possibly none) at the
  // end. Throws like the constructor.
  std::vector<std::vector<std::string>> fetch(std::size_t n);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Every row of `query` in one statement (one round trip, no transaction or cursor): for
// queries whose SQL LIMIT keeps the answer small. Throws like FindCursor.
std::vector<std::vector<std::string>> find_all(ConnectionPool& pool, const SqlQuery& query);

// PostgreSQL's plan (EXPLAIN text) for `query` declared exactly as FindCursor declares it,
// parameters bound: what tests assert index use on. Throws like FindCursor.
std::string explain_find(ConnectionPool& pool, const SqlQuery& query);

}  // namespace pacsnode::db
