#pragma once
// `pacsnode jobs list|show|retry|cancel`: the job queue of a running node's database (or of
// the embedded one, started for the command when the node is not running), as `db status`.
#include <memory>
#include <string>

#include "app/config.hpp"

namespace CLI {
class App;
}

namespace pacsnode::app {

struct JobsCommand;

// Adds the `jobs` subcommand and its own subcommands to `cli`; --config goes to
// `config_path`. The returned object holds the parsed options.
std::shared_ptr<JobsCommand> add_jobs_command(CLI::App& cli, std::string& config_path);
bool jobs_command_parsed(const JobsCommand& command);
// Runs the parsed command; returns the exit code (kExitFailure: no such job, or not in a
// state the action applies to; kExitConfig: a bad --state).
int run_jobs(const Config& config, const JobsCommand& command);

}  // namespace pacsnode::app
