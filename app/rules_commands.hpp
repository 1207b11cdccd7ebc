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

}  // namespace pacsnode::app
