#include "plugins/bundled/common/invocation.hpp"

#include <cstdlib>
#include <exception>
#include <iostream>
#include <string_view>

#include "plugins/contract.hpp"

namespace pacsnode::bundled {

Invocation parse_invocation(int argc, char** argv, const std::string& program) {
  Invocation inv;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw InputError(std::string(arg) + " needs a value");
      return argv[++i];
    };
    if (arg == "--task") {
      inv.task_file = value();
    } else if (arg == "--out") {
      inv.out_dir = value();
    } else if (arg == "--help" || arg == "-h") {
      throw InputError("usage: " + program + " [--task TASK.json] [--out OUT_DIR] (default: $PACSNODE_TASK, $PACSNODE_OUT_DIR)");
    } else {
      throw InputError("unknown argument '" + std::string(arg) + "' (usage: " + program + " [--task FILE] [--out DIR])");
    }
  }
  if (inv.task_file.empty()) {
    if (const char* env = std::getenv("PACSNODE_TASK"); env != nullptr && *env != '\0') inv.task_file = env;
  }
  if (inv.out_dir.empty()) {
    if (const char* env = std::getenv("PACSNODE_OUT_DIR"); env != nullptr && *env != '\0') inv.out_dir = env;
  }
  if (inv.task_file.empty()) throw InputError("no task: pass --task FILE or set PACSNODE_TASK");
  if (inv.out_dir.empty()) throw InputError("no output folder: pass --out DIR or set PACSNODE_OUT_DIR");
  return inv;
}

int run_plugin(int argc, char** argv, const std::string& program,
               const std::function<void(const Invocation&)>& analyse) {
  try {
    analyse(parse_invocation(argc, argv, program));
    return plugins::kExitDone;
  } catch (const NotApplicable& e) {
    std::cerr << program << ": not applicable: " << e.what() << '\n';
    return plugins::kExitNotApplicable;
  } catch (const std::exception& e) {
    std::cerr << program << ": error: " << e.what() << '\n';
    return 1;
  }
}

}  // namespace pacsnode::bundled
