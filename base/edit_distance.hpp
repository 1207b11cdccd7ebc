#pragma once
// "Did you mean …?" for names a user typed (configuration keys, DICOM keywords).
#include <cstddef>
#include <string_view>

namespace pacsnode {

// Levenshtein distance, ASCII case ignored; for short names (the cost is quadratic).
std::size_t edit_distance(std::string_view a, std::string_view b);

}  // namespace pacsnode
