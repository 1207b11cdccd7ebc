#pragma once
// Internal to dicom/ (names DCMTK types; other modules must not include it): the DCMTK
// reading policy and the decoding of a data set's text to UTF-8 that index extraction
// (extract.cpp) and the attributes read for routing rules (attribute_text.cpp) share.
#include <filesystem>

class DcmDataset;

namespace pacsnode::dicom::detail {

// Module-wide DCMTK policy, set once (call before reading any file): a defined-length UN
// element of a tag the dictionary knows is read with the dictionary's VR (PS3.5 §6.2.2).
void configure_dcmtk();

// Decodes all text of `data_set` to UTF-8 in place, from Specific Character Set (0008,0005),
// Japanese ISO 2022 included. On failure (an unknown character set, bytes illegal in the
// declared one) part of the data set may be left undecoded, and a warning naming `file` is
// logged; to_valid_utf8 then reads the leftover bytes as Latin-1.
void decode_text(DcmDataset& data_set, const std::filesystem::path& file);

}  // namespace pacsnode::dicom::detail
