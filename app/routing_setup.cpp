#include "app/routing_setup.hpp"

#include <map>
#include <mutex>

#include "app/settings.hpp"
#include "routing/resource_attributes.hpp"
#include "routing/forward.hpp"
#include "routing/rules.hpp"

namespace pacsnode::app {
namespace {

routing::Level level_of(routing::Trigger on) {
  switch (on) {
    case routing::Trigger::Instance: return routing::Level::Instance;
    case routing::Trigger::Series: return routing::Level::Series;
    case routing::Trigger::Study: return routing::Level::Study;
  }
  return routing::Level::Series;
}

}  // namespace

std::vector<routing::RuleSpec> rule_specs(const Config& config) {
  std::vector<routing::RuleSpec> specs;
  for (const routing::Rule& rule : config.rules.rules()) {
    routing::RuleSpec spec;
    spec.name = rule.name;
    spec.on = level_of(rule.on);
    for (const auto& action : rule.then) spec.actions.push_back({std::string(routing::to_string(action.verb)), action.target});
    // The sweeper counts whole seconds; a quiet period is never shortened by rounding.
    spec.stable_after = std::chrono::ceil<std::chrono::seconds>(rule.stable_after);
    if (config.max_wait) spec.max_wait = std::chrono::ceil<std::chrono::seconds>(*config.max_wait);
    spec.priority = rule.priority;
    spec.fallback = rule.fallback;  // the sweeper applies fallback across the rules of one level
    const routing::Rule* r = &rule;  // the configuration outlives the engine (serve owns both)
    spec.matches = [r](const routing::Attributes& attributes) {
      const routing::IndexedSource source(attributes);
      return r->when.evaluate(source, attributes.association());
    };
    specs.push_back(std::move(spec));
  }
  return specs;
}

routing::EngineSettings engine_settings(const Config& config, const std::string& conninfo) {
  const auto& jobs = config.jobs;
  routing::EngineSettings s;
  s.conninfo = conninfo;
  s.dispatcher.workers = jobs.workers;
  s.dispatcher.per_target = jobs.per_peer_concurrency;
  s.dispatcher.lease = jobs.lease;
  s.dispatcher.retry.base = jobs.retry_base_delay;
  s.dispatcher.retry.max = jobs.retry_max_delay;
  s.dispatcher.retry.max_age = jobs.max_age;
  s.sweeper.max_attempts = static_cast<int>(jobs.max_attempts);
  return s;
}

std::map<std::string, routing::JobHandler> job_handlers(const Config& config,
                                                        const std::filesystem::path& storage_root) {
  routing::ForwardSettings forward;
  forward.storage_root = storage_root;
  for (const auto& peer : config.peers) forward.peers[peer.name] = {peer.ae_title, peer.host, peer.port};
  forward.association = association_settings(config);
  return {{routing::kForwardKind, routing::forward_handler(std::move(forward))}};
}

}  // namespace pacsnode::app
