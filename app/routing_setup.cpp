#include "app/routing_setup.hpp"

#include <map>
#include <mutex>

#include "app/settings.hpp"
#include "dicom/attribute_text.hpp"
#include "routing/attributes.hpp"
#include "routing/forward.hpp"
#include "routing/rules.hpp"

namespace pacsnode::app {
namespace {

// The sweeper's view of a resource (tag → values, as the index holds them) as the rules
// engine reads it: each attribute with its dictionary VR, built when a rule asks for it.
class IndexedSource final : public routing::AttributeSource {
 public:
  explicit IndexedSource(const routing::Attributes& attributes) : attributes_(attributes) {}
  const routing::Attribute* find(std::uint32_t tag) const override {
    auto it = built_.find(tag);
    if (it != built_.end()) return &it->second;
    const auto* values = attributes_.find(tag);
    if (!values) return nullptr;
    routing::Attribute a;
    a.tag = tag;
    a.vr = dicom::dictionary_vr(tag);
    for (const auto& v : *values) {
      if (!v.empty()) a.values.push_back(v);
    }
    return &built_.emplace(tag, std::move(a)).first->second;
  }

 private:
  const routing::Attributes& attributes_;
  mutable std::map<std::uint32_t, routing::Attribute> built_;
};

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
      IndexedSource source(attributes);
      routing::AssociationContext association;
      // What the index keeps of the association: the calling AE (File Meta's Source AE).
      if (const auto* ae = attributes.find(0x00020016); ae && !ae->empty() && !ae->front().empty()) {
        association.calling_ae = ae->front();
      }
      return r->when.evaluate(source, association);
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
