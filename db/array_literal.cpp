#include "db/array_literal.hpp"

namespace pacsnode::db::detail {

void append_array_element(std::string& out, std::string_view element) {
  out += '"';
  for (const char c : element) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

std::string array_literal(const std::vector<std::string>& elements) {
  std::string out = "{";
  for (std::size_t i = 0; i < elements.size(); ++i) {
    if (i > 0) out += ',';
    append_array_element(out, elements[i]);
  }
  return out + "}";
}

std::string array_literal(const std::vector<std::optional<std::string>>& elements) {
  std::string out = "{";
  for (std::size_t i = 0; i < elements.size(); ++i) {
    if (i > 0) out += ',';
    if (elements[i]) {
      append_array_element(out, *elements[i]);
    } else {
      out += "NULL";
    }
  }
  return out + "}";
}

}  // namespace pacsnode::db::detail
