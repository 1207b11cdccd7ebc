#pragma once
// What WADO-RS (PS3.18 §10.4) reads from a stored Part-10 file: its metadata (the data set as
// DICOM JSON, bulk data as BulkDataURIs), the frames of its pixel data (as stored, or
// decoded to native pixels), and one bulk data value in pieces. The header is parsed once;
// values longer than 4 KiB stay in the file until asked for, so that a 2 GB instance's
// metadata costs what its header costs. DCMTK stays inside the .cpp. Not thread-safe: one
// reader per request.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pacsnode::dicom {

// Frames of one instance, in the order they were asked for.
struct FrameSet {
  // The syntax of the bytes: the stored one for encapsulated (compressed) frames sent as
  // stored, else Explicit VR Little Endian (native little-endian pixels).
  std::string transfer_syntax;
  std::vector<std::vector<std::uint8_t>> frames;
};

class InstanceReader {
 public:
  // Throws Error(NotFound) when the file does not exist, Error(InvalidArgument) when it is
  // not a readable Part-10 file.
  explicit InstanceReader(const std::filesystem::path& file);
  ~InstanceReader();
  InstanceReader(const InstanceReader&) = delete;
  InstanceReader& operator=(const InstanceReader&) = delete;

  const std::string& transfer_syntax() const;  // as stored (the meta header's)
  const std::string& sop_instance_uid() const;
  const std::string& series_instance_uid() const;

  // The data set as one DICOM JSON object (PS3.18 §F.2), all text decoded to UTF-8 (Specific
  // Character Set then says "ISO_IR 192"), private attributes included, with the meta
  // header's (0002,0010) Transfer Syntax UID. Pixel data, float/double pixel data and
  // top-level binary values (OB, OW, OF, OD, OL, OV, UN) longer than 1 KiB are
  // `"BulkDataURI": "<bulk_base>/GGGGEEEE"`; inside sequences binary values up to 64 KiB
  // are InlineBinary and longer ones are left out.
  std::string metadata_json(std::string_view bulk_base);

  // NumberOfFrames (1 when absent); 0 when the instance has no pixel data.
  std::uint32_t number_of_frames();
  // The frames numbered `numbers` (1-based). As stored when `decode` is false and the pixel
  // data is encapsulated; native little-endian pixels otherwise (compressed data decoded by
  // transcoding's decoders and policy). Throws Error(NotFound) without pixel data or for a
  // number outside 1..NumberOfFrames, Error(InvalidArgument) for pixel data that cannot be
  // split or decoded.
  FrameSet frames(std::span<const std::uint32_t> numbers, bool decode);

  // The length of top-level attribute `tag`'s value when it can be read as bulk data (any
  // element but a sequence or encapsulated pixel data); nullopt when absent or not such.
  std::optional<std::uint64_t> bulk_length(std::uint32_t tag);
  // Bytes [offset, offset + into.size()) of that value, little endian. Throws
  // Error(InvalidArgument) when they cannot be read.
  void read_bulk(std::uint32_t tag, std::uint64_t offset, std::span<std::uint8_t> into);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace pacsnode::dicom
