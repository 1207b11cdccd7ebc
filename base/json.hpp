#pragma once
// JSON string literals for the DICOM JSON model (jsonb): one escaper for every module.
#include <string>
#include <string_view>

namespace pacsnode {

// Appends `text` (UTF-8) as a quoted JSON string. NUL characters are dropped: PostgreSQL's
// jsonb refuses \u0000, and DICOM pads with them.
void append_json_string(std::string& out, std::string_view text);
std::string json_string(std::string_view text);

}  // namespace pacsnode
