// lung-density: volume, mean density, LAA-950 and the 15th percentile density of each lung
// and both lungs of a chest CT series (README, "Bundled plug-ins").
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "plugins/bundled/common/codes.hpp"
#include "plugins/bundled/common/invocation.hpp"
#include "plugins/bundled/common/result_json.hpp"
#include "plugins/bundled/common/task.hpp"
#include "plugins/bundled/common/volume.hpp"
#include "plugins/bundled/lung_density/section.hpp"
#include "plugins/bundled/lung_density/segmentation.hpp"

using namespace pacsnode;
using namespace pacsnode::bundled;

namespace {

constexpr const char* kName = "lung-density";
constexpr const char* kVersion = "1.0.0";
constexpr float kEmphysemaHu = -950.0f;  // LAA-950 counts voxels strictly below -950 HU

struct LungStats {
  std::size_t voxels = 0;
  double volume_cm3 = 0, mean = 0, laa950_percent = 0, p15 = 0;
};

LungStats measure(std::vector<float>& values, double voxel_mm3) {
  LungStats s;
  s.voxels = values.size();
  s.volume_cm3 = double(values.size()) * voxel_mm3 / 1000.0;
  double sum = 0;
  std::size_t low = 0;
  for (float x : values) {
    sum += x;
    if (x < kEmphysemaHu) ++low;
  }
  s.mean = sum / double(values.size());
  s.laa950_percent = 100.0 * double(low) / double(values.size());
  // Nearest rank: the smallest value with at least 15 % of the voxels at or below it.
  const auto rank = static_cast<std::size_t>(std::ceil(0.15 * double(values.size())));
  const auto nth = values.begin() + std::ptrdiff_t(std::max<std::size_t>(rank, 1) - 1);
  std::nth_element(values.begin(), nth, values.end());
  s.p15 = *nth;
  return s;
}

plugins::MeasurementGroup group(const std::string& tracking, std::optional<plugins::Code> laterality, const LungStats& s) {
  plugins::MeasurementGroup g;
  g.tracking_identifier = tracking;
  g.finding = codes::kLung;
  g.finding_site = codes::kLung;
  g.laterality = std::move(laterality);
  g.items.push_back({codes::kVolume, s.volume_cm3, codes::kCubicCentimeter, std::nullopt, codes::kSumOfVoxelsMethod});
  g.items.push_back({codes::kAttenuation, s.mean, codes::kHounsfield, codes::kMean, std::nullopt});
  g.items.push_back({codes::kLaa950, s.laa950_percent, codes::kPercent, std::nullopt, std::nullopt});
  g.items.push_back({codes::kPercentile15, s.p15, codes::kHounsfield, std::nullopt, std::nullopt});
  return g;
}

// The same finding as a volume group (same tracking identifier and codes, so the same
// tracking UID), measured on its largest axial section: the area there, in an outline a
// viewer can draw on that slice (README, "Bundled plug-ins", lung-density).
plugins::MeasurementGroup section_group(const std::string& tracking, std::optional<plugins::Code> laterality,
                                        const Volume& v, const LungSection& section) {
  plugins::MeasurementGroup g;
  g.tracking_identifier = tracking;
  g.finding = codes::kLung;
  g.finding_site = codes::kLung;
  g.laterality = std::move(laterality);
  g.items.push_back({codes::kArea, double(section.pixels) * v.dx * v.dy, codes::kSquareMillimeter, std::nullopt, std::nullopt});
  plugins::ImageRegion region;
  region.graphic_type = "POLYLINE";
  region.graphic_data = section.outline;
  if (region.graphic_data.size() / 2 > plugins::kMaxRegionPoints) {
    // A ragged section whose outline has more corners than the contract takes: its bounding box.
    double x0 = region.graphic_data[0], x1 = x0, y0 = region.graphic_data[1], y1 = y0;
    for (std::size_t i = 0; i + 1 < region.graphic_data.size(); i += 2) {
      x0 = std::min(x0, region.graphic_data[i]);
      x1 = std::max(x1, region.graphic_data[i]);
      y0 = std::min(y0, region.graphic_data[i + 1]);
      y1 = std::max(y1, region.graphic_data[i + 1]);
    }
    region.graphic_data = {x0, y0, x1, y0, x1, y1, x0, y1, x0, y0};
  }
  region.referenced_sop_instance_uid = v.sop_instance_uids.at(section.slice);
  g.image_region = std::move(region);
  return g;
}

std::string format(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

void analyse(const Invocation& inv) {
  const Task task = read_task(inv.task_file);
  if (!task.modality.empty() && task.modality != "CT") throw NotApplicable("Modality is " + task.modality + ", not CT");
  const Volume v = load_volume(task);
  if (v.modality != "CT") throw NotApplicable("Modality is '" + v.modality + "', not CT");
  if (std::abs(v.normal[2]) < 0.9) throw NotApplicable("not an axial series (slice normal z component " + format(v.normal[2]) + ")");
  if (v.nz < 3) throw NotApplicable("fewer than 3 slices: no volume to segment");

  const Segmentation seg = segment_lungs(v);
  std::vector<float> right, left;
  for (std::size_t p = 0; p < v.values.size(); ++p) {
    if (seg.labels[p] == Label::kRight) right.push_back(v.values[p]);
    else if (seg.labels[p] == Label::kLeft) left.push_back(v.values[p]);
  }
  if (right.empty() || left.empty()) throw NotApplicable("only one lung found");
  std::vector<float> both;
  both.reserve(right.size() + left.size());
  both.insert(both.end(), right.begin(), right.end());
  both.insert(both.end(), left.begin(), left.end());

  const double voxel = v.voxel_mm3();
  const LungStats r = measure(right, voxel), l = measure(left, voxel), b = measure(both, voxel);
  plugins::AnalysisResult result;
  result.algorithm_name = kName;
  result.algorithm_version = kVersion;
  result.groups.push_back(group("right lung", codes::kRight, r));
  result.groups.push_back(group("left lung", codes::kLeft, l));
  result.groups.push_back(group("both lungs", std::nullopt, b));
  result.groups.push_back(section_group("right lung", codes::kRight, v, largest_section(v, seg.labels, {Label::kRight})));
  result.groups.push_back(section_group("left lung", codes::kLeft, v, largest_section(v, seg.labels, {Label::kLeft})));
  result.groups.push_back(
      section_group("both lungs", std::nullopt, v, largest_section(v, seg.labels, {Label::kRight, Label::kLeft})));
  result.summary = "Both lungs " + format(b.volume_cm3) + " ml, mean " + format(b.mean) + " HU, LAA-950 " +
                   format(b.laa950_percent) + " %, PD15 " + format(b.p15) + " HU; right " + format(r.volume_cm3) +
                   " ml, left " + format(l.volume_cm3) + " ml; airway voxels removed: " + std::to_string(seg.airway_voxels);
  if (!seg.notes.empty()) result.summary += "; " + seg.notes;
  write_result(inv.out_dir, result);
}

}  // namespace

int main(int argc, char** argv) { return run_plugin(argc, argv, kName, analyse); }
