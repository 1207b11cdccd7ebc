#pragma once
// For db/*.cpp only (it includes libpqxx): the pooled connection's definition, and
// results as text.
#include <pqxx/pqxx>

#include <string>
#include <unordered_map>

#include <string>
#include <vector>

#include "db/connection_pool.hpp"
#include "db/pq_errors.hpp"

namespace pacsnode::db {

// A result's rows as text, NULL as "".
inline std::vector<std::vector<std::string>> rows_as_text(const pqxx::result& result) {
  std::vector<std::vector<std::string>> rows;
  rows.reserve(result.size());
  for (const auto& row : result) {
    auto& out = rows.emplace_back();
    for (const auto& field : row) out.emplace_back(field.is_null() ? "" : field.c_str());
  }
  return rows;
}

struct PooledConnection {
  // Cursors on these connections (C-FIND, QIDO-RS) are read to the end, so they are
  // planned for all their rows: with the default cursor_tuple_fraction (0.1) PostgreSQL walks
  // an index in ORDER BY order filtering on, say, the patient name, rather than using the
  // name index and sorting the few matches. Set once per connection, not per query (a
  // round trip fewer for every query).
  explicit PooledConnection(const std::string& conninfo) : connection(conninfo) {
    pqxx::nontransaction(connection).exec("SET cursor_tuple_fraction = 1");
  }
  pqxx::connection connection;
  // Statements prepared on this connection, by SQL text (db::find_all): a viewer asks the
  // same few query shapes again and again, and parsing and planning them was most of
  // PostgreSQL's part of a small query.
  std::unordered_map<std::string, std::string> prepared;
};

// Runs fn(tx) in one transaction on a pooled connection and commits; a connection that
// broke is not given back. Errors are translated as detail::translate_errors does.
template <typename Fn>
auto in_transaction(ConnectionPool& pool, const char* what, Fn&& fn) -> decltype(fn(std::declval<pqxx::work&>())) {
  auto lease = pool.acquire();
  try {
    return detail::translate_errors(what, [&] {
      pqxx::work tx((*lease).connection);
      auto result = fn(tx);
      tx.commit();
      return result;
    });
  } catch (...) {
    if (!(*lease).connection.is_open()) lease.mark_broken();
    throw;
  }
}

}  // namespace pacsnode::db
