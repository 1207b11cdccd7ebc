#include "app/database_runtime.hpp"

#include "app/embedded_postgres.hpp"
#include "base/log.hpp"

namespace pacsnode::app {

DatabaseRuntime::DatabaseRuntime(const Config& config, bool serving) {
  if (!config.database_url.empty()) {
    conninfo_ = config.database_url;
    return;
  }
  EmbeddedPostgresSettings settings;
  settings.cluster_dir = config.data_dir / "pg";
  settings.run_as_user = config.embedded_user;
  settings.adopt_orphan = serving;
  embedded_ = std::make_unique<EmbeddedPostgres>(settings);
  embedded_->start();
  conninfo_ = embedded_->conninfo();
}

DatabaseRuntime::~DatabaseRuntime() {
  if (embedded_) {
    try {
      embedded_->stop();
    } catch (const std::exception& e) {
      log::error("stopping the embedded PostgreSQL: {}", e.what());
    }
  }
}

}  // namespace pacsnode::app
