#pragma once
// The pooled connection's definition, for db/*.cpp only (it includes libpqxx).
#include <pqxx/pqxx>

#include <string>

#include "db/connection_pool.hpp"

namespace pacsnode::db {

struct PooledConnection {
  explicit PooledConnection(const std::string& conninfo) : connection(conninfo) {}
  pqxx::connection connection;
};

}  // namespace pacsnode::db
