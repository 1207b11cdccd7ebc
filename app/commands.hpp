#pragma once
// The `pacsnode` subcommands other than `serve` (app/serve.hpp). Each returns the process
// exit code: 0 success, kExitFailure with a one-line reason on standard error, kExitConfig
// for bad arguments or configuration.
#include <optional>
#include <string>
#include <vector>

#include "app/config.hpp"
#include "app/findings_cli.hpp"

namespace pacsnode::app {

inline constexpr int kExitFailure = 1;
inline constexpr int kExitConfig = 2;

int run_echo(const std::string& target, const std::string& our_aet, int timeout_s);
int run_store(const std::string& target, const std::vector<std::string>& paths, const std::string& our_aet,
              int timeout_s);
int run_find(const std::string& target, const std::string& level, const std::string& root,
             const std::vector<std::string>& keys, const std::string& our_aet, int timeout_s, bool json);
// C-MOVE SCU: asks `target` to send the instances named by `keys` to `destination`.
int run_move(const std::string& target, const std::string& destination, const std::string& level,
             const std::string& root, const std::vector<std::string>& keys, const std::string& our_aet,
             int timeout_s);
// The patient's studies and findings; with findings.name / tracking_uid, one finding's values
// over time instead.
int run_history(const Config& config, const std::string& patient_id, const std::optional<std::string>& issuer,
                bool json, const FindingsQuery& findings);
int run_db(const Config& config, bool migrate);
// Reads one line (the password; without echo on a terminal, and then twice) from standard
// input and prints its hash_password hash for [[security.users]] password_hash.
int run_hash_password();
int run_reindex(const Config& config);

}  // namespace pacsnode::app
