#include "routing/sweeper.hpp"

#include <algorithm>
#include <map>
#include <optional>

#include <fmt/format.h>

#include "base/log.hpp"
#include "db/stability.hpp"

namespace pacsnode::routing {
namespace {

bool matches(const RuleSpec& rule, const Attributes& attributes, const std::string& uid) {
  if (!rule.matches) return false;
  try {
    return rule.matches(attributes);
  } catch (const std::exception& e) {
    log::error("routing: rule {} failed on {}: {} (counted as not matching)", rule.name, uid, e.what());
  } catch (...) {
    log::error("routing: rule {} failed on {} (counted as not matching)", rule.name, uid);
  }
  return false;
}

// Whether `rule` matches, with fallback semantics: a fallback rule matches when no
// non-fallback rule of its level does.
bool fires(const RuleSpec& rule, const std::vector<RuleSpec>& rules, const Attributes& attributes,
           const std::string& uid) {
  if (!rule.fallback) return matches(rule, attributes, uid);
  return std::none_of(rules.begin(), rules.end(), [&](const RuleSpec& other) {
    return other.on == rule.on && !other.fallback && matches(other, attributes, uid);
  });
}

db::JobSpec job_for(const RuleSpec& rule, const JobAction& action, const std::string& level, std::string study_uid,
                    std::string series_uid, std::string sop_instance_uid, std::int64_t version, int firing,
                    int max_attempts) {
  db::JobSpec spec;
  spec.kind = action.kind;
  spec.target = action.target;
  spec.level = level;
  spec.study_uid = std::move(study_uid);
  spec.series_uid = std::move(series_uid);
  spec.sop_instance_uid = std::move(sop_instance_uid);
  spec.rule = rule.name;
  spec.content_version = version;
  spec.firing = firing;
  spec.priority = rule.priority;
  spec.max_attempts = max_attempts;
  return spec;
}

}  // namespace

Sweeper::Sweeper(db::ConnectionPool& pool, std::vector<RuleSpec> rules, SweeperSettings settings)
    : pool_(pool), rules_(std::move(rules)), settings_(settings) {
  std::stable_partition(rules_.begin(), rules_.end(), [](const RuleSpec& r) { return !r.fallback; });
  // Per level, the union of what its rules read (fallback rules evaluate the others of their
  // level, so the union covers them too); one rule that does not say means all of them.
  for (const Level level : {Level::Instance, Level::Series, Level::Study}) {
    std::vector<std::uint32_t> tags;
    bool known = true;
    for (const auto& rule : rules_) {
      if (rule.on != level) continue;
      if (!rule.reads) {
        known = false;
        break;
      }
      tags.insert(tags.end(), rule.reads->begin(), rule.reads->end());
    }
    if (!known) continue;
    std::sort(tags.begin(), tags.end());
    tags.erase(std::unique(tags.begin(), tags.end()), tags.end());
    auto& keys = keys_[static_cast<int>(level)].emplace();
    for (const std::uint32_t tag : tags) keys.push_back(fmt::format("{:08X}", tag));
  }
}

const std::vector<std::string>* Sweeper::keys(Level level) const {
  const auto& keys = keys_[static_cast<int>(level)];
  return keys ? &*keys : nullptr;
}

SweepPass Sweeper::sweep() {
  SweepPass pass;
  while (sweep_resources(pass) == settings_.resource_batch) {
  }
  while (sweep_events(pass) == settings_.event_batch) {
  }
  return pass;
}

std::size_t Sweeper::sweep_resources(SweepPass& pass) {
  db::RoutingTransaction tx(pool_);
  const auto resources = tx.claim_resources(settings_.resource_batch);
  if (resources.empty()) return 0;
  const db::DbMicros now = tx.now();
  for (const auto& resource : resources) {
    const Level level = resource.level == "study" ? Level::Study : Level::Series;
    const auto progress = tx.rule_progress(resource);
    std::optional<db::IndexedAttributes> indexed;
    std::optional<Attributes> attributes;
    bool loaded = false;
    std::optional<db::DbMicros> recheck;
    for (const auto& rule : rules_) {
      if (rule.on != level) continue;
      const auto found = progress.find(rule.name);
      const db::RuleProgress* mine = found == progress.end() ? nullptr : &found->second;
      const auto due = due_at(rule, resource, mine);
      if (!due) continue;
      if (*due > now) {
        recheck = recheck ? std::min(*recheck, *due) : *due;
        continue;
      }
      if (!loaded) {
        indexed = tx.attributes(resource.level, resource.uid, keys(level));
        if (indexed) attributes = attributes_of(*indexed);
        loaded = true;
      }
      const bool fired = attributes && fires(rule, rules_, *attributes, resource.uid);
      if (fired) {
        const int firing = (mine ? mine->firings : 0) + 1;
        std::size_t created = 0;
        for (const auto& action : rule.actions) {
          const auto spec = job_for(rule, action, resource.level, resource.study_uid,
                                    level == Level::Series ? resource.uid : std::string(), {}, resource.version,
                                    firing, settings_.max_attempts);
          if (tx.enqueue(spec)) ++created;
        }
        ++pass.firings;
        pass.jobs += created;
        log::info("routing: rule {} fired on {} {} (version {}{}): {} job(s)", rule.name, resource.level,
                  resource.uid, resource.version, firing > 1 ? fmt::format(", amendment {}", firing - 1) : "",
                  created);
      } else if (!indexed) {
        log::debug("routing: {} {} is no longer indexed; rule {} skipped", resource.level, resource.uid, rule.name);
      }
      tx.rule_evaluated(resource, rule.name, fired);
    }
    tx.resource_evaluated(resource, recheck);
    ++pass.resources;
  }
  tx.commit();
  return resources.size();
}

std::size_t Sweeper::sweep_events(SweepPass& pass) {
  db::RoutingTransaction tx(pool_);
  const auto events = tx.claim_events(settings_.event_batch);
  if (events.empty()) return 0;
  const bool any = std::any_of(rules_.begin(), rules_.end(), [](const RuleSpec& r) { return r.on == Level::Instance; });
  std::vector<std::int64_t> consumed;
  // One query for the whole batch: a round trip per instance was most of the rules' cost.
  std::map<std::string, db::IndexedAttributes> batch;
  if (any) {
    std::vector<std::string> uids;
    for (const auto& event : events) uids.push_back(event.sop_instance_uid);
    batch = tx.instance_attributes(uids, keys(Level::Instance));
  }
  for (const auto& event : events) {
    consumed.push_back(event.id);
    if (!any) continue;
    const auto indexed = batch.find(event.sop_instance_uid);
    if (indexed == batch.end()) continue;  // deleted (or replaced: its new row has an event of its own)
    const Attributes attributes = attributes_of(indexed->second);
    for (const auto& rule : rules_) {
      if (rule.on != Level::Instance || !fires(rule, rules_, attributes, event.sop_instance_uid)) continue;
      std::size_t created = 0;
      for (const auto& action : rule.actions) {
        if (tx.enqueue(job_for(rule, action, "instance", event.study_uid, event.series_uid, event.sop_instance_uid,
                               event.id, 1, settings_.max_attempts))) {
          ++created;
        }
      }
      ++pass.firings;
      pass.jobs += created;
      log::debug("routing: rule {} fired on instance {}: {} job(s)", rule.name, event.sop_instance_uid, created);
    }
  }
  tx.consume_events(consumed);
  tx.commit();
  pass.events += events.size();
  return events.size();
}

}  // namespace pacsnode::routing
