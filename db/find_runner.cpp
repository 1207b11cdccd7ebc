// run_find: executes what build_find_sql built (db/find_query.hpp).
#include <pqxx/pqxx>

#include "db/find_query.hpp"
#include "db/pq_errors.hpp"

namespace pacsnode::db {

std::vector<std::vector<std::string>> run_find(const std::string& conninfo, const SqlQuery& query) {
  return detail::translate_errors("find", [&] {
    pqxx::connection conn(conninfo);
    pqxx::read_transaction tx(conn);
    const auto result = tx.exec_params(query.sql, pqxx::prepare::make_dynamic_params(query.params));
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
