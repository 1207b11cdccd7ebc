#pragma once
// How a bundled plug-in is started (README, "Analysis plug-ins"): the task file and the
// output folder from --task/--out, else from PACSNODE_TASK/PACSNODE_OUT_DIR; and the one
// place that turns the analysis's outcome into the contract's exit code.
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>

namespace pacsnode::bundled {

// Thrown when the input is valid but not what the plug-in analyses (exit 3).
class NotApplicable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Thrown for bad input or a bad invocation (exit 1, with the message on stderr).
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Invocation {
  std::filesystem::path task_file;
  std::filesystem::path out_dir;
};

// Parses argv and the environment; throws InputError naming what is missing.
Invocation parse_invocation(int argc, char** argv, const std::string& program);

// Runs `analyse` and maps its outcome to an exit code: 0 when it returns, 3 on
// NotApplicable, 1 on any other exception (message on stderr, prefixed by the program).
int run_plugin(int argc, char** argv, const std::string& program,
               const std::function<void(const Invocation&)>& analyse);

}  // namespace pacsnode::bundled
