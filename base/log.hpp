#pragma once
// One logger for the whole node (spdlog). Lines are structured enough to grep:
// "assoc=12 calling=MODALITY called=PACSNODE ...".
#include <optional>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

namespace pacsnode::log {

enum class Level { trace, debug, info, warn, error, critical, off };

struct LogSettings {
  Level level = Level::info;
  std::string file;  // empty: stderr
};

// Installs the default logger. Safe to call again (replaces it).
void init(const LogSettings& settings);
// Parses "trace|debug|info|warn|error|critical|off"; nullopt when unknown.
std::optional<Level> parse_level(std::string_view name);

// For log lines whose arguments are costly to build (per message, per PDU).
inline bool enabled(Level level) { return spdlog::should_log(static_cast<spdlog::level::level_enum>(level)); }

using spdlog::critical;
using spdlog::debug;
using spdlog::error;
using spdlog::info;
using spdlog::trace;
using spdlog::warn;

}  // namespace pacsnode::log
