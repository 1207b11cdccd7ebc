#include "tests/support/dciodvfy.hpp"

#include <sstream>

#include "base/process.hpp"

namespace pacsnode::test {

DciodvfyResult run_dciodvfy(const std::filesystem::path& file) {
  ProcessOptions options;
  options.capture_output = true;
  auto [code, output] = run_process({"dciodvfy", file.string()}, options, std::chrono::minutes(2));
  (void)code;  // its exit status does not tell errors from warnings; the lines do
  DciodvfyResult result;
  result.output = output;
  std::istringstream in(output);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Error", 0) == 0) result.errors.push_back(line);
    if (line.rfind("Warning", 0) == 0) result.warnings.push_back(line);
  }
  return result;
}

std::vector<std::string> dciodvfy_errors(const std::filesystem::path& file) { return run_dciodvfy(file).errors; }

}  // namespace pacsnode::test
