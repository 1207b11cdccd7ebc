#pragma once
// Internal to dicom/ (names DCMTK types; other modules must not include it): splitting
// encapsulated pixel data into frames, and loading a file with its pixel data converted to
// another transfer syntax — what transcoding (transcode.cpp) and WADO-RS frames
// (instance_reader.cpp) share.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

class DcmFileFormat;
class DcmPixelSequence;

namespace pacsnode::dicom::detail {

// The frames of encapsulated pixel data (PS3.5 A.4): one fragment per frame when the counts
// agree, all fragments for a single frame, else split by the Basic Offset Table, else at
// each fragment that starts a JPEG 2000 codestream. Throws Error(InvalidArgument) naming
// `file` when the fragments cannot be read or their frames do not add up to `frames`.
std::vector<std::vector<std::uint8_t>> frames_of(DcmPixelSequence& sequence, std::uint32_t frames,
                                                 const std::filesystem::path& file);

// The file loaded whole, its data set's pixel data converted to `target` (the policy of
// transcode_data_set: lossy data decoded to uncompressed only, Lossy Image Compression set).
// Throws Error(InvalidArgument) as transcode_data_set does.
std::unique_ptr<DcmFileFormat> load_transcoded(const std::filesystem::path& file, const std::string& target);

}  // namespace pacsnode::dicom::detail
