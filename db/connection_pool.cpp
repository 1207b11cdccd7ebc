#include "db/connection_pool.hpp"

#include "db/pooled_connection.hpp"

#include "db/pq_errors.hpp"

namespace pacsnode::db {

ConnectionPool::ConnectionPool(std::string conninfo, std::size_t max_idle)
    : conninfo_(std::move(conninfo)), max_idle_(max_idle) {}

ConnectionPool::~ConnectionPool() = default;

ConnectionPool::Lease::Lease(ConnectionPool& pool, std::unique_ptr<PooledConnection> connection)
    : pool_(&pool), connection_(std::move(connection)) {}

ConnectionPool::Lease::Lease(Lease&& other) noexcept
    : pool_(other.pool_), connection_(std::move(other.connection_)), broken_(other.broken_) {}

ConnectionPool::Lease::~Lease() {
  if (connection_ && !broken_ && connection_->connection.is_open()) pool_->give_back(std::move(connection_));
}

ConnectionPool::Lease ConnectionPool::acquire() {
  {
    std::lock_guard lock(mutex_);
    while (!idle_.empty()) {
      auto connection = std::move(idle_.back());
      idle_.pop_back();
      if (connection->connection.is_open()) return Lease(*this, std::move(connection));
    }
  }
  return detail::translate_errors("connect", [&] { return Lease(*this, std::make_unique<PooledConnection>(conninfo_)); });
}

void ConnectionPool::give_back(std::unique_ptr<PooledConnection> connection) {
  std::lock_guard lock(mutex_);
  if (idle_.size() < max_idle_) idle_.push_back(std::move(connection));
}

}  // namespace pacsnode::db
