#pragma once
// For db/*.cpp only (it includes libpqxx): the pooled connection's definition, and
// results as text.
#include <pqxx/pqxx>

#include <string>
#include <vector>

#include "db/connection_pool.hpp"

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
  explicit PooledConnection(const std::string& conninfo) : connection(conninfo) {}
  pqxx::connection connection;
};

}  // namespace pacsnode::db
