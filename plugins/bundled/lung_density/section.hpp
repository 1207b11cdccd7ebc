#pragma once
// A lung's largest axial section and its outline, for the planar region lung-density reports
// beside the volume figures (README, "Bundled plug-ins", lung-density).
#include <cstddef>
#include <initializer_list>
#include <vector>

#include "plugins/bundled/common/volume.hpp"
#include "plugins/bundled/lung_density/segmentation.hpp"

namespace pacsnode::bundled {

struct LungSection {
  std::size_t slice = 0;   // index into the volume's slices
  std::size_t pixels = 0;  // of the outlined pieces
  double mean = 0;         // of those pixels' values
  // The outer boundary of each piece along pixel edges, in image coordinates ((0,0) the top
  // left corner of the top left pixel), clockwise on screen, only corners kept, each closed
  // (its last point repeats its first). Two pieces are joined into one closed polyline by
  // going from the first piece's start to the second's and back along the same line, which
  // encloses no area: the polyline's area is the pieces' area.
  std::vector<double> outline;  // column, row, column, row, …
};

// The slice where `lungs` together have the most pixels, and on it the largest 4-connected
// piece of each of them that has pixels there. Requires at least one pixel of `lungs`.
LungSection largest_section(const Volume& v, const std::vector<Label>& labels, std::initializer_list<Label> lungs);

}  // namespace pacsnode::bundled
