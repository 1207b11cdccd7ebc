#pragma once
// Durations as the configuration writes them: "30s", "10m", "1h30m", "500ms".
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace pacsnode {

// One or more <digits><unit> groups, units ms, s, m, h, d (each at most once, largest
// first), no spaces, no sign: "30s", "10m", "1h30m", "1500ms". nullopt for anything else
// (including "", "30", "1.5h", "10 m") or for a value beyond 10 years.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

// The shortest spelling parse_duration reads back: 90000ms → "1m30s", 0 → "0s".
std::string format_duration(std::chrono::milliseconds duration);

}  // namespace pacsnode
