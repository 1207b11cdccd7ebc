#pragma once
// A private PostgreSQL cluster under <data_dir>/pg: initdb on first use, pg_ctl start/stop,
// Unix socket only (no TCP), run as an unprivileged user when we are root.
#include <filesystem>
#include <string>

namespace pacsnode::app {

struct EmbeddedPostgresSettings {
  std::filesystem::path cluster_dir;   // <data_dir>/pg
  std::string run_as_user = "postgres";  // used only when running as root
  std::filesystem::path bin_dir;       // empty: auto-detect /usr/lib/postgresql/<newest>/bin
};

class EmbeddedPostgres {
 public:
  explicit EmbeddedPostgres(EmbeddedPostgresSettings settings);
  ~EmbeddedPostgres();  // stops the cluster if this object started it
  EmbeddedPostgres(const EmbeddedPostgres&) = delete;
  EmbeddedPostgres& operator=(const EmbeddedPostgres&) = delete;

  // initdb if the cluster does not exist, then start it and wait until it accepts
  // connections; creates the "pacsnode" database on first start. Throws pacsnode::Error
  // with pg_ctl's log tail on failure.
  void start();
  // pg_ctl stop -m fast; idempotent.
  void stop();
  // True if a postmaster is running on this cluster (ours or another process's).
  bool is_running() const;
  // libpq connection string for the cluster's socket ("host=<socket dir> dbname=pacsnode ...").
  std::string conninfo() const;

 private:
  EmbeddedPostgresSettings settings_;
  bool started_by_us_ = false;
};

}  // namespace pacsnode::app
