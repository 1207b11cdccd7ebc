#pragma once
// Routing's wiring: the rules the sweeper fires, the job handlers, and their settings from
// the configuration (only app/ reads it).
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "app/config.hpp"
#include "routing/engine.hpp"
#include "routing/explanation.hpp"

namespace pacsnode::ingest {
class Ingest;
}

namespace pacsnode::app {

// The configured rules as the sweeper takes them. The rules engine (routing/rules, the
// `[[rules]]` configuration) provides them; until it is merged there are none, and the
// node routes nothing (the queue, the handlers and `pacsnode jobs` work all the same).
std::vector<routing::RuleSpec> rule_specs(const Config& config);

// The [[peers]] as rule explanations name them.
std::vector<routing::PeerAddress> peer_addresses(const Config& config);

routing::EngineSettings engine_settings(const Config& config, const std::string& conninfo);
// kind → handler: forward and analyze. `ingest` (the node's one ingest path) stores the
// reports analyses make; it outlives the handlers.
std::map<std::string, routing::JobHandler> job_handlers(const Config& config, const std::filesystem::path& storage_root,
                                                        const std::string& conninfo, ingest::Ingest& ingest);

}  // namespace pacsnode::app
