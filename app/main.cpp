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
#include "db/index_writer.hpp"
#include "scp/reconcile.hpp"
#include "scu/echo.hpp"
#include "scu/store.hpp"
#include "storage/store.hpp"

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

int run_store(const std::string& target, const std::vector<std::string>& paths, const std::string& our_aet,
              int timeout_s) {
  auto remote = scu::parse_remote(target);
  if (!remote) {
    std::cerr << "pacsnode store: '" << target << "' is not AET@HOST:PORT\n";
    return kExitConfig;
  }
  std::vector<std::string> errors;
  std::vector<std::filesystem::path> inputs(paths.begin(), paths.end());
  auto files = scu::collect_files(inputs, errors);
  net::AssociationSettings settings;
  settings.ae_title = our_aet;
  settings.artim_timeout = std::chrono::seconds(timeout_s);
  settings.connect_timeout = std::chrono::seconds(timeout_s);
  settings.idle_timeout = std::chrono::seconds(std::max(timeout_s, 60));
  settings.implementation_class_uid = kImplementationClassUid;
  settings.implementation_version_name = kImplementationVersionName;
  scu::StoreSummary summary;
  try {
    summary = scu::store_files_blocking(*remote, std::move(files), settings);
  } catch (const std::exception& e) {
    std::cerr << "pacsnode store: " << e.what() << "\n";
    return kExitFailure;
  }
  for (const auto& e : errors) summary.failures.push_back(e);
  summary.failed += errors.size();
  for (const auto& f : summary.failures) std::cerr << "failed: " << f << "\n";
  std::cout << "sent " << summary.sent << ", warnings " << summary.warnings << ", failed " << summary.failed << "\n";
  return summary.failed == 0 ? 0 : kExitFailure;
}

// `db reindex`: rebuild the index from the files (the node must not be running).
int run_reindex(const app::Config& config) {
  pid_t holder = 0;
  auto lock = app::DataDirLock::try_acquire(config.data_dir, &holder);
  if (!lock) {
    std::cerr << "pacsnode db reindex: the node is running (pid " << holder << ") on " << config.data_dir.string()
              << "; stop it first\n";
    return kExitFailure;
  }
  try {
    app::DatabaseRuntime runtime(config);
    db::Database database({runtime.conninfo()});
    database.migrate();
    storage::Store store(app::storage_settings(config));
    db::IndexWriter index(app::index_writer_settings(config, runtime.conninfo()));
    const auto report = scp::reconcile(store, index, runtime.conninfo(), true);
    index.stop();
    std::cout << "reindexed " << report.files_indexed << " of " << report.files_total << " file(s); "
              << report.files_unreadable << " unreadable\n";
    return report.files_unreadable == 0 ? 0 : kExitFailure;
  } catch (const std::exception& e) {
    std::cerr << "pacsnode db reindex: " << e.what() << "\n";
    return kExitFailure;
  }
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

  std::string store_target;
  std::vector<std::string> store_paths;
  std::string store_aet = "PACSNODE";
  int store_timeout = 30;
  auto* store_cmd = cli.add_subcommand("store", "C-STORE files and folders (recursively) to a DICOM node");
  store_cmd->add_option("target", store_target, "AET@HOST:PORT")->required();
  store_cmd->add_option("paths", store_paths, "Files and folders")->required();
  store_cmd->add_option("--aet", store_aet, "Our (calling) AE title")->capture_default_str();
  store_cmd->add_option("--timeout", store_timeout, "Seconds to wait for connection and answers")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));

  auto* db_cmd = cli.add_subcommand("db", "Database administration");
  db_cmd->require_subcommand(1);
  auto* migrate_cmd = db_cmd->add_subcommand("migrate", "Apply pending schema migrations");
  auto* status_cmd = db_cmd->add_subcommand("status", "Show schema migrations");
  auto* reindex_cmd = db_cmd->add_subcommand("reindex", "Rebuild the index from the stored files (node stopped)");
  for (auto* c : {migrate_cmd, status_cmd, reindex_cmd}) {
    c->add_option("--config,-c", config_path, "Configuration file")->capture_default_str();
  }

  CLI11_PARSE(cli, argc, argv);

  if (*echo_cmd) {
    log::init({log::Level::warn, {}});
    return run_echo(echo_target, echo_aet, echo_timeout);
  }
  if (*store_cmd) {
    log::init({log::Level::warn, {}});
    return run_store(store_target, store_paths, store_aet, store_timeout);
  }
  auto config = load(config_path);
  if (!config) return kExitConfig;
  if (*serve_cmd) {
    log::init(app::log_settings(*config));
    return app::serve(*config);
  }
  if (*db_cmd) {
    log::init({log::Level::warn, {}});
    if (reindex_cmd->parsed()) return run_reindex(*config);
    return run_db(*config, migrate_cmd->parsed());
  }
  return kExitFailure;
}
