#include "base/log.hpp"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

namespace pacsnode::log {

std::optional<Level> parse_level(std::string_view name) {
  static constexpr std::pair<std::string_view, Level> kLevels[] = {
      {"trace", Level::trace}, {"debug", Level::debug}, {"info", Level::info},         {"warn", Level::warn},
      {"error", Level::error}, {"critical", Level::critical}, {"off", Level::off}};
  for (const auto& [text, level] : kLevels) {
    if (text == name) return level;
  }
  return std::nullopt;
}

void init(const LogSettings& settings) {
  spdlog::drop("pacsnode");
  std::shared_ptr<spdlog::logger> logger;
  if (settings.file.empty()) {
    logger = spdlog::stderr_color_mt("pacsnode");
  } else {
    logger = spdlog::basic_logger_mt("pacsnode", settings.file);
  }
  // ISO time, level, thread, message: "2026-11-24T11:19:50.123 info [1234] assoc=3 ..."
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %l [%t] %v");
  logger->set_level(static_cast<spdlog::level::level_enum>(settings.level));
  logger->flush_on(spdlog::level::trace);  // every line reaches the file at once: nothing lost in a crash
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace pacsnode::log
