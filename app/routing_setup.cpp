#include "app/routing_setup.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <map>
#include <mutex>

#include "app/settings.hpp"
#include "app/version.hpp"
#include "base/log.hpp"
#include "routing/analyze.hpp"
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

// Where plug-in job folders go: <storage>/plugin-runs, on the storage file system so that
// inputs can be hard links. A node running as root runs plug-ins as `nobody`, which must be
// able to reach the folder: when a parent of the storage root is closed to others (0700),
// the job folders go to a folder of the node's own under the system's temp directory.
std::filesystem::path plugin_work_root(const std::filesystem::path& storage_root) {
  const auto preferred = storage_root / "plugin-runs";
  if (::geteuid() != 0) return preferred;
  for (auto dir = std::filesystem::absolute(storage_root); ; dir = dir.parent_path()) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) == 0 && (st.st_mode & S_IXOTH) == 0) {
      const auto fallback = std::filesystem::temp_directory_path() /
                            fmt::format("pacsnode-plugin-runs-{:016x}", std::hash<std::string>{}(storage_root.string()));
      log::info("plug-in job folders in {}: {} is closed to the plug-ins' user (nobody)", fallback.string(),
                dir.string());
      return fallback;
    }
    if (dir == dir.root_path() || dir.empty()) break;
  }
  return preferred;
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
    spec.reads = rule.when.tags();
    specs.push_back(std::move(spec));
  }
  return specs;
}

std::vector<routing::PeerAddress> peer_addresses(const Config& config) {
  std::vector<routing::PeerAddress> out;
  for (const auto& p : config.peers) out.push_back({p.name, p.ae_title, p.host, p.port});
  return out;
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
  for (const auto& plugin : config.plugins) {
    s.dispatcher.target_limits[{routing::kAnalyzeKind, plugin.name}] = plugin.max_parallel;
  }
  // A plug-in run holds a blocking thread for as long as it runs: enough of them that the
  // other jobs' database calls never wait behind analyses.
  s.dispatcher.blocking_threads = jobs.workers + 4;
  return s;
}

std::map<std::string, routing::JobHandler> job_handlers(const Config& config, const std::filesystem::path& storage_root,
                                                        const std::string& conninfo, ingest::Ingest& ingest) {
  routing::ForwardSettings forward;
  forward.storage_root = storage_root;
  for (const auto& peer : config.peers) forward.peers[peer.name] = {peer.ae_title, peer.host, peer.port};
  forward.association = association_settings(config);

  routing::AnalyzeSettings analyze;
  analyze.conninfo = conninfo;
  analyze.storage_root = storage_root;
  analyze.work_root = plugin_work_root(storage_root);
  for (const auto& plugin : config.plugins) {
    plugins::PluginSpec spec;
    spec.name = plugin.name;
    spec.command = plugin.command;
    spec.timeout = plugin.timeout;
    spec.memory_mb = plugin.memory_mb;
    analyze.plugins[plugin.name] = std::move(spec);
  }
  analyze.report_peers = config.report_peers;
  analyze.forward_max_attempts = static_cast<int>(config.jobs.max_attempts);
  analyze.ae_title = config.ae_title;
  analyze.implementation_class_uid = kImplementationClassUid;
  analyze.implementation_version_name = kImplementationVersionName;
  analyze.ingest = &ingest;
  return {{routing::kForwardKind, routing::forward_handler(std::move(forward))},
          {routing::kAnalyzeKind, routing::analyze_handler(std::move(analyze))}};
}

}  // namespace pacsnode::app
