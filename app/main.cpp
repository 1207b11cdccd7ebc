// The `pacsnode` command: parses the command line and runs the node (`serve`) or one of the
// tools around it (app/commands.hpp).
#include <CLI/CLI.hpp>
#include <iostream>
#include <optional>

#include "app/commands.hpp"
#include "app/config.hpp"
#include "app/rules_commands.hpp"
#include "app/jobs_cli.hpp"
#include "app/serve.hpp"
#include "app/settings.hpp"
#include "app/version.hpp"
#include "base/log.hpp"

namespace {

using namespace pacsnode;
using app::kExitConfig;
using app::kExitFailure;

std::optional<app::Config> load(const std::string& path) {
  try {
    return app::load_config(path);
  } catch (const app::ConfigError& e) {
    std::cerr << "pacsnode: " << e.what() << "\n";
    return std::nullopt;
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

  // The options C-FIND and C-MOVE share.
  struct QrOptions {
    std::string target, level, root, aet = "PACSNODE";
    std::vector<std::string> keys;
    int timeout = 30;
  };
  const auto add_qr_options = [](CLI::App* cmd, QrOptions& o, const char* keys_help) {
    cmd->add_option("target", o.target, "AET@HOST:PORT")->required();
    cmd->add_option("--level", o.level, "Query/Retrieve Level")
        ->required()
        ->check(CLI::IsMember({"PATIENT", "STUDY", "SERIES", "IMAGE"}));
    cmd->add_option("--root", o.root, "Information model (default: patient for PATIENT level, study otherwise)")
        ->check(CLI::IsMember({"patient", "study"}));
    cmd->add_option("-k,--key", o.keys, keys_help);
    cmd->add_option("--aet", o.aet, "Our (calling) AE title")->capture_default_str();
    cmd->add_option("--timeout", o.timeout, "Seconds to wait for connection and answers")
        ->capture_default_str()
        ->check(CLI::Range(1, 3600));
  };

  QrOptions find_options;
  bool find_json = false;
  auto* find_cmd = cli.add_subcommand("find", "C-FIND a DICOM node and print the matches");
  add_qr_options(find_cmd, find_options,
                 "Key by DICOM keyword: Keyword=Value matches, Keyword alone asks for it (repeatable)");
  find_cmd->add_flag("--json", find_json, "Print the matches as JSON (the summary goes to stderr)");

  QrOptions move_options;
  std::string move_destination;
  auto* move_cmd = cli.add_subcommand("move", "C-MOVE: ask a DICOM node to send instances to an AE (e.g. us)");
  add_qr_options(move_cmd, move_options,
                 "Unique key by DICOM keyword, Keyword=Value; a UID list as uid1\\uid2 (repeatable)");
  move_cmd->add_option("--dest", move_destination, "Move Destination AE title")->required();

  std::string history_patient;
  std::string history_issuer;
  bool history_json = false;
  auto* history_cmd = cli.add_subcommand("history", "List the studies of one patient in the local index, newest first");
  history_cmd->add_option("patient_id", history_patient, "PatientID")->required();
  auto* history_issuer_opt = history_cmd->add_option("--issuer", history_issuer,
                          "IssuerOfPatientID (default: the empty issuer, i.e. PatientID without an issuer)");
  history_cmd->add_option("--config,-c", config_path, "Configuration file")->capture_default_str();
  history_cmd->add_flag("--json", history_json, "Print JSON instead of a table");
  app::FindingsQuery history_findings;
  history_cmd->add_option("--finding", history_findings.name,
                          "One finding's values over time (tracking identifier, e.g. \"right lung\", or finding name)");
  history_cmd->add_option("--tracking", history_findings.tracking_uid, "One finding's values over time, by Tracking UID");

  auto* rules_cmd = cli.add_subcommand("rules", "Routing rules: validate and list them, or try them on files");
  rules_cmd->require_subcommand(1);
  auto* rules_check_cmd = rules_cmd->add_subcommand("check", "Validate the configuration and list its rules");
  rules_check_cmd->add_option("--config,-c", config_path, "Configuration file")->capture_default_str();
  app::RulesTestOptions rules_test;
  std::string rules_calling_ae, rules_called_ae, rules_calling_host;
  auto* rules_test_cmd = rules_cmd->add_subcommand(
      "test", "Evaluate every rule on DICOM files and say why each matched or not (nothing is sent or run)");
  std::string rules_study;
  auto* paths_opt = rules_test_cmd->add_option("paths", rules_test.paths, "DICOM files and folders (recursive)");
  auto* study_opt = rules_test_cmd->add_option(
      "--study", rules_study, "Instead of files: a study in the index (its series and instances too), by StudyInstanceUID");
  paths_opt->excludes(study_opt);
  rules_test_cmd->add_option("--config,-c", config_path, "Configuration file")->capture_default_str();
  auto* calling_ae_opt = rules_test_cmd->add_option("--calling-ae", rules_calling_ae, "CallingAE for the rules (default: absent)");
  auto* called_ae_opt = rules_test_cmd->add_option("--called-ae", rules_called_ae, "CalledAE for the rules (default: absent)");
  auto* calling_host_opt =
      rules_test_cmd->add_option("--calling-host", rules_calling_host, "CallingHost for the rules (default: absent)");
  rules_test_cmd->add_flag("--json", rules_test.json, "Print JSON instead of text");
  // With --study the association fields come from the index.
  for (auto* o : {calling_ae_opt, called_ae_opt, calling_host_opt}) o->excludes(study_opt);

  auto* db_cmd = cli.add_subcommand("db", "Database administration");
  db_cmd->require_subcommand(1);
  auto* migrate_cmd = db_cmd->add_subcommand("migrate", "Apply pending schema migrations");
  auto* status_cmd = db_cmd->add_subcommand("status", "Show schema migrations");
  auto* reindex_cmd = db_cmd->add_subcommand("reindex", "Rebuild the index from the stored files (node stopped)");
  for (auto* c : {migrate_cmd, status_cmd, reindex_cmd}) {
    c->add_option("--config,-c", config_path, "Configuration file")->capture_default_str();
  }

  auto* hash_password_cmd = cli.add_subcommand(
      "hash-password", "Read a password from standard input and print its hash for [[security.users]] password_hash");

  const auto jobs_command = app::add_jobs_command(cli, config_path);

  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; every usage error is exit code 2, as documented.
    return cli.exit(e) == 0 ? 0 : kExitConfig;
  }

  if (*echo_cmd) {
    log::init({log::Level::warn, {}});
    return app::run_echo(echo_target, echo_aet, echo_timeout);
  }
  if (*store_cmd) {
    log::init({log::Level::warn, {}});
    return app::run_store(store_target, store_paths, store_aet, store_timeout);
  }
  if (*find_cmd) {
    log::init({log::Level::warn, {}});
    const auto& o = find_options;
    return app::run_find(o.target, o.level, o.root, o.keys, o.aet, o.timeout, find_json);
  }
  if (*move_cmd) {
    log::init({log::Level::warn, {}});
    const auto& o = move_options;
    return app::run_move(o.target, move_destination, o.level, o.root, o.keys, o.aet, o.timeout);
  }
  if (*hash_password_cmd) {
    log::init({log::Level::warn, {}});
    return app::run_hash_password();
  }
  auto config = load(config_path);
  if (!config) return kExitConfig;
  if (*serve_cmd) {
    log::init(app::log_settings(*config));
    return app::serve(*config);
  }
  if (*history_cmd) {
    log::init({log::Level::warn, {}});
    return app::run_history(*config, history_patient,
                       history_issuer_opt->count() ? std::optional<std::string>(history_issuer) : std::nullopt,
                       history_json, history_findings);
  }
  if (*rules_cmd) {
    log::init({log::Level::warn, {}});
    if (rules_check_cmd->parsed()) return app::run_rules_check(*config);
    if (study_opt->count()) return app::run_rules_test_study(*config, rules_study, rules_test.json);
    if (rules_test.paths.empty()) {
      std::cerr << "pacsnode rules test: name DICOM files or folders, or --study UID\n";
      return kExitConfig;
    }
    if (calling_ae_opt->count()) rules_test.calling_ae = rules_calling_ae;
    if (called_ae_opt->count()) rules_test.called_ae = rules_called_ae;
    if (calling_host_opt->count()) rules_test.calling_host = rules_calling_host;
    return app::run_rules_test(*config, rules_test);
  }
  if (app::jobs_command_parsed(*jobs_command)) {
    log::init({log::Level::warn, {}});
    return app::run_jobs(*config, *jobs_command);
  }
  if (*db_cmd) {
    log::init({log::Level::warn, {}});
    if (reindex_cmd->parsed()) return app::run_reindex(*config);
    return app::run_db(*config, migrate_cmd->parsed());
  }
  return kExitFailure;
}
