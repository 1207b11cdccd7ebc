#pragma once
// JPEG 2000 (PS3.5 A.4.4, transfer syntaxes 1.2.840.10008.1.2.4.90/.91) decoding with
// OpenJPEG: one frame's codestream (J2K, or a JP2 file as some writers embed) to native
// pixels. DCMTK's free edition has no JPEG 2000 codec; this is ours.
#include <cstdint>
#include <span>
#include <vector>

namespace pacsnode::dicom {

// What the data set says the frame must be; the decoded image must agree.
struct FrameLayout {
  std::uint32_t rows = 0, columns = 0;
  std::uint16_t samples_per_pixel = 1;
  std::uint16_t bits_allocated = 16;  // 8 or 16 (32 is refused)
  bool is_signed = false;             // PixelRepresentation 1
};

// Decodes one frame into native little-endian pixels, colour-by-pixel (PlanarConfiguration
// 0): rows × columns × samples × bits_allocated/8 bytes, appended to `out`. OpenJPEG applies
// the inverse multi-component transform (YBR_ICT/YBR_RCT → RGB). Throws
// pacsnode::Error(InvalidArgument) for a codestream that does not decode or does not match
// the layout.
void decode_jpeg2000_frame(std::span<const std::uint8_t> codestream, const FrameLayout& layout,
                           std::vector<std::uint8_t>& out);

// The codestream's main header says the irreversible 9-7 wavelet (lossy) is used. False
// for the reversible 5-3 transform or when no COD marker is found.
bool jpeg2000_is_irreversible(std::span<const std::uint8_t> codestream);

}  // namespace pacsnode::dicom
