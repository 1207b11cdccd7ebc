#pragma once
// Where the node's database is: the configured URL, or the embedded cluster under
// <data_dir>/pg (started here when no other pacsnode process is running it).
#include <memory>
#include <string>

#include "app/config.hpp"

namespace pacsnode::app {

class EmbeddedPostgres;

class DatabaseRuntime {
 public:
  // With database.url set: just that URL. Otherwise the embedded cluster: started if it
  // is not running (and then stopped by the destructor), joined if it is.
  // `serving`: for `serve`, which holds the data-directory lock and adopts an orphaned
  // embedded server (app/embedded_postgres.hpp).
  explicit DatabaseRuntime(const Config& config, bool serving = false);
  ~DatabaseRuntime();
  DatabaseRuntime(const DatabaseRuntime&) = delete;
  DatabaseRuntime& operator=(const DatabaseRuntime&) = delete;

  const std::string& conninfo() const { return conninfo_; }
  bool embedded() const { return embedded_ != nullptr; }

 private:
  std::unique_ptr<EmbeddedPostgres> embedded_;
  std::string conninfo_;
};

}  // namespace pacsnode::app
