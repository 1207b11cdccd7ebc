#include "db/database.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <pqxx/pqxx>

#include "base/error.hpp"
#include "base/log.hpp"
#include "db/migrations.hpp"
#include "db/pq_errors.hpp"

namespace pacsnode::db {
namespace {

using detail::translate_errors;

// Serialises migrate() across processes and machines sharing the database. The value is
// "pacsnode" in ASCII: arbitrary, but recognisable in pg_locks.
constexpr long long kMigrationLockKey = 0x706163736e6f6465LL;

constexpr const char* kCreateMigrationsTable = R"sql(
  CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
  ))sql";

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

std::vector<detail::EmbeddedMigration> known_migrations() {
  auto span = detail::embedded_migrations();
  std::vector<detail::EmbeddedMigration> migrations(span.begin(), span.end());
  std::sort(migrations.begin(), migrations.end(), [](const auto& a, const auto& b) { return a.version < b.version; });
  return migrations;
}

struct AppliedMigration {
  std::string name;
  std::string applied_at;
};

// version → what the database recorded; empty if schema_migrations does not exist yet.
std::map<int, AppliedMigration> read_applied(pqxx::transaction_base& tx) {
  std::map<int, AppliedMigration> applied;
  if (tx.exec1("SELECT to_regclass('schema_migrations') IS NOT NULL")[0].as<bool>()) {
    for (const auto& row : tx.exec("SELECT version, name, applied_at::text FROM schema_migrations ORDER BY version")) {
      applied[row[0].as<int>()] = {row[1].as<std::string>(), row[2].as<std::string>()};
    }
  }
  return applied;
}

}  // namespace

// A connection per call: migrations and pings are rare, and a fresh connection never
// carries a broken state from an earlier failure. (The pool for queries comes later.)
struct Database::Impl {
  DatabaseSettings settings;
};

Database::Database(DatabaseSettings settings) : impl_(std::make_unique<Impl>()) {
  impl_->settings = std::move(settings);
}

Database::~Database() = default;

void Database::ping() {
  translate_errors("ping", [&] {
    pqxx::connection conn(impl_->settings.conninfo);
    pqxx::nontransaction tx(conn);
    tx.exec1("SELECT 1");
  });
}

std::vector<MigrationInfo> Database::migration_status() {
  return translate_errors("migration status", [&] {
    pqxx::connection conn(impl_->settings.conninfo);
    pqxx::read_transaction tx(conn);
    auto applied = read_applied(tx);
    std::vector<MigrationInfo> status;
    for (const auto& migration : known_migrations()) {
      MigrationInfo info{migration.version, std::string(migration.name), false, {}};
      if (auto it = applied.find(migration.version); it != applied.end()) {
        info.applied = true;
        info.applied_at = it->second.applied_at;
        applied.erase(it);
      }
      status.push_back(std::move(info));
    }
    for (const auto& [version, row] : applied) status.push_back({version, row.name, true, row.applied_at});
    return status;
  });
}

int Database::migrate() {
  return translate_errors("migrate", [&] {
    const auto migrations = known_migrations();
    pqxx::connection conn(impl_->settings.conninfo);
    int applied_count = 0;
    // One transaction per migration, each taking the advisory lock first and re-reading
    // what is applied under it: a concurrent migrate() in another process then either
    // finds the work done or waits for it. The lock ends with each transaction, which is
    // what lets a long migration commit before the next one starts.
    for (;;) {
      pqxx::work tx(conn);
      tx.exec_params("SELECT pg_advisory_xact_lock($1)", kMigrationLockKey);
      tx.exec0(kCreateMigrationsTable);
      const auto applied = read_applied(tx);
      for (const auto& [version, row] : applied) {
        const bool known = std::any_of(migrations.begin(), migrations.end(),
                                       [&](const auto& m) { return m.version == version; });
        if (!known) {
          throw Error(ErrorCode::Config,
                      fmt::format("the database has schema version {} ({}), which this pacsnode does not know "
                                  "(it knows up to {}); a newer pacsnode migrated it — upgrade this one",
                                  version, row.name, migrations.empty() ? 0 : migrations.back().version));
        }
      }
      auto pending = std::find_if(migrations.begin(), migrations.end(),
                                  [&](const auto& m) { return applied.count(m.version) == 0; });
      if (pending == migrations.end()) {
        tx.commit();
        break;
      }
      log::info("database: applying migration {}", pending->name);
      try {
        // Simple-query protocol: the file may hold many statements.
        tx.exec0(std::string(pending->sql));
      } catch (const pqxx::sql_error& e) {
        throw Error(ErrorCode::Internal, fmt::format("database migration {} failed: {} (SQLSTATE {})",
                                                     pending->name, trimmed(e.what()), e.sqlstate()));
      }
      tx.exec_params0("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", pending->version,
                      std::string(pending->name));
      tx.commit();
      ++applied_count;
    }
    if (applied_count > 0) log::info("database: {} migration(s) applied", applied_count);
    return applied_count;
  });
}

void ensure_database(const std::string& admin_conninfo, const std::string& name) {
  translate_errors("create database", [&] {
    pqxx::connection conn(admin_conninfo);
    // CREATE DATABASE cannot run inside a transaction block.
    pqxx::nontransaction tx(conn);
    if (!tx.exec_params("SELECT 1 FROM pg_database WHERE datname = $1", name).empty()) return;
    try {
      tx.exec0("CREATE DATABASE " + tx.quote_name(name));
      log::info("database: created database {}", name);
    } catch (const pqxx::sql_error& e) {
      // 42P04 duplicate_database: someone else created it between our check and now.
      if (e.sqlstate() != "42P04") throw;
    }
  });
}

}  // namespace pacsnode::db
