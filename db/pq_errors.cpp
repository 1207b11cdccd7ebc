#include "db/pq_errors.hpp"

#include <fmt/format.h>
#include <pqxx/pqxx>

#include "base/error.hpp"

namespace pacsnode::db::detail {

void rethrow_translated(const char* what) {
  try {
    throw;
  } catch (const pacsnode::Error&) {
    throw;
  } catch (const pqxx::broken_connection& e) {
    throw Error(ErrorCode::Unavailable, fmt::format("database {}: cannot reach the server: {}", what, e.what()));
  } catch (const pqxx::sql_error& e) {
    throw Error(ErrorCode::Internal,
                fmt::format("database {}: {} (SQLSTATE {}){}", what, e.what(), e.sqlstate(),
                            e.query().empty() ? "" : " in: " + e.query().substr(0, 200)));
  } catch (const pqxx::failure& e) {
    throw Error(ErrorCode::Internal, fmt::format("database {}: {}", what, e.what()));
  } catch (const pqxx::usage_error& e) {
    throw Error(ErrorCode::Internal, fmt::format("database {}: {}", what, e.what()));
  }
}

}  // namespace pacsnode::db::detail
