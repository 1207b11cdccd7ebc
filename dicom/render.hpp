#pragma once
// One frame of a stored instance as a picture (WADO-RS rendered and thumbnail resources,
// PS3.18 §8.3.5 and §9.5): DCMTK's display pipeline (modality LUT, VOI window, photometric
// interpretation, colour models) and its JPEG and PNG writers. Compressed pixel data is
// decoded first with transcoding's decoders. DCMTK stays inside the .cpp.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <vector>

namespace pacsnode::dicom {

struct RenderOptions {
  enum class Format { Jpeg, Png };
  Format format = Format::Jpeg;
  std::uint32_t frame = 1;  // 1-based
  // VOI window (center, width), linear or sigmoid; absent: the data set's first window, else
  // the frame's minimum to maximum.
  std::optional<double> window_center, window_width;
  bool sigmoid = false;
  // The picture fits within these (aspect kept, never enlarged); 0: no bound.
  std::uint32_t max_width = 0, max_height = 0;
  int quality = 90;  // JPEG, 1..100
};

// The encoded picture. Throws Error(NotFound) without pixel data or for a frame that does
// not exist, Error(InvalidArgument) when the pixel data cannot be decoded or displayed.
std::vector<std::uint8_t> render_frame(const std::filesystem::path& file, const RenderOptions& options);

}  // namespace pacsnode::dicom
