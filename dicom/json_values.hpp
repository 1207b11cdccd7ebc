#pragma once
// Reading back the DICOM JSON (PS3.18 F.2) a level's attributes are stored as: tag keys, and
// values as DICOM text. One reading for every module that answers from stored attributes
// (C-FIND, routing rules), so that they cannot disagree.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace pacsnode::dicom {

// "GGGGEEEE" (hex, either case) → tag; nullopt for any other key.
std::optional<std::uint32_t> parse_json_tag(std::string_view key);
// One value as DICOM text: strings as they are, numbers in decimal, null as "", a PN object's
// groups joined with `=` (trailing empty groups dropped); nullopt for what has no text form
// (sequence items, binary).
std::optional<std::string> json_value_text(const nlohmann::json& value);
// "A\B" → {"A", "B"}: the index's key fields hold every value joined by `\`; "" → none.
std::vector<std::string> split_multi_value(std::string_view joined);

}  // namespace pacsnode::dicom
