#include "db/find_cursor.hpp"

#include "db/pooled_connection.hpp"

#include <optional>

#include "db/pq_errors.hpp"

namespace pacsnode::db {

namespace {

constexpr const char* kDeclare = "DECLARE find_cursor NO SCROLL CURSOR FOR ";

// Query shapes prepared per connection at most (find_all); others are sent unprepared.
constexpr std::size_t kMaxPrepared = 64;

// A pooled connection (its cursors planned for all rows: db/pooled_connection.hpp) in a
// read-only transaction; the transaction ends (closing the cursor) when this goes away.
struct ReadSession {
  ConnectionPool::Lease lease;
  std::optional<pqxx::read_transaction> transaction;
  explicit ReadSession(ConnectionPool& pool) : lease(pool.acquire()) {
    transaction.emplace((*lease).connection);
  }
  ~ReadSession() {
    try {
      transaction->abort();  // read-only: nothing to keep
    } catch (...) {
      lease.mark_broken();
    }
  }
};

}  // namespace

struct FindCursor::Impl : ReadSession {
  using ReadSession::ReadSession;
};

FindCursor::FindCursor(ConnectionPool& pool, const SqlQuery& query) {
  detail::translate_errors("find", [&] {
    impl_ = std::make_unique<Impl>(pool);
    try {
      impl_->transaction->exec_params(kDeclare + query.sql,
                                      pqxx::prepare::make_dynamic_params(query.params));
    } catch (...) {
      impl_->lease.mark_broken();
      throw;
    }
  });
}

FindCursor::~FindCursor() = default;

std::vector<std::vector<std::string>> FindCursor::fetch(std::size_t n) {
  return detail::translate_errors("find", [&] {
    pqxx::result result;
    try {
      result = impl_->transaction->exec("FETCH FORWARD " + std::to_string(n) + " FROM find_cursor");
    } catch (...) {
      impl_->lease.mark_broken();
      throw;
    }
    return rows_as_text(result);
  });
}

std::vector<std::vector<std::string>> find_all(ConnectionPool& pool, const SqlQuery& query) {
  return detail::translate_errors("find", [&] {
    auto lease = pool.acquire();
    pqxx::result result;
    try {
      PooledConnection& pooled = *lease;
      // A wildcard match (LIKE with a bound pattern) is planned for its pattern each time:
      // the generic plan PostgreSQL switches a prepared statement to after five runs cannot
      // use the prefix of the pattern on an index (measured: PatientName SMITH* 1.6 → 2.1 ms).
      const bool pattern = query.sql.find(" LIKE ") != std::string::npos;
      auto found = pattern ? pooled.prepared.end() : pooled.prepared.find(query.sql);
      if (!pattern && found == pooled.prepared.end() && pooled.prepared.size() < kMaxPrepared) {
        const std::string name = "pn_find_" + std::to_string(pooled.prepared.size());
        pooled.connection.prepare(name, query.sql);
        found = pooled.prepared.emplace(query.sql, name).first;
      }
      pqxx::nontransaction tx(pooled.connection);
      result = found != pooled.prepared.end()
                   ? tx.exec_prepared(found->second, pqxx::prepare::make_dynamic_params(query.params))
                   : tx.exec_params(query.sql, pqxx::prepare::make_dynamic_params(query.params));
    } catch (...) {
      if (!(*lease).connection.is_open()) lease.mark_broken();
      throw;
    }
    return rows_as_text(result);
  });
}

std::string explain_find(ConnectionPool& pool, const SqlQuery& query) {
  return detail::translate_errors("find", [&] {
    ReadSession session(pool);
    std::string plan;
    try {
      for (const auto& row : session.transaction->exec_params(std::string("EXPLAIN ") + kDeclare + query.sql,
                                                              pqxx::prepare::make_dynamic_params(query.params))) {
        plan.append(row[0].c_str()).push_back('\n');
      }
    } catch (...) {
      session.lease.mark_broken();
      throw;
    }
    return plan;
  });
}

}  // namespace pacsnode::db
