#pragma once
// A private PostgreSQL cluster under <data_dir>/pg: initdb on first use, pg_ctl start/stop,
// Unix socket only (no TCP), run as an unprivileged user when we are root.
#include <filesystem>
#include <optional>
#include <string>
#include <sys/types.h>
#include <utility>
#include <vector>

namespace pacsnode::app {

struct EmbeddedPostgresSettings {
  std::filesystem::path cluster_dir;   // <data_dir>/pg
  std::string run_as_user = "postgres";  // used only when running as root
  std::filesystem::path bin_dir;       // empty: auto-detect /usr/lib/postgresql/<newest>/bin
  // `serve`, which holds the data-directory lock: a server found running that no live
  // command started (a crashed serve's) is adopted — used and stopped at exit like one we
  // started. Commands (db, jobs, rules …) leave a running server alone.
  bool adopt_orphan = false;
};

class EmbeddedPostgres {
 public:
  // Resolves the binaries and, when root, the OS user (falling back to "nobody" if
  // run_as_user does not exist). Throws pacsnode::Error(Config) if no PostgreSQL is installed.
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
  // Who started the running server, from <cluster_dir>/pacsnode-owner ("serve <pid>" or
  // "command <pid>", written after each start by us, removed at our stop).
  struct Owner {
    std::string role;  // "serve", "command"; empty when there is no marker
    long pid = 0;
  };
  Owner owner() const;
  // True if a postmaster is running on this cluster (ours or another process's).
  bool is_running() const;
  // libpq connection string for the cluster's socket ("host=<socket dir> dbname=pacsnode ...").
  std::string conninfo() const;

  // The server binaries in use (psql and pg_dump are there too).
  const std::filesystem::path& bin_dir() const { return bin_dir_; }
  // Where the server's Unix socket lives: the cluster directory, or /tmp/pacsnode-<hash>
  // when <cluster_dir>/.s.PGSQL.5432 would exceed the 107-byte socket path limit.
  std::filesystem::path socket_dir() const;
  // The OS user the server runs as: empty when we are not root (it runs as us).
  const std::string& os_user() const { return os_user_; }

 private:
  std::pair<int, std::string> run_tool(const std::string& tool, std::vector<std::string> args) const;
  void check_parents_traversable() const;
  void initdb();
  void prepare_config();
  void prepare_socket_dir() const;
  void fix_ownership() const;
  std::string log_tail() const;
  void write_owner() const;

  EmbeddedPostgresSettings settings_;
  bool started_by_us_ = false;
  std::filesystem::path bin_dir_;
  std::string os_user_;  // set only when we are root
  uid_t uid_ = 0;
  gid_t gid_ = 0;
  std::vector<gid_t> groups_;
};

}  // namespace pacsnode::app
