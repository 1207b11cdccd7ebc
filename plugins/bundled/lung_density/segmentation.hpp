#pragma once
// Lung segmentation of a chest CT volume (README, "Bundled plug-ins", lung-density).
#include <cstdint>
#include <string>
#include <vector>

#include "plugins/bundled/common/volume.hpp"

namespace pacsnode::bundled {

inline constexpr float kLungThresholdHu = -400.0f;   // lung candidates: voxels < -400 HU
inline constexpr double kMaxAirwayAreaCm2 = 6.0;     // an airway cross-section is smaller than this
inline constexpr double kMinLungCm3 = 25.0;          // a component smaller than this is not a lung

enum class Label : std::uint8_t { kNone = 0, kRight = 1, kLeft = 2, kAirway = 3 };

struct Segmentation {
  std::vector<Label> labels;  // one per voxel, in the volume's order
  std::size_t airway_voxels = 0;
  bool split_at_midline = false;  // the lungs formed one component and were cut apart
  std::string notes;              // what was done, for the summary
};

// Threshold, 3D components (6-connectivity) not touching a slice's edge, airway removal by
// tracking the trachea down from the top slices, and the two largest components as the
// lungs (or the largest one split by a sagittal plane). Throws NotApplicable when no lung
// is found.
Segmentation segment_lungs(const Volume& v);

}  // namespace pacsnode::bundled
