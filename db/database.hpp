#pragma once
// The database: connections, schema migrations. Only db/ includes libpqxx; this header
// does not.
#include <memory>
#include <string>
#include <vector>

namespace pacsnode::db {

struct DatabaseSettings {
  std::string conninfo;  // libpq connection string or URL
};

struct MigrationInfo {
  int version = 0;
  std::string name;        // file name without extension, e.g. "0001_initial"
  bool applied = false;
  std::string applied_at;  // timestamptz as text when applied
};

class Database {
 public:
  explicit Database(DatabaseSettings settings);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Opens a connection and runs "SELECT 1". Throws pacsnode::Error(Unavailable) with the
  // server's message when it cannot.
  void ping();
  // Every known migration, applied or not, in version order; then any version the database
  // holds that this binary does not know (applied, with the name recorded in the database).
  std::vector<MigrationInfo> migration_status();
  // Applies pending migrations, each in its own transaction, recording it in
  // schema_migrations; concurrent callers serialise on an advisory lock. Returns how many
  // were applied. Throws pacsnode::Error if the database holds a version this binary does
  // not know (a newer pacsnode migrated it).
  int migrate();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Creates database `name` if it does not exist, connecting with `admin_conninfo` (a role
// allowed to CREATE DATABASE, connected to another database such as "postgres"). Safe
// against a concurrent creator. Throws pacsnode::Error(Unavailable) when the server
// cannot be reached.
void ensure_database(const std::string& admin_conninfo, const std::string& name);

}  // namespace pacsnode::db
