#pragma once
// C-FIND identifiers (PS3.4 C.4.1.1.3): the request's keys, decoded to UTF-8, and the
// pending responses' identifiers; C-MOVE/C-GET identifiers are read the same way. DCMTK stays inside the .cpp.
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pacsnode::dicom {

struct IdentifierKey {
  std::uint32_t tag;   // 0xggggeeee
  std::string vr;      // "PN", "DA", ..., "SQ"
  std::string value;   // UTF-8, all values joined by `\`, padding trimmed; "" for SQ
  // SQ: the keys of the sequence's (first) item, one level deep; empty for a zero-length
  // sequence or an empty item.
  std::vector<IdentifierKey> item = {};
};

// One item of a sequence in a response: its attributes as keys with values.
using ResponseItem = std::vector<IdentifierKey>;

struct FindIdentifier {
  std::string level;                   // (0008,0052), trimmed; "" when absent
  std::string specific_character_set;  // (0008,0005) as received (trimmed)
  // Every other top-level element in the order received, except group lengths, Specific
  // Character Set, Query/Retrieve Level and Retrieve AE Title. A sequence carries the keys
  // of its first item (sequence matching: db/find_query.hpp).
  std::vector<IdentifierKey> keys;
};

// Parses an identifier received in `transfer_syntax_uid` (uncompressed, not deflated)
// and decodes its text with its Specific Character Set (bytes that cannot be decoded are
// read as Latin-1). Throws Error(InvalidArgument) for bytes that do not parse.
FindIdentifier parse_find_identifier(std::span<const std::uint8_t> bytes, const std::string& transfer_syntax_uid);

// A C-FIND pending response identifier in `transfer_syntax_uid`: exactly `keys` (their value
// from `values`, UTF-8, `\` between values; empty when absent; sequences empty), plus
// Query/Retrieve Level, Retrieve AE Title and, when any value is not ASCII, Specific
// Character Set "ISO_IR 192". A sequence key holds the items given in `sequences` for its
// tag (none: a zero-length sequence). Throws Error(Internal) when DCMTK cannot encode it.
std::vector<std::uint8_t> build_find_response(
    const std::vector<IdentifierKey>& keys, const std::map<std::uint32_t, std::string>& values,
    std::string_view level, std::string_view retrieve_ae_title, const std::string& transfer_syntax_uid,
    const std::map<std::uint32_t, std::vector<ResponseItem>>& sequences = {});

// The same keys and values as build_find_response, as one DICOM JSON object (PS3.18 F.2:
// `{"GGGGEEEE":{"vr":..,"Value":[..]},..}`, keys in tag order, an empty key without "Value"),
// without Query/Retrieve Level, Retrieve AE Title and Specific Character Set: a QIDO-RS
// result. Values are UTF-8; numbers of IS/DS/US.. keys are JSON numbers.
std::string build_find_response_json(const std::vector<IdentifierKey>& keys,
                                     const std::map<std::uint32_t, std::string>& values,
                                     const std::map<std::uint32_t, std::vector<ResponseItem>>& sequences = {});
// The identifier of a C-MOVE/C-GET response naming the instances whose sub-operation
// failed: Failed SOP Instance UID List (0008,0058), cut to fit 64 KiB.
std::vector<std::uint8_t> build_failed_sop_list(const std::vector<std::string>& sop_instance_uids,
                                                const std::string& transfer_syntax_uid);

// The tag and VR of a DICOM keyword ("PatientID" → 0x00100020, "LO") from DCMTK's data
// dictionary, value empty; nullopt when the dictionary does not know the keyword.
std::optional<IdentifierKey> key_for_keyword(std::string_view keyword);
// The dictionary keyword of a tag ("PatientID"), or "(gggg,eeee)" when it has none.
std::string keyword_of(std::uint32_t tag);

}  // namespace pacsnode::dicom
