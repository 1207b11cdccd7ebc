#pragma once
// Idle PostgreSQL connections kept for reuse by the request paths (C-FIND, C-MOVE/C-GET
// selection): a new connection costs a server process fork and authentication, several
// milliseconds that a short query should not pay. Thread-safe. This header does not include
// libpqxx.
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace pacsnode::db {

// Wraps one pqxx connection; defined in db/pooled_connection.hpp, which only db/*.cpp
// include.
struct PooledConnection;

class ConnectionPool {
 public:
  explicit ConnectionPool(std::string conninfo, std::size_t max_idle = 8);
  ~ConnectionPool();
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // A connection for one unit of work; back to the pool when the lease ends, unless it was
  // marked broken (or is no longer open).
  class Lease {
   public:
    Lease(ConnectionPool& pool, std::unique_ptr<PooledConnection> connection);
    Lease(Lease&&) noexcept;
    ~Lease();
    PooledConnection& operator*() const { return *connection_; }
    void mark_broken() { broken_ = true; }

   private:
    ConnectionPool* pool_;
    std::unique_ptr<PooledConnection> connection_;
    bool broken_ = false;
  };

  // An idle connection, or a new one. Throws pacsnode::Error(Unavailable) when the server
  // cannot be reached.
  Lease acquire();
  const std::string& conninfo() const { return conninfo_; }

 private:
  void give_back(std::unique_ptr<PooledConnection> connection);

  std::string conninfo_;
  std::size_t max_idle_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<PooledConnection>> idle_;
};

}  // namespace pacsnode::db
