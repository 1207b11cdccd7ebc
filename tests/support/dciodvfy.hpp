#pragma once
// dicom3tools' dciodvfy on a file the tests wrote: the IOD, module and encoding checks of an
// independent implementation. Every SR the test suite writes should pass it with no errors.
#include <filesystem>
#include <string>
#include <vector>

namespace pacsnode::test {

struct DciodvfyResult {
  std::vector<std::string> errors;    // lines starting with "Error"
  std::vector<std::string> warnings;  // lines starting with "Warning"
  std::string output;                 // everything it printed
};

// Runs `dciodvfy <file>`. Throws std::runtime_error when dciodvfy cannot be run.
DciodvfyResult run_dciodvfy(const std::filesystem::path& file);

// The "Error" lines only: empty means the file passed.
std::vector<std::string> dciodvfy_errors(const std::filesystem::path& file);

}  // namespace pacsnode::test
