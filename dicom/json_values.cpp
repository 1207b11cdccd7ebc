#include "dicom/json_values.hpp"

#include <charconv>

#include <nlohmann/json.hpp>

namespace pacsnode::dicom {

std::optional<std::uint32_t> parse_json_tag(std::string_view key) {
  if (key.size() != 8) return std::nullopt;
  std::uint32_t tag = 0;
  const auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), tag, 16);
  if (ec != std::errc() || end != key.data() + key.size()) return std::nullopt;
  return tag;
}

std::optional<std::string> json_value_text(const nlohmann::json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number_integer()) return std::to_string(value.get<long long>());
  if (value.is_number_unsigned()) return std::to_string(value.get<unsigned long long>());
  if (value.is_number_float()) return value.dump();
  if (value.is_null()) return std::string();
  if (value.is_object()) {  // PN: {"Alphabetic": …, "Ideographic": …, "Phonetic": …}
    std::string name;
    for (const char* group : {"Alphabetic", "Ideographic", "Phonetic"}) {
      if (group != std::string_view("Alphabetic")) name += '=';
      const auto it = value.find(group);
      if (it != value.end() && it->is_string()) name += it->get<std::string>();
    }
    while (!name.empty() && name.back() == '=') name.pop_back();
    return name;
  }
  return std::nullopt;
}

std::vector<std::string> split_multi_value(std::string_view joined) {
  std::vector<std::string> values;
  if (joined.empty()) return values;
  std::size_t start = 0;
  for (;;) {
    const auto end = joined.find('\\', start);
    values.emplace_back(joined.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return values;
}

}  // namespace pacsnode::dicom
