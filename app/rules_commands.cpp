#include "app/rules_commands.hpp"

#include <iostream>

#include <fmt/format.h>

#include "app/commands.hpp"
#include "base/duration.hpp"
#include "base/json.hpp"
#include "app/data_dir_lock.hpp"
#include "app/database_runtime.hpp"
#include "db/connection_pool.hpp"
#include "db/stability.hpp"
#include "app/routing_setup.hpp"
#include "routing/explanation.hpp"
#include "routing/resource_attributes.hpp"
#include "routing/sources.hpp"
#include "scu/store.hpp"

namespace pacsnode::app {
namespace {


std::string join_words(const std::vector<std::string>& words, std::string_view separator) {
  std::string out;
  for (const auto& w : words) {
    if (!out.empty()) out += separator;
    out += w;
  }
  return out;
}

// "archive (peer ARCHIVE@10.0.0.9:104)", "lung-density (plug-in: /opt/x --fast; timeout 10m)".
std::string target_description(const Config& config, const routing::Action& action) {
  if (action.verb == routing::Verb::Forward) {
    const PeerConfig* peer = config.find_peer_by_name(action.target);
    if (peer == nullptr) return action.target;
    return fmt::format("{} (peer {}@{}:{})", action.target, peer->ae_title, peer->host, peer->port);
  }
  const PluginConfig* plugin = config.find_plugin(action.target);
  if (plugin == nullptr) return action.target;
  return fmt::format("{} (plug-in: {}; timeout {})", action.target, join_words(plugin->command, " "),
                     format_duration(plugin->timeout));
}

// What `rules test` says an action would do.
std::string would(const Config& config, const routing::Action& action) {
  return routing::would_do(action, peer_addresses(config));
}

std::string rule_summary(const routing::Rule& rule) {
  std::string out = fmt::format("on {}", to_string(rule.on));
  if (rule.on != routing::Trigger::Instance) out += fmt::format(", stable after {}", format_duration(rule.stable_after));
  out += fmt::format(", priority {}", rule.priority);
  if (rule.fallback) out += ", fallback";
  return out;
}

// ----- rules test -----

// One resource's outcomes: a file (every rule, on its attributes), or a study, series or
// instance of the index (the rules of its level).
struct FileResult {
  std::string file;   // the heading: a path, or "study 1.2.3"
  std::string error;  // unreadable: why
  std::vector<routing::RuleOutcome> outcomes;
  bool own_level = false;  // the resource is what the rules are "on" (from the index), not a file
  std::string no_rules = "no rules in the configuration";
  // The attributes named under the heading, when present.
  std::vector<std::pair<std::uint32_t, const char*>> facts = {
      {0x00080060u, "Modality"}, {0x00080016u, "SOPClassUID"}, {0x00080018u, "SOPInstanceUID"}};
};

// Which rule of the same `on` made a fallback stand aside.
std::string first_ordinary_match(const std::vector<routing::RuleOutcome>& outcomes, routing::Trigger on) {
  for (const auto& o : outcomes) {
    if (o.rule->on == on && o.matched && !o.rule->fallback) return o.rule->name;
  }
  return {};
}

std::string outcome_word(const routing::RuleOutcome& o) { return o.matched ? "matched" : "not matched"; }

void print_text(const Config& config, const FileResult& result, const routing::AttributeSource* attributes) {
  std::cout << "== " << result.file << "\n";
  if (!result.error.empty()) {
    std::cout << "  unreadable: " << result.error << "\n";
    return;
  }
  if (attributes != nullptr) {
    std::vector<std::string> facts;
    for (const auto& [tag, name] : result.facts) {
      if (const auto* a = attributes->find(tag); a != nullptr && !a->values.empty()) {
        facts.push_back(fmt::format("{} {}", name, join_words(a->values, "\\")));
      }
    }
    if (!facts.empty()) std::cout << "  " << join_words(facts, ", ") << "\n";
  }
  if (result.outcomes.empty()) std::cout << "  " << result.no_rules << "\n";
  std::size_t matched = 0;
  std::vector<std::string> plans;
  for (const auto& o : result.outcomes) {
    const routing::Rule& rule = *o.rule;
    std::string heading = fmt::format("  rule {} (on {}", rule.name, to_string(rule.on));
    if (rule.fallback) heading += ", fallback";
    if (rule.on != routing::Trigger::Instance && !result.own_level) heading += ": evaluated on this instance's attributes";
    heading += fmt::format("): {}", outcome_word(o));
    if (o.suppressed) {
      heading += fmt::format(" (a fallback: its condition holds, but rule {} on {} matched)",
                             first_ordinary_match(result.outcomes, rule.on), to_string(rule.on));
    }
    std::cout << heading << "\n" << routing::format_trace(o.trace, 4);
    if (o.matched) {
      ++matched;
      for (const auto& action : rule.then) {
        const std::string w = would(config, action);
        std::cout << "    " << w << "\n";
        plans.push_back(fmt::format("{} (rule {}, on {})", w.substr(std::string_view("would ").size()), rule.name,
                                    to_string(rule.on)));
      }
    }
  }
  std::cout << fmt::format("  {} of {} rule(s) matched", matched, result.outcomes.size());
  if (plans.empty()) {
    std::cout << "; nothing would be done\n";
  } else {
    std::cout << "; would do:\n";
    for (const auto& p : plans) std::cout << "    " << p << "\n";
  }
}

// `head`: the object's first member(s), e.g. "\"file\":\"a.dcm\"".
std::string json_of(const Config& config, const FileResult& result, const std::string& head) {
  return routing::explanation_json(result.outcomes, peer_addresses(config), head, result.error);
}

}  // namespace

int run_rules_check(const Config& config) {
  const auto& rules = config.rules.rules();
  const std::string file = config.file.empty() ? std::string("<config>") : config.file.string();
  for (const auto& path : config.included_files) std::cout << "included: " << path.string() << "\n";
  for (const auto& rule : rules) {
    std::cout << rule.name << "  " << rule_summary(rule) << "\n";
    std::cout << "  when  " << routing::fold_whitespace(rule.when.text()) << "\n";
    for (std::size_t i = 0; i < rule.then.size(); ++i) {
      std::cout << (i == 0 ? "  then  " : "        ") << to_string(rule.then[i].verb) << " "
                << target_description(config, rule.then[i]) << "\n";
    }
    std::cout << "  from  " << rule.origin << "\n";
  }
  std::size_t count[3] = {0, 0, 0};
  for (const auto& rule : rules) ++count[static_cast<int>(rule.on)];
  std::cout << fmt::format("{}: OK: {} rule(s) ({} on instance, {} on series, {} on study), listed in evaluation "
                           "order; {} peer(s), {} plug-in(s)\n",
                           file, rules.size(), count[0], count[1], count[2], config.peers.size(),
                           config.plugins.size());
  return 0;
}

int run_rules_test(const Config& config, const RulesTestOptions& options) {
  std::vector<std::string> errors;
  std::vector<std::filesystem::path> inputs(options.paths.begin(), options.paths.end());
  const auto files = scu::collect_files(inputs, errors);
  routing::AssociationContext association;
  if (options.calling_ae) routing::AssociationContext::add(association.calling_ae, *options.calling_ae);
  if (options.called_ae) routing::AssociationContext::add(association.called_ae, *options.called_ae);
  if (options.calling_host) routing::AssociationContext::add(association.calling_host, *options.calling_host);

  bool failed = !errors.empty();
  for (const auto& e : errors) std::cerr << "pacsnode rules test: " << e << "\n";
  if (options.json) std::cout << "[";
  bool first = true;
  for (const auto& path : files) {
    FileResult result;
    result.file = path.string();
    std::optional<routing::AttributeSet> attributes;
    try {
      attributes = routing::read_file_attributes(path);
      result.outcomes = routing::explain_all(config.rules, *attributes, association);
    } catch (const std::exception& e) {
      result.error = e.what();
      failed = true;
      std::cerr << "pacsnode rules test: " << e.what() << "\n";
    }
    if (options.json) {
      std::cout << (first ? "\n" : ",\n") << json_of(config, result, "\"file\":" + json_string(result.file));
    } else {
      print_text(config, result, attributes ? &*attributes : nullptr);
    }
    first = false;
  }
  if (options.json) std::cout << (first ? "]\n" : "\n]\n");
  return failed ? kExitFailure : 0;
}

int run_rules_test_study(const Config& config, const std::string& study_uid, bool json) {
  std::optional<DataDirLock> lock;  // held only when no serve runs: then the embedded cluster is ours to start
  if (config.database_url.empty()) lock = DataDirLock::try_acquire(config.data_dir);
  try {
    DatabaseRuntime runtime(config);
    db::ConnectionPool pool(runtime.conninfo(), 1);
    db::RoutingTransaction tx(pool);  // read only; rolled back
    const auto study = tx.attributes("study", study_uid);
    if (!study) {
      std::cerr << "pacsnode rules test: study " << study_uid << " is not in the index\n";
      return kExitFailure;
    }
    const auto members = tx.study_members(study_uid);
    if (json) std::cout << "[";
    bool first = true;
    std::size_t matched = 0, evaluated = 0;
    // Evaluates the rules of `on` on one indexed resource and prints them.
    using Facts = std::vector<std::pair<std::uint32_t, const char*>>;
    const Facts study_facts = {{0x00100020u, "PatientID"}, {0x00080020u, "StudyDate"}, {0x00080061u, "ModalitiesInStudy"}};
    const Facts series_facts = {{0x00080060u, "Modality"}, {0x00200011u, "SeriesNumber"},
                                {0x0008103Eu, "SeriesDescription"}};
    const Facts instance_facts = {{0x00080060u, "Modality"}, {0x00080016u, "SOPClassUID"},
                                  {0x00080018u, "SOPInstanceUID"}, {0x00200013u, "InstanceNumber"}};
    auto one = [&](routing::Trigger on, const std::string& level, const std::string& uid,
                   const db::IndexedAttributes& indexed, std::string heading) {
      const routing::Attributes attributes = routing::attributes_of(indexed);
      const routing::IndexedSource source(attributes);
      FileResult result;
      result.file = std::move(heading);
      result.own_level = true;
      result.no_rules = fmt::format("no rules on {}", level);
      result.facts = on == routing::Trigger::Study ? study_facts : on == routing::Trigger::Series ? series_facts : instance_facts;
      result.outcomes = config.rules.explain(on, source, attributes.association());
      for (const auto& o : result.outcomes) matched += o.matched ? 1 : 0;
      evaluated += result.outcomes.size();
      if (json) {
        std::cout << (first ? "\n" : ",\n")
                  << json_of(config, result,
                             fmt::format("\"level\":\"{}\",\"uid\":{}", level, json_string(uid)));
      } else {
        print_text(config, result, &source);
      }
      first = false;
    };
    std::size_t instances = 0;
    for (const auto& s : members) instances += s.sop_instance_uids.size();
    one(routing::Trigger::Study, "study", study_uid, *study,
        fmt::format("study {} ({} series, {} instance(s))", study_uid, members.size(), instances));
    for (const auto& series : members) {
      if (const auto indexed = tx.attributes("series", series.series_uid)) {
        one(routing::Trigger::Series, "series", series.series_uid, *indexed,
            fmt::format("series {} ({} instance(s))", series.series_uid, series.sop_instance_uids.size()));
      }
      for (const auto& uid : series.sop_instance_uids) {
        if (const auto indexed = tx.attributes("instance", uid)) {
          one(routing::Trigger::Instance, "instance", uid, *indexed, fmt::format("instance {}", uid));
        }
      }
    }
    if (json) {
      std::cout << "\n]\n";
    } else {
      std::cout << fmt::format("study {}: {} of {} rule evaluation(s) matched (nothing was done)\n", study_uid,
                               matched, evaluated);
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "pacsnode rules test: " << e.what() << "\n";
    return kExitFailure;
  }
}

}  // namespace pacsnode::app
