#pragma once
// Transcoding for retrieve and forward: an instance goes to a peer in a transfer syntax the
// peer accepted for its SOP class, whatever syntax it is stored in.
//
// Decoders: JPEG (baseline, extended, lossless — DCMTK dcmjpeg), JPEG-LS (DCMTK dcmjpls,
// which bundles CharLS), RLE (DCMTK), JPEG 2000 (OpenJPEG, dicom/jpeg2000.hpp), Deflate.
// Encoders, for a peer that takes nothing uncompressed: JPEG-LS lossless, JPEG lossless
// (process 14, selection value 1) and RLE (DCMTK).
//
// Policy (choose_transfer_syntax): the stored syntax when accepted (sent byte for byte);
// else Explicit VR Little Endian, Implicit VR Little Endian, Explicit VR Big Endian; else —
// only for data that is not lossy-compressed — JPEG-LS lossless, JPEG lossless SV1, RLE.
// Lossy-compressed data (JPEG baseline/extended, JPEG-LS near-lossless, JPEG 2000 part 1
// .91 whatever its wavelet) is decoded to uncompressed only, with Lossy Image Compression (0028,2110) "01";
// it is never re-encoded into a syntax that would call it lossless, and nothing is ever
// encoded lossily. DCMTK header stays inside the .cpp.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace pacsnode::dicom {

// True for syntaxes whose pixel data may have lost information.
bool is_lossy_transfer_syntax(const std::string& transfer_syntax_uid);

// The syntax to send an instance stored in `stored` to a peer that accepted `accepted` (the
// transfer syntaxes of its accepted contexts for the instance's SOP class); nullopt when no
// accepted syntax is one we can produce from `stored`.
std::optional<std::string> choose_transfer_syntax(const std::string& stored, const std::vector<std::string>& accepted);
// Every accepted syntax the policy allows for `stored`, best first (the first is
// choose_transfer_syntax's): what a sender tries in turn when an encoder refuses an image.
std::vector<std::string> transfer_syntax_candidates(const std::string& stored, const std::vector<std::string>& accepted);

// The file's data set re-encoded in `target` (no File Meta Information). Throws
// pacsnode::Error(InvalidArgument) when the file cannot be read, its pixel data does not
// decode or encode, or the policy forbids the conversion (lossy data into a compressed
// syntax, anything into a lossy one).
std::vector<std::uint8_t> transcode_data_set(const std::filesystem::path& file, const std::string& target);

}  // namespace pacsnode::dicom
