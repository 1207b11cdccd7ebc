#include "app/routing_setup.hpp"

#include "app/settings.hpp"
#include "routing/forward.hpp"

namespace pacsnode::app {

std::vector<routing::RuleSpec> rule_specs(const Config&) { return {}; }

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
