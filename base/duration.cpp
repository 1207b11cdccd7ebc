#include "base/duration.hpp"

#include <array>
#include <cstdint>

namespace pacsnode {
namespace {

struct Unit {
  std::string_view suffix;
  std::int64_t ms;
};
// Largest first: "1h30m" is accepted, "30m1h" is not (a unit may not repeat or go backwards).
constexpr std::array<Unit, 5> kUnits{{{"d", 86'400'000}, {"h", 3'600'000}, {"m", 60'000}, {"s", 1'000}, {"ms", 1}}};
constexpr std::int64_t kMaxMs = std::int64_t{10} * 366 * 86'400'000;

}  // namespace

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::int64_t total = 0;
  std::size_t next_unit = 0;  // units before this one are used up
  std::size_t i = 0;
  while (i < text.size()) {
    std::int64_t number = 0;
    const std::size_t digits_start = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      number = number * 10 + (text[i] - '0');
      if (number > kMaxMs) return std::nullopt;
      ++i;
    }
    if (i == digits_start) return std::nullopt;
    const std::size_t unit_start = i;
    while (i < text.size() && text[i] >= 'a' && text[i] <= 'z') ++i;
    const std::string_view suffix = text.substr(unit_start, i - unit_start);
    std::size_t u = next_unit;
    while (u < kUnits.size() && kUnits[u].suffix != suffix) ++u;
    if (u == kUnits.size()) return std::nullopt;
    total += number * kUnits[u].ms;
    if (total > kMaxMs) return std::nullopt;
    next_unit = u + 1;
  }
  return std::chrono::milliseconds(total);
}

std::string format_duration(std::chrono::milliseconds duration) {
  std::int64_t rest = duration.count();
  if (rest <= 0) return "0s";
  std::string out;
  for (const auto& unit : kUnits) {
    if (rest >= unit.ms) {
      out += std::to_string(rest / unit.ms);
      out += unit.suffix;
      rest %= unit.ms;
    }
  }
  return out;
}

}  // namespace pacsnode
