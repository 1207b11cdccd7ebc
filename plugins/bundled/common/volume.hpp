#pragma once
// A series loaded into one 3D volume of modality values (HU for CT): stored values through
// Rescale Slope/Intercept, slices sorted along the slice normal by Image Position Patient.
#include <array>
#include <cstddef>
#include <string>
#include <vector>

#include "plugins/bundled/common/task.hpp"

namespace pacsnode::bundled {

struct Volume {
  std::size_t nx = 0, ny = 0, nz = 0;  // columns, rows, slices
  std::vector<float> values;           // values[(k * ny + j) * nx + i]
  double dx = 1, dy = 1, dz = 1;       // mm: between columns, between rows, between slices
  std::array<double, 3> row_dir{1, 0, 0};   // patient direction of increasing column index i
  std::array<double, 3> col_dir{0, 1, 0};   // of increasing row index j
  std::array<double, 3> normal{0, 0, 1};    // of increasing slice index k (row_dir x col_dir)
  std::array<double, 3> origin{0, 0, 0};    // Image Position Patient of slice 0
  bool has_geometry = false;  // positions and orientation were in the data (else: instance order)
  std::string modality;
  std::string series_instance_uid;
  std::vector<std::string> sop_instance_uids;  // in slice order

  float at(std::size_t i, std::size_t j, std::size_t k) const { return values[(k * ny + j) * nx + i]; }
  std::size_t slice_size() const { return nx * ny; }
  double voxel_mm3() const { return dx * dy * dz; }
  // Patient coordinates (mm) of a voxel centre.
  std::array<double, 3> position(double i, double j, double k) const;
};

struct LoadOptions {
  bool require_geometry = true;  // refuse a series without Image Position/Orientation Patient
};

// Loads the image files of the task (of its largest series when the task holds several);
// throws InputError for unreadable or inconsistent data and NotApplicable for images this
// loader does not handle (colour, multi-frame, no pixels at all).
Volume load_volume(const Task& task, const LoadOptions& options = {});

}  // namespace pacsnode::bundled
