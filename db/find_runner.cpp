// run_find: executes what build_find_sql built (db/find_query.hpp).
#include "db/find_query.hpp"
#include "db/pooled_connection.hpp"
#include "db/pq_errors.hpp"

namespace pacsnode::db {

std::vector<std::vector<std::string>> run_find(const std::string& conninfo, const SqlQuery& query) {
  return detail::translate_errors("find", [&] {
    pqxx::connection conn(conninfo);
    pqxx::read_transaction tx(conn);
    const auto result = tx.exec_params(query.sql, pqxx::prepare::make_dynamic_params(query.params));
    return rows_as_text(result);
  });
}

}  // namespace pacsnode::db
