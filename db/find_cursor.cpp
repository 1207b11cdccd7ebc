#include "db/find_cursor.hpp"

#include <pqxx/pqxx>

#include "db/pq_errors.hpp"

namespace pacsnode::db {

struct FindCursor::Impl {
  pqxx::connection connection;
  pqxx::read_transaction transaction;
  explicit Impl(const std::string& conninfo) : connection(conninfo), transaction(connection) {}
};

FindCursor::FindCursor(const std::string& conninfo, const SqlQuery& query) {
  detail::translate_errors("find", [&] {
    impl_ = std::make_unique<Impl>(conninfo);
    impl_->transaction.exec_params("DECLARE find_cursor NO SCROLL CURSOR FOR " + query.sql,
                                   pqxx::prepare::make_dynamic_params(query.params));
  });
}

FindCursor::~FindCursor() = default;

std::vector<std::vector<std::string>> FindCursor::fetch(std::size_t n) {
  return detail::translate_errors("find", [&] {
    const auto result = impl_->transaction.exec("FETCH FORWARD " + std::to_string(n) + " FROM find_cursor");
    std::vector<std::vector<std::string>> rows;
    rows.reserve(result.size());
    for (const auto& row : result) {
      auto& out = rows.emplace_back();
      for (const auto& field : row) out.emplace_back(field.is_null() ? "" : field.c_str());
    }
    return rows;
  });
}

}  // namespace pacsnode::db
