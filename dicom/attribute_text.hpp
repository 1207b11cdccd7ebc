#pragma once
// A data set's top-level attributes as text, for routing rules: what `pacsnode rules test
// FILE` evaluates, without reading pixel data. DCMTK stays inside the .cpp.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pacsnode::dicom {

struct AttributeText {
  std::uint32_t tag = 0;            // 0xggggeeee
  std::string vr;                   // "CS", "DA", ...; as in the file (explicit VR) or the dictionary
  std::vector<std::string> values;  // UTF-8, one per value, padding trimmed; empty when zero-length
  // A non-empty value with no text form: a sequence with items, binary data (OB, OW, UN,
  // ...), or a value too large to be read for rules (text over 64 KiB, numbers over 1 KiB).
  bool opaque = false;
};

// The File Meta Information and the top-level data set attributes of a Part-10 file, in tag
// order: text decoded to UTF-8 from Specific Character Set (whose own value is kept as
// written), binary numbers (US, FL, ...) in decimal, AT as "(gggg,eeee)". Private attributes
// are included; group lengths and items of sequences are not. Values over 4 KiB are read
// only if they are text; pixel data never is.
// Throws Error(NotFound) for a missing file, Error(InvalidArgument) for one that is not a
// readable Part-10 file. Thread-safe.
std::vector<AttributeText> read_attribute_text(const std::filesystem::path& part10_file);

// The dictionary's VR of a tag ("US" for US or SS, "OB" for OB or OW), "" when DCMTK's
// dictionary does not know the tag (private attributes, mostly).
std::string dictionary_vr(std::uint32_t tag);

// Up to `count` dictionary keywords nearest to `word` (case-insensitive edit distance at most
// 3), nearest first; for "did you mean" in error messages. Slow (scans the dictionary).
std::vector<std::string> similar_keywords(std::string_view word, std::size_t count = 1);

}  // namespace pacsnode::dicom
