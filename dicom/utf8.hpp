#pragma once
// Text bound for the index must be valid UTF-8 without NULs (PostgreSQL text and jsonb hold
// neither invalid UTF-8 nor U+0000).
#include <string>
#include <string_view>

namespace pacsnode::dicom {

// `text` with every well-formed UTF-8 sequence kept, every other byte read as Latin-1 (the
// usual encoding of text sent without a Specific Character Set), and NULs dropped.
std::string to_valid_utf8(std::string_view text);

}  // namespace pacsnode::dicom
