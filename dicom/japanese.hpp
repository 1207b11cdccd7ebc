#pragma once
// Japanese text in DICOM's ISO 2022 code extensions (PS3.5 §6.1.2.5, Annex H): JIS X 0201
// (ISO 2022 IR 13), JIS X 0208 (IR 87) and JIS X 0212 (IR 159). DCMTK cannot decode IR 87 and
// IR 159 when, as on Debian, it is built on the C library's iconv; this decoder fills that gap.
#include <optional>
#include <string>
#include <string_view>

namespace pacsnode::dicom {

// True when a Specific Character Set value (backslash-separated defined terms) needs
// decode_japanese(): it names ISO 2022 IR 87 or ISO 2022 IR 159.
bool needs_japanese_decoder(std::string_view specific_character_set);

// `text` decoded to UTF-8 under `specific_character_set`; escape state returns to the
// initial one at the delimiters where PS3.5 requires it (backslash, '^' and '=' for person
// names, CR, LF, FF, TAB). nullopt for a byte or escape sequence outside the Japanese sets.
std::optional<std::string> decode_japanese(std::string_view text,
                                           std::string_view specific_character_set,
                                           bool person_name);

}  // namespace pacsnode::dicom
