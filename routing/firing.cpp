#include "routing/firing.hpp"

#include <algorithm>

#include "db/stability.hpp"

namespace pacsnode::routing {

std::string_view level_name(Level level) {
  switch (level) {
    case Level::Instance: return "instance";
    case Level::Series: return "series";
    case Level::Study: return "study";
  }
  return "?";
}

std::optional<std::int64_t> due_at(const RuleSpec& rule, const db::PendingResource& resource,
                                   const db::RuleProgress* progress) {
  if (progress && progress->evaluated_version >= resource.version) return std::nullopt;
  using std::chrono::microseconds;
  const std::int64_t quiet = resource.last_arrival + std::chrono::duration_cast<microseconds>(rule.stable_after).count();
  if (!rule.max_wait) return quiet;
  // The rule's own pending period when it has looked before; else the resource's (the
  // first arrival since every rule last looked, which is this rule's first unseen one).
  std::int64_t since = resource.pending_since;
  if (progress) since = progress->pending_since.value_or(resource.pending_since);
  const std::int64_t waited = since + std::chrono::duration_cast<microseconds>(*rule.max_wait).count();
  return std::min(quiet, waited);
}

}  // namespace pacsnode::routing
