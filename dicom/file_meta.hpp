#pragma once
// Part-10 File Meta Information (PS3.10 §7.1): the 128-byte preamble, "DICM" and group 0002
// in Explicit VR Little Endian. Hand-encoded because it is written once per received
// instance, ahead of the data set bytes streamed exactly as they arrived.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace pacsnode::dicom {

struct FileMeta {
  std::string media_storage_sop_class_uid;     // (0002,0002)
  std::string media_storage_sop_instance_uid;  // (0002,0003)
  std::string transfer_syntax_uid;             // (0002,0010), of the data set that follows
  std::string implementation_class_uid;        // (0002,0012)
  std::string implementation_version_name;     // (0002,0013), omitted when empty
  std::string source_ae_title;                 // (0002,0016) the calling AE, omitted when empty
  std::string receiving_ae_title;              // (0002,0018) the called AE (ours), omitted when empty
};

// Preamble + "DICM" + group 0002 with a correct (0002,0000) group length. Throws
// Error(InvalidArgument) for an invalid UID, or a version name / AE title that is longer
// than 16 characters or holds a backslash or control character.
std::vector<std::uint8_t> encode_file_meta(const FileMeta& meta);

// Length of the preamble, "DICM" and group 0002 at the start of `bytes` (i.e. the offset of
// the data set), read from (0002,0000); nullopt when `bytes` does not start with a preamble,
// "DICM" and a (0002,0000) UL element. Needs the first 144 bytes only.
std::optional<std::size_t> file_meta_length(std::span<const std::uint8_t> bytes);

// The File Meta at the start of a Part-10 file that arrives whole from a client (a STOW-RS
// part), read by walking its group 0002 elements, so that a missing (0002,0000) does not
// matter. `length` is the offset of the data set.
struct DecodedFileMeta {
  FileMeta meta;  // the UIDs, version name and AE titles present (others empty), unpadded
  std::size_t length = 0;
};
// nullopt: `bytes` ends inside the File Meta and more are needed (with `complete`, bytes is
// the whole file and the meta ends with it). Throws Error(InvalidArgument) when `bytes` does
// not start with a 128-byte preamble and "DICM", or an element of group 0002 is malformed.
// Nothing is validated beyond that: the caller checks the UIDs it uses.
std::optional<DecodedFileMeta> decode_file_meta(std::span<const std::uint8_t> bytes, bool complete);

}  // namespace pacsnode::dicom
