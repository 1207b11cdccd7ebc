#include "dicom/sop_classes.hpp"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcuid.h>

#include <algorithm>

namespace pacsnode::dicom {

const std::vector<std::string>& storage_sop_classes() {
  static const std::vector<std::string> classes = [] {
    std::vector<std::string> v;
    for (int i = 0; i < numberOfDcmAllStorageSOPClassUIDs; ++i) v.emplace_back(dcmAllStorageSOPClassUIDs[i]);
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
    return v;
  }();
  return classes;
}

bool is_storage_sop_class(const std::string& uid) {
  const auto& v = storage_sop_classes();
  return std::binary_search(v.begin(), v.end(), uid);
}

const std::vector<std::string>& storage_transfer_syntaxes() {
  static const std::vector<std::string> syntaxes = {
      "1.2.840.10008.1.2.1",     // Explicit VR Little Endian
      "1.2.840.10008.1.2",       // Implicit VR Little Endian
      "1.2.840.10008.1.2.1.99",  // Deflated Explicit VR Little Endian
      "1.2.840.10008.1.2.2",     // Explicit VR Big Endian (retired)
      "1.2.840.10008.1.2.4.80",  // JPEG-LS Lossless
      "1.2.840.10008.1.2.4.90",  // JPEG 2000 Lossless Only
      "1.2.840.10008.1.2.4.70",  // JPEG Lossless, First-Order Prediction (SV1)
      "1.2.840.10008.1.2.4.57",  // JPEG Lossless, Non-Hierarchical
      "1.2.840.10008.1.2.5",     // RLE Lossless
      "1.2.840.10008.1.2.4.91",  // JPEG 2000 (lossless or lossy)
      "1.2.840.10008.1.2.4.81",  // JPEG-LS Near-Lossless
      "1.2.840.10008.1.2.4.50",  // JPEG Baseline (lossy 8-bit)
      "1.2.840.10008.1.2.4.51",  // JPEG Extended (lossy 12-bit)
      "1.2.840.10008.1.2.4.100", // MPEG2 Main Profile
      "1.2.840.10008.1.2.4.102", // MPEG-4 AVC/H.264 High Profile
  };
  return syntaxes;
}

}  // namespace pacsnode::dicom
