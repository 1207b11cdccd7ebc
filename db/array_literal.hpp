#pragma once
// PostgreSQL array literals ({"a","b",NULL}) for parameters cast to text[], date[], …: every
// element quoted, `"` and `\` escaped. Pure string building (the fuzz build links it).
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pacsnode::db::detail {

// Appends one quoted element (no separator) to a literal being built.
void append_array_element(std::string& out, std::string_view element);
std::string array_literal(const std::vector<std::string>& elements);
// nullopt elements are NULL.
std::string array_literal(const std::vector<std::optional<std::string>>& elements);

}  // namespace pacsnode::db::detail
