// The `pacsnode` command: the node (`serve`) and the tools around it.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "app/config.hpp"
#include "app/data_dir_lock.hpp"
#include "app/database_runtime.hpp"
#include "app/serve.hpp"
#include "app/settings.hpp"
#include "app/version.hpp"
#include "base/log.hpp"
#include "db/database.hpp"
#include "scu/echo.hpp"

namespace {

using namespace pacsnode;

constexpr int kExitFailure = 1;
constexpr int kExitConfig = 2;

std::optional<app::Config> load(const std::string& path) {
  try {
    return app::load_config(path);
  } catch (const app::ConfigError& e) {
    std::cerr << "pacsnode: " << e.what() << "\n";
    return std::nullopt;
  }
}

int run_echo(const std::string& target, const std::string& our_aet, int timeout_s) {
  auto remote = scu::parse_remote(target);
  if (!remote) {
    std::cerr << "pacsnode echo: '" << target << "' is not AET@HOST:PORT\n";
    return kExitConfig;
  }
  net::AssociationSettings settings;
  settings.ae_title = our_aet;
  settings.artim_timeout = std::chrono::seconds(timeout_s);
  settings.connect_timeout = std::chrono::seconds(timeout_s);
  settings.idle_timeout = std::chrono::seconds(timeout_s);
  settings.implementation_class_uid = kImplementationClassUid;
  settings.implementation_version_name = kImplementationVersionName;
  const auto outcome = scu::echo_blocking(*remote, settings);
  if (!outcome.ok) {
    std::cerr << "pacsnode echo: " << remote->ae_title << "@" << remote->host << ":" << remote->port << ": "
              << outcome.message << "\n";
    return kExitFailure;
  }
  std::cout << remote->ae_title << "@" << remote->host << ":" << remote->port << ": " << outcome.message << " in "
            << outcome.elapsed.count() << " ms\n";
  return 0;
}

// `db migrate|status`: joins the running node's database, or (embedded, node not running)
// starts the cluster for the duration of the command while holding the data-dir lock.
int run_db(const app::Config& config, bool migrate) {
  std::optional<app::DataDirLock> lock;
  if (config.database_url.empty()) lock = app::DataDirLock::try_acquire(config.data_dir);
  try {
    app::DatabaseRuntime runtime(config);
    db::Database database({runtime.conninfo()});
    if (migrate) {
      const int applied = database.migrate();
      std::cout << applied << " migration(s) applied\n";
    }
    const auto status = database.migration_status();
    for (const auto& m : status) {
      std::printf("%04d  %-32s %s\n", m.version, m.name.c_str(),
                  m.applied ? ("applied " + m.applied_at).c_str() : "pending");
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "pacsnode db: " << e.what() << "\n";
    return kExitFailure;
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"pacsnode: a DICOM node for radiology departments"};
  cli.set_version_flag("--version", std::string("pacsnode ") + kVersion);
  cli.require_subcommand(1);

  std::string config_path = "etc/pacsnode.toml";

  auto* serve_cmd = cli.add_subcommand("serve", "Run the node: listen for DICOM associations");
  serve_cmd->add_option("--config,-c", config_path, "Configuration file")->capture_default_str();

  std::string echo_target;
  std::string echo_aet = "PACSNODE";
  int echo_timeout = 10;
  auto* echo_cmd = cli.add_subcommand("echo", "C-ECHO a DICOM node (exit 0 if it answers)");
  echo_cmd->add_option("target", echo_target, "AET@HOST:PORT")->required();
  echo_cmd->add_option("--aet", echo_aet, "Our (calling) AE title")->capture_default_str();
  echo_cmd->add_option("--timeout", echo_timeout, "Seconds to wait for connection and answers")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));

  auto* db_cmd = cli.add_subcommand("db", "Database administration");
  db_cmd->require_subcommand(1);
  auto* migrate_cmd = db_cmd->add_subcommand("migrate", "Apply pending schema migrations");
  auto* status_cmd = db_cmd->add_subcommand("status", "Show schema migrations");
  for (auto* c : {migrate_cmd, status_cmd}) {
    c->add_option("--config,-c", config_path, "Configuration file")->capture_default_str();
  }

  CLI11_PARSE(cli, argc, argv);

  if (*echo_cmd) {
    log::init({log::Level::warn, {}});
    return run_echo(echo_target, echo_aet, echo_timeout);
  }
  auto config = load(config_path);
  if (!config) return kExitConfig;
  if (*serve_cmd) {
    log::init(app::log_settings(*config));
    return app::serve(*config);
  }
  if (*db_cmd) {
    log::init({log::Level::warn, {}});
    return run_db(*config, migrate_cmd->parsed());
  }
  return kExitFailure;
}
