#pragma once
// Plain-text tables for the command line.
#include <string>
#include <vector>

namespace pacsnode::app {

// Prints rows to standard output: columns as wide as their widest cell, two spaces between.
void print_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);

}  // namespace pacsnode::app
