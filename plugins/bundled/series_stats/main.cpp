// series-stats: intensity statistics of any image series, and the CT quality-assurance
// triple on its middle slice: noise (SD) and signal-to-noise in a central ROI, and
// uniformity against four peripheral ROIs (README, "Bundled plug-ins").
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "plugins/bundled/common/codes.hpp"
#include "plugins/bundled/common/invocation.hpp"
#include "plugins/bundled/common/result_json.hpp"
#include "plugins/bundled/common/task.hpp"
#include "plugins/bundled/common/volume.hpp"

using namespace pacsnode;
using namespace pacsnode::bundled;

namespace {

constexpr const char* kName = "series-stats";
constexpr const char* kVersion = "1.0.0";
// ROI geometry, relative to the radius R of the object's equivalent circle on the middle slice.
constexpr double kCentralRadius = 0.4;      // central ROI radius: 0.4 R (40 % of the object's diameter)
constexpr double kPeripheralRadius = 0.15;  // peripheral ROI radius: 0.15 R
constexpr double kPeripheralOffset = 0.75;  // peripheral ROI centres: 0.75 R from the centre, at 12, 3, 6 and 9 o'clock

struct Stats {
  std::size_t n = 0;
  double mean = 0, sd = 0, min = 0, max = 0;
};

// Two-pass mean and sample SD over the values that `take` selects.
template <typename Take>
Stats statistics(std::size_t count, Take take) {
  Stats s;
  s.min = std::numeric_limits<double>::infinity();
  s.max = -s.min;
  double sum = 0;
  for (std::size_t i = 0; i < count; ++i) {
    double v;
    if (!take(i, v)) continue;
    ++s.n;
    sum += v;
    s.min = std::min(s.min, v);
    s.max = std::max(s.max, v);
  }
  if (s.n == 0) return s;
  s.mean = sum / double(s.n);
  double ss = 0;
  for (std::size_t i = 0; i < count; ++i) {
    double v;
    if (take(i, v)) ss += (v - s.mean) * (v - s.mean);
  }
  s.sd = s.n > 1 ? std::sqrt(ss / double(s.n - 1)) : 0.0;
  return s;
}

// A circle on slice k, centre (ci, cj) in pixel indices, radius in mm.
Stats roi(const Volume& v, std::size_t k, double ci, double cj, double radius_mm) {
  const float* slice = v.values.data() + k * v.slice_size();
  return statistics(v.slice_size(), [&](std::size_t p, double& out) {
    const double di = (double(p % v.nx) - ci) * v.dx, dj = (double(p / v.nx) - cj) * v.dy;
    if (di * di + dj * dj > radius_mm * radius_mm) return false;
    out = slice[p];
    return true;
  });
}

std::string format(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

void analyse(const Invocation& inv) {
  const Task task = read_task(inv.task_file);
  const Volume v = load_volume(task, LoadOptions{.require_geometry = false});
  const bool ct = v.modality == "CT";
  const plugins::Code quantity = ct ? codes::kAttenuation : codes::kIntensity;
  const plugins::Code unit = ct ? codes::kHounsfield : codes::kNoUnits;
  auto item = [&](const plugins::Code& q, double value, const plugins::Code& u, std::optional<plugins::Code> derivation) {
    return plugins::MeasurementItem{q, value, u, std::move(derivation), std::nullopt};
  };

  plugins::AnalysisResult result;
  result.algorithm_name = kName;
  result.algorithm_version = kVersion;

  const Stats all = statistics(v.values.size(), [&](std::size_t i, double& out) { out = v.values[i]; return true; });
  plugins::MeasurementGroup whole;
  whole.tracking_identifier = "whole series";
  whole.finding = codes::kBodyStructure;
  whole.items = {item(quantity, all.mean, unit, codes::kMean), item(quantity, all.sd, unit, codes::kStandardDeviation),
                 item(quantity, all.min, unit, codes::kMinimum), item(quantity, all.max, unit, codes::kMaximum)};
  result.groups.push_back(std::move(whole));

  // The object on the middle slice: pixels above the midpoint of the 1st and 99th
  // percentiles; its centroid and equivalent-circle radius place the ROIs.
  const std::size_t k = v.nz / 2;
  const float* slice = v.values.data() + k * v.slice_size();
  std::vector<float> sorted(slice, slice + v.slice_size());
  const std::size_t n = sorted.size();
  std::nth_element(sorted.begin(), sorted.begin() + n / 100, sorted.end());
  const double p1 = sorted[n / 100];
  std::nth_element(sorted.begin(), sorted.begin() + (n * 99) / 100, sorted.end());
  const double p99 = sorted[(n * 99) / 100];
  const double threshold = 0.5 * (p1 + p99);
  double si = 0, sj = 0;
  std::size_t count = 0;
  if (p99 > p1) {
    for (std::size_t p = 0; p < n; ++p)
      if (slice[p] > threshold) {
        si += double(p % v.nx);
        sj += double(p / v.nx);
        ++count;
      }
  }
  double ci = 0.5 * double(v.nx - 1), cj = 0.5 * double(v.ny - 1);
  double radius = 0.5 * std::min(double(v.nx) * v.dx, double(v.ny) * v.dy);
  if (count >= n / 100 && count > 0) {
    ci = si / double(count);
    cj = sj / double(count);
    radius = std::sqrt(double(count) * v.dx * v.dy / M_PI);
  }
  const Stats central = roi(v, k, ci, cj, kCentralRadius * radius);
  if (central.n < 2) throw NotApplicable("the central ROI holds fewer than 2 pixels");
  plugins::MeasurementGroup centre;
  centre.tracking_identifier = "central ROI";
  centre.finding = codes::kBodyStructure;
  centre.image_references = {v.sop_instance_uids[k]};
  centre.items = {item(quantity, central.mean, unit, codes::kMean), item(quantity, central.sd, unit, codes::kStandardDeviation)};
  std::string summary = "central ROI mean " + format(central.mean) + (ct ? " HU" : "") + ", SD " + format(central.sd);
  if (central.sd > 0) {
    centre.items.push_back(item(codes::kSignalToNoise, central.mean / central.sd, codes::kNoUnits, std::nullopt));
    summary += ", SNR " + format(central.mean / central.sd);
  }
  // Uniformity: only when all four peripheral ROIs lie inside the image.
  const double off_i = kPeripheralOffset * radius / v.dx, off_j = kPeripheralOffset * radius / v.dy;
  const double reach_i = (kPeripheralOffset + kPeripheralRadius) * radius / v.dx;
  const double reach_j = (kPeripheralOffset + kPeripheralRadius) * radius / v.dy;
  if (ci - reach_i >= 0 && ci + reach_i <= double(v.nx - 1) && cj - reach_j >= 0 && cj + reach_j <= double(v.ny - 1)) {
    double uniformity = 0;
    const double centres[4][2] = {{ci, cj - off_j}, {ci + off_i, cj}, {ci, cj + off_j}, {ci - off_i, cj}};
    for (const auto& c : centres) {
      const Stats p = roi(v, k, c[0], c[1], kPeripheralRadius * radius);
      uniformity = std::max(uniformity, std::abs(p.mean - central.mean));
    }
    centre.items.push_back(item(codes::kUniformity, uniformity, unit, std::nullopt));
    summary += ", uniformity " + format(uniformity);
  }
  result.groups.push_back(std::move(centre));
  result.summary = summary + " (middle slice " + std::to_string(k + 1) + " of " + std::to_string(v.nz) + ")";
  write_result(inv.out_dir, result);
}

}  // namespace

int main(int argc, char** argv) { return run_plugin(argc, argv, kName, analyse); }
