#include "plugins/bundled/lung_density/section.hpp"

#include <array>
#include <cstdint>
#include <stdexcept>
#include <unordered_map>

namespace pacsnode::bundled {
namespace {

// Directions along pixel edges, clockwise on screen (rows grow downwards): east, south,
// west, north. Walking direction d, the piece lies on the right.
constexpr std::array<int, 4> kDx{1, 0, -1, 0};
constexpr std::array<int, 4> kDy{0, 1, 0, -1};

struct Corner {
  std::int64_t x, y;
  bool operator==(const Corner&) const = default;
};
struct CornerHash {
  std::size_t operator()(const Corner& c) const { return std::hash<std::int64_t>()(c.x * 1000003 + c.y); }
};

}  // namespace

namespace {

struct Piece {
  std::size_t pixels = 0;
  double sum = 0;
  std::vector<double> outline;
};

// The largest 4-connected piece of `lung` on slice k and its outer boundary; none (0 pixels)
// when the lung has no pixel there.
Piece largest_piece(const Volume& v, const std::vector<Label>& labels, Label lung, std::size_t k) {
  const std::size_t n = v.slice_size();
  const std::size_t base = k * n;
  std::vector<std::int32_t> piece(n, -1);
  std::int32_t largest = -1;
  std::size_t largest_size = 0, largest_first = 0;
  std::int32_t next_id = 0;
  std::vector<std::size_t> stack;
  for (std::size_t seed = 0; seed < n; ++seed) {
    if (labels[base + seed] != lung || piece[seed] != -1) continue;
    const std::int32_t id = next_id++;
    std::size_t size = 0;
    piece[seed] = id;
    stack.assign(1, seed);
    while (!stack.empty()) {
      const std::size_t p = stack.back();
      stack.pop_back();
      ++size;
      const std::size_t i = p % v.nx, j = p / v.nx;
      auto visit = [&](std::size_t q) {
        if (labels[base + q] == lung && piece[q] == -1) {
          piece[q] = id;
          stack.push_back(q);
        }
      };
      if (i > 0) visit(p - 1);
      if (i + 1 < v.nx) visit(p + 1);
      if (j > 0) visit(p - v.nx);
      if (j + 1 < v.ny) visit(p + v.nx);
    }
    if (size > largest_size) {
      largest = id;
      largest_size = size;
      largest_first = seed;  // its first pixel in raster order: its top edge is on the outer boundary
    }
  }
  Piece result;
  if (largest_size == 0) return result;
  result.pixels = largest_size;
  for (std::size_t p = 0; p < n; ++p) {
    if (piece[p] == largest) result.sum += v.values[base + p];
  }
  auto inside = [&](std::int64_t i, std::int64_t j) {
    return i >= 0 && j >= 0 && i < std::int64_t(v.nx) && j < std::int64_t(v.ny) &&
           piece[std::size_t(j) * v.nx + std::size_t(i)] == largest;
  };

  // Every boundary edge of the piece, keyed by its start corner; the piece on its right.
  // A corner starts two edges where the piece touches itself diagonally.
  std::unordered_map<Corner, std::array<int, 2>, CornerHash> edges;
  auto add_edge = [&](std::int64_t x, std::int64_t y, int d) {
    auto [it, fresh] = edges.try_emplace(Corner{x, y}, std::array<int, 2>{-1, -1});
    it->second[it->second[0] == -1 ? 0 : 1] = d;
  };
  for (std::size_t p = 0; p < n; ++p) {
    if (piece[p] != largest) continue;
    const std::int64_t i = std::int64_t(p % v.nx), j = std::int64_t(p / v.nx);
    if (!inside(i, j - 1)) add_edge(i, j, 0);          // top: east
    if (!inside(i + 1, j)) add_edge(i + 1, j, 1);      // right: south
    if (!inside(i, j + 1)) add_edge(i + 1, j + 1, 2);  // bottom: west
    if (!inside(i - 1, j)) add_edge(i, j + 1, 3);      // left: north
  }
  // Walk the outer boundary from the top left corner of the piece's first pixel (only its
  // top edge starts there). Where two edges leave a corner, the right turn keeps to the
  // pixel just walked along (the piece is 4-connected: diagonal neighbours are not joined).
  const Corner start{std::int64_t(largest_first % v.nx), std::int64_t(largest_first / v.nx)};
  Corner at = start;
  int d = 0;
  int previous = -1;
  std::size_t steps = 0;
  const std::size_t max_steps = 4 * largest_size + 4;
  do {
    const auto found = edges.find(at);
    if (found == edges.end()) throw std::logic_error("largest_section: the outline is not closed");
    const auto& out = found->second;
    if (previous == -1 || out[1] == -1) {
      d = out[0];
    } else {
      d = out[0] == (previous + 1) % 4 ? out[0] : out[1];  // the right turn
    }
    if (d != previous) {
      result.outline.push_back(double(at.x));
      result.outline.push_back(double(at.y));
    }
    at = Corner{at.x + kDx[std::size_t(d)], at.y + kDy[std::size_t(d)]};
    previous = d;
    if (++steps > max_steps) throw std::logic_error("largest_section: the outline does not close");
  } while (!(at == start && d == 3));
  result.outline.push_back(result.outline[0]);
  result.outline.push_back(result.outline[1]);
  return result;
}

}  // namespace

LungSection largest_section(const Volume& v, const std::vector<Label>& labels, std::initializer_list<Label> lungs) {
  const std::size_t n = v.slice_size();
  LungSection best;
  std::size_t most = 0;
  for (std::size_t k = 0; k < v.nz; ++k) {
    std::size_t count = 0;
    for (std::size_t p = k * n; p < (k + 1) * n; ++p) {
      for (const Label lung : lungs) count += labels[p] == lung;
    }
    if (count > most) {
      most = count;
      best.slice = k;
    }
  }
  if (most == 0) throw std::logic_error("largest_section: no pixel of the lungs");
  double sum = 0;
  for (const Label lung : lungs) {
    const Piece piece = largest_piece(v, labels, lung, best.slice);
    if (piece.pixels == 0) continue;
    best.pixels += piece.pixels;
    sum += piece.sum;
    const bool joined = !best.outline.empty();
    const double x0 = joined ? best.outline[0] : 0, y0 = joined ? best.outline[1] : 0;
    best.outline.insert(best.outline.end(), piece.outline.begin(), piece.outline.end());
    if (joined) {
      // Back along the line that led to this piece: to the first piece's start.
      best.outline.push_back(x0);
      best.outline.push_back(y0);
    }
  }
  best.mean = sum / double(best.pixels);
  return best;
}

}  // namespace pacsnode::bundled
