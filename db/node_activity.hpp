#pragma once
// What the node has been doing, for the admin API's pages: instances received per minute,
// when each rule last fired, and how deliveries to a destination are going (its back-off).
// Thread-safe (connections from the pool). Throws pacsnode::Error: Unavailable when the
// server cannot be reached, Internal otherwise. No libpqxx here.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "db/connection_pool.hpp"

namespace pacsnode::db {

struct MinuteCount {
  std::string minute;  // the minute's start, ISO 8601 UTC ("2026-12-04T19:10:00Z")
  std::int64_t instances = 0;
};
// The last `minutes` minutes up to and including the current one, oldest first, every
// minute present (0 when nothing arrived).
std::vector<MinuteCount> arrivals_per_minute(ConnectionPool& pool, int minutes);

// When a job was last created by each of `rules` (every firing creates its jobs): ISO 8601
// text, "" when never. Same order as `rules`.
std::vector<std::string> rules_last_fired(ConnectionPool& pool, const std::vector<std::string>& rules);

struct TargetHealth {
  int consecutive_failures = 0;
  std::string blocked_until;  // ISO 8601, "" when not backed off
  std::string last_error;
  std::string updated_at;
};
// The back-off state of a job destination (kind "forward", target a peer's name); nullopt
// when nothing was ever delivered or failed there.
std::optional<TargetHealth> target_health(ConnectionPool& pool, const std::string& kind, const std::string& target);

}  // namespace pacsnode::db
