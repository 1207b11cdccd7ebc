#pragma once
// The contract between the rules engine and what makes rules fire. The rules engine
// (routing/rules: parse, validate, evaluate, explain; `[[rules]]` in the configuration)
// turns each configured rule into a RuleSpec; the sweeper (routing/sweeper.hpp) decides
// when it fires — the instant an instance is indexed for instance rules, after the quiet
// period for series and study rules — and turns each action of a firing into a job.
//
// When a series or study rule fires (README, "Routing: when a rule fires"):
//  * a resource is stable for a rule when no instance of it has arrived for stable_after;
//    every arriving instance restarts the clock;
//  * with max_wait, the rule fires anyway max_wait after the first instance that it has
//    not yet looked at, however busy the resource still is;
//  * an instance arriving after the rule fired makes it fire again, once per quiet period:
//    the jobs of that firing carry firing > 1 (an amendment);
//  * a rule that does not match when due has looked at that version: it fires (as a first
//    firing) only when a later arrival makes it match;
//  * a fallback rule matches when no non-fallback rule of the same level matches the
//    resource's attributes (whether or not those rules are due yet).
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "routing/resource_attributes.hpp"

namespace pacsnode::db {
struct PendingResource;
struct RuleProgress;
}  // namespace pacsnode::db

namespace pacsnode::routing {

enum class Level { Instance, Series, Study };
std::string_view level_name(Level level);  // "instance", "series", "study" (as in the jobs table)

// One action of a rule's `then`: "forward PEER" or "analyze PLUGIN".
struct JobAction {
  std::string kind;    // job kind: "forward", "analyze" (the worker registry's key)
  std::string target;  // the peer's name ([[peers]] name) or the plug-in's name
};

struct RuleSpec {
  std::string name;  // unique; part of every job's idempotency key
  Level on = Level::Series;
  std::vector<JobAction> actions;
  std::chrono::seconds stable_after{60};  // series and study rules
  std::optional<std::chrono::seconds> max_wait;
  int priority = 0;  // the jobs' priority: higher is claimed first
  bool fallback = false;
  // Whether the resource's attributes satisfy the rule's `when`. Called on the sweeper's
  // thread; must not block. A throw counts as "does not match" and is logged.
  std::function<bool(const Attributes&)> matches;
  // The tags `matches` reads (key fields or not), when known: the sweeper then reads only
  // those of the stored DICOM JSON. nullopt: it may read any attribute.
  std::optional<std::vector<std::uint32_t>> reads;
};

// When `rule` is due on `resource` (µs on the database clock), given the rule's progress on
// it (nullptr: the rule never looked at it); nullopt when the rule has already looked at
// the resource's current version. Pure.
std::optional<std::int64_t> due_at(const RuleSpec& rule, const db::PendingResource& resource,
                                   const db::RuleProgress* progress);

}  // namespace pacsnode::routing
