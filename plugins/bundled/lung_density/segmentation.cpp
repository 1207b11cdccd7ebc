#include "plugins/bundled/lung_density/segmentation.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "plugins/bundled/common/invocation.hpp"

namespace pacsnode::bundled {

namespace {

constexpr std::int32_t kUnlabelled = -1;
constexpr std::int32_t kBackground = -2;

struct Component {
  std::size_t size = 0;
  bool touches_edge = false;
  double sum_i = 0;  // column index sum, for the centroid
};

// 6-connected components of the voxels where labels[p] == kUnlabelled; writes component
// ids into `labels`.
std::vector<Component> components_3d(const Volume& v, std::vector<std::int32_t>& labels) {
  std::vector<Component> out;
  std::vector<std::size_t> stack;
  const std::size_t nx = v.nx, ny = v.ny, nz = v.nz, plane = nx * ny;
  for (std::size_t start = 0; start < labels.size(); ++start) {
    if (labels[start] != kUnlabelled) continue;
    const auto id = static_cast<std::int32_t>(out.size());
    Component c;
    labels[start] = id;
    stack.push_back(start);
    while (!stack.empty()) {
      const std::size_t p = stack.back();
      stack.pop_back();
      const std::size_t i = p % nx, j = (p / nx) % ny, k = p / plane;
      ++c.size;
      c.sum_i += double(i);
      if (i == 0 || j == 0 || i == nx - 1 || j == ny - 1) c.touches_edge = true;
      auto visit = [&](std::size_t q) {
        if (labels[q] == kUnlabelled) {
          labels[q] = id;
          stack.push_back(q);
        }
      };
      if (i > 0) visit(p - 1);
      if (i + 1 < nx) visit(p + 1);
      if (j > 0) visit(p - nx);
      if (j + 1 < ny) visit(p + nx);
      if (k > 0) visit(p - plane);
      if (k + 1 < nz) visit(p + plane);
    }
    out.push_back(c);
  }
  return out;
}

// 4-connected 2D component of `air` (one slice) containing `seed`; returns its pixels
// and marks them in `seen`.
std::vector<std::size_t> component_2d(const Volume& v, const std::vector<std::uint8_t>& air, std::size_t seed,
                                      std::vector<std::uint8_t>& seen) {
  std::vector<std::size_t> pixels, stack{seed};
  seen[seed] = 1;
  while (!stack.empty()) {
    const std::size_t p = stack.back();
    stack.pop_back();
    pixels.push_back(p);
    const std::size_t i = p % v.nx, j = p / v.nx;
    auto visit = [&](std::size_t q) {
      if (air[q] && !seen[q]) {
        seen[q] = 1;
        stack.push_back(q);
      }
    };
    if (i > 0) visit(p - 1);
    if (i + 1 < v.nx) visit(p + 1);
    if (j > 0) visit(p - v.nx);
    if (j + 1 < v.ny) visit(p + v.nx);
  }
  return pixels;
}

// Finds the trachea in the top slices and follows it (and the main bronchi) down, slice by
// slice, while each 2D air component that continues it stays smaller than an airway can be.
// Marks the voxels it takes as airway in `inside` (they stop being lung candidates).
std::size_t remove_airways(const Volume& v, std::vector<std::uint8_t>& inside) {
  const std::size_t plane = v.slice_size();
  const double pixel_cm2 = v.dx * v.dy / 100.0;
  const auto max_pixels = static_cast<std::size_t>(kMaxAirwayAreaCm2 / pixel_cm2);
  const auto min_pixels = std::max<std::size_t>(4, static_cast<std::size_t>(0.1 / pixel_cm2));
  // Slice order from the head down: +z is superior in patient coordinates.
  const bool k_up_is_head = v.normal[2] > 0;
  auto slice_at = [&](std::size_t step) { return k_up_is_head ? v.nz - 1 - step : step; };

  std::vector<std::uint8_t> air(plane), seen(plane);
  auto load_slice = [&](std::size_t k) {
    std::copy(inside.begin() + std::ptrdiff_t(k * plane), inside.begin() + std::ptrdiff_t((k + 1) * plane), air.begin());
    std::fill(seen.begin(), seen.end(), 0);
  };

  // Seed: the first slice from the top (within the top 30 %) with a small air component
  // near the middle of the body (the body: voxels >= -400 HU).
  std::vector<std::size_t> current;
  std::size_t step = 0;
  const std::size_t search = std::max<std::size_t>(1, v.nz * 3 / 10);
  for (; step < search && current.empty(); ++step) {
    const std::size_t k = slice_at(step);
    const float* values = v.values.data() + k * plane;
    double body_min = std::numeric_limits<double>::infinity(), body_max = -body_min, body_sum = 0;
    std::size_t body_n = 0;
    for (std::size_t p = 0; p < plane; ++p)
      if (values[p] >= kLungThresholdHu) {
        const double i = double(p % v.nx);
        body_min = std::min(body_min, i);
        body_max = std::max(body_max, i);
        body_sum += i;
        ++body_n;
      }
    if (body_n == 0) continue;
    const double body_centre = body_sum / double(body_n), half_band = 0.12 * (body_max - body_min);
    load_slice(k);
    for (std::size_t p = 0; p < plane; ++p) {
      if (!air[p] || seen[p]) continue;
      auto pixels = component_2d(v, air, p, seen);
      if (pixels.size() < min_pixels || pixels.size() > max_pixels) continue;
      double ci = 0;
      for (std::size_t q : pixels) ci += double(q % v.nx);
      ci /= double(pixels.size());
      if (std::abs(ci - body_centre) <= half_band)
        for (std::size_t q : pixels) current.push_back(k * plane + q);
    }
  }
  std::size_t removed = 0;
  // Follow downwards: a component of the next slice that overlaps the airway above
  // continues it, unless it is too large (it is a lung the bronchus has entered).
  while (!current.empty()) {
    for (std::size_t q : current) inside[q] = 0;
    removed += current.size();
    if (step >= v.nz) break;
    const std::size_t k = slice_at(step++);
    load_slice(k);
    std::vector<std::size_t> next;
    for (std::size_t q : current) {
      const std::size_t p = q % plane;
      if (!air[p] || seen[p]) continue;
      auto pixels = component_2d(v, air, p, seen);
      if (pixels.size() > max_pixels) continue;
      for (std::size_t r : pixels) next.push_back(k * plane + r);
    }
    current = std::move(next);
  }
  return removed;
}

}  // namespace

Segmentation segment_lungs(const Volume& v) {
  const std::size_t total = v.values.size();
  // Air inside the body: below the threshold, in a 3D component that touches no slice's
  // edge (what touches the edge is the air around the patient). The top and bottom slices
  // are not an edge: a lung cut by the scan range is still a lung.
  std::vector<std::int32_t> labels(total);
  for (std::size_t p = 0; p < total; ++p) labels[p] = v.values[p] < kLungThresholdHu ? kUnlabelled : kBackground;
  auto comps = components_3d(v, labels);
  std::vector<std::uint8_t> inside(total);
  for (std::size_t p = 0; p < total; ++p) inside[p] = labels[p] >= 0 && !comps[std::size_t(labels[p])].touches_edge;

  Segmentation seg;
  seg.labels.assign(total, Label::kNone);
  std::vector<std::uint8_t> before = inside;
  seg.airway_voxels = remove_airways(v, inside);
  for (std::size_t p = 0; p < total; ++p)
    if (before[p] && !inside[p]) seg.labels[p] = Label::kAirway;

  for (std::size_t p = 0; p < total; ++p) labels[p] = inside[p] ? kUnlabelled : kBackground;
  comps = components_3d(v, labels);
  std::vector<std::size_t> order(comps.size());
  for (std::size_t c = 0; c < order.size(); ++c) order[c] = c;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return comps[a].size > comps[b].size; });
  const auto min_voxels = static_cast<std::size_t>(kMinLungCm3 * 1000.0 / v.voxel_mm3());
  if (order.empty() || comps[order[0]].size < min_voxels)
    throw NotApplicable("no lungs found: no air component inside the body of at least " + std::to_string(int(kMinLungCm3)) + " cm3");

  // Which side is right: patient left is +x, so the lung whose centroid has the lower x is
  // the right lung. x of a voxel grows with i when row_dir[0] > 0.
  const double x_sign = v.row_dir[0] >= 0 ? 1.0 : -1.0;
  const bool two = order.size() > 1 && comps[order[1]].size >= min_voxels && comps[order[1]].size * 10 >= comps[order[0]].size;
  if (two) {
    const std::size_t a = order[0], b = order[1];
    const double xa = x_sign * comps[a].sum_i / double(comps[a].size), xb = x_sign * comps[b].sum_i / double(comps[b].size);
    const auto right = static_cast<std::int32_t>(xa < xb ? a : b), left = static_cast<std::int32_t>(xa < xb ? b : a);
    for (std::size_t p = 0; p < total; ++p) {
      if (labels[p] == right) seg.labels[p] = Label::kRight;
      else if (labels[p] == left) seg.labels[p] = Label::kLeft;
    }
    return seg;
  }
  // One component: cut it with the sagittal plane (a column index) that crosses the fewest
  // of its voxels within the middle 40 % of its extent, where the lungs touch.
  const auto only = static_cast<std::int32_t>(order[0]);
  std::vector<std::size_t> per_column(v.nx);
  for (std::size_t p = 0; p < total; ++p)
    if (labels[p] == only) ++per_column[p % v.nx];
  std::size_t lo = 0, hi = v.nx - 1;
  while (per_column[lo] == 0) ++lo;
  while (per_column[hi] == 0) --hi;
  const std::size_t from = lo + (hi - lo) * 3 / 10, to = lo + (hi - lo) * 7 / 10;
  std::size_t least = from;
  for (std::size_t i = from; i <= to; ++i)
    if (per_column[i] < per_column[least]) least = i;
  // A bridge between the lungs crosses many columns with about the same count: cut in the
  // middle of the run of columns within 25 % of the least count, not at its first column.
  const double near = 1.25 * double(per_column[least]);
  std::size_t run_lo = least, run_hi = least;
  while (run_lo > from && double(per_column[run_lo - 1]) <= near) --run_lo;
  while (run_hi < to && double(per_column[run_hi + 1]) <= near) ++run_hi;
  const std::size_t cut = (run_lo + run_hi + 1) / 2;
  seg.split_at_midline = true;
  seg.notes = "the lungs formed one component and were split at column " + std::to_string(cut);
  for (std::size_t p = 0; p < total; ++p) {
    if (labels[p] != only) continue;
    const bool low_x = (p % v.nx < cut) == (x_sign > 0);
    seg.labels[p] = low_x ? Label::kRight : Label::kLeft;
  }
  return seg;
}

}  // namespace pacsnode::bundled
