#include "db/find_cursor.hpp"

#include "db/pooled_connection.hpp"

#include <optional>

#include "db/pq_errors.hpp"

namespace pacsnode::db {

struct FindCursor::Impl {
  ConnectionPool::Lease lease;
  std::optional<pqxx::read_transaction> transaction;
  explicit Impl(ConnectionPool& pool) : lease(pool.acquire()) { transaction.emplace((*lease).connection); }
  ~Impl() {
    try {
      transaction->abort();  // read-only: nothing to keep; closes the cursor
    } catch (...) {
      lease.mark_broken();
    }
  }
};

FindCursor::FindCursor(ConnectionPool& pool, const SqlQuery& query) {
  detail::translate_errors("find", [&] {
    impl_ = std::make_unique<Impl>(pool);
    try {
      impl_->transaction->exec_params("DECLARE find_cursor NO SCROLL CURSOR FOR " + query.sql,
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

}  // namespace pacsnode::db
