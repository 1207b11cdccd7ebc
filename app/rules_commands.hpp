#pragma once
// `pacsnode rules check` and `pacsnode rules test`: the routing rules of a configuration,
// validated, listed, and tried on files without doing anything. Exit codes as in
// app/commands.hpp.
#include <optional>
#include <string>
#include <vector>

#include "app/config.hpp"

namespace pacsnode::app {

// Prints the rules in evaluation order (name, on, priority, actions with their peer or
// plug-in, when, where written); exit 0. The configuration has been validated by loading it.
int run_rules_check(const Config& config);

struct RulesTestOptions {
  std::vector<std::string> paths;     // files and folders (recursive)
  std::optional<std::string> calling_ae;
  std::optional<std::string> called_ae;
  std::optional<std::string> calling_host;
  bool json = false;
};

// Evaluates every rule on every file and prints, per file, each rule matched or not and why,
// and what would be done. Exit 0 when every file was read, kExitFailure when some could not
// be (the others are still printed).
int run_rules_test(const Config& config, const RulesTestOptions& options);

// The same against a study already in the node's index (embedded or configured database,
// like `pacsnode jobs`; serve may be running or not): study rules on the study, series
// rules on each of its series, instance rules on each instance, with the calling and called
// AE titles the index kept (CallingHost absent). Exit 0; kExitFailure when the study is
// not indexed or the database cannot be read.
int run_rules_test_study(const Config& config, const std::string& study_uid, bool json);

}  // namespace pacsnode::app
