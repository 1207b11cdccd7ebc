#pragma once
// Routing rules: when a resource (an instance, a stable series, a stable study) matches a
// rule's `when`, its actions are to be done. This file decides which rules match and why;
// queueing and doing the actions is the dispatcher's.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "routing/attributes.hpp"
#include "routing/expression.hpp"

namespace pacsnode::routing {

// A rule's `on`: what it is evaluated for. Instance: once per stored instance. Series,
// Study: once when the series (study) has been quiet for the rule's stable_after.
enum class Trigger { Instance, Series, Study };
std::string_view to_string(Trigger on);                 // "instance", "series", "study"
std::optional<Trigger> parse_trigger(std::string_view text);

enum class Verb { Forward, Analyze };
std::string_view to_string(Verb verb);                  // "forward", "analyze"

// One entry of a rule's `then`: "forward NAME" ([[peers]] name) or "analyze NAME"
// ([[plugins]] name).
struct Action {
  Verb verb = Verb::Forward;
  std::string target;
  bool operator==(const Action&) const = default;
};

// Parses "forward archive" (words separated by spaces). nullopt with `why` set when the
// verb is unknown or the target missing or extra words follow.
std::optional<Action> parse_action(std::string_view text, std::string& why);
std::string to_string(const Action& action);            // "forward archive"

struct Rule {
  std::string name;                        // unique among all rules
  Trigger on = Trigger::Instance;
  Expression when;
  std::vector<Action> then;                // at least one
  std::chrono::milliseconds stable_after{0};  // Series, Study: the quiet period (rule's or [routing]'s); 0 for Instance
  int priority = 0;                        // higher first; ties keep file order
  bool fallback = false;                   // only when no other rule of the same `on` matched
  std::string origin;                      // where it was written, for messages: "etc/rules.d/ct.toml, rules[0]"
};

// One rule's outcome for one resource.
struct RuleOutcome {
  const Rule* rule = nullptr;
  bool matched = false;          // its actions are to be done
  // A fallback rule whose `when` is true but that does not run because another rule of
  // the same `on` matched (matched is then false).
  bool suppressed = false;
  TraceStep trace;               // filled by explain() only
};

class RuleSet {
 public:
  RuleSet() = default;
  // `rules` in file order; they are kept in evaluation order: priority, higher first, ties
  // in the given order. Names are assumed unique (the configuration checks).
  explicit RuleSet(std::vector<Rule> rules);

  const std::vector<Rule>& rules() const { return rules_; }   // in evaluation order
  bool empty() const { return rules_.empty(); }
  bool has(Trigger on) const;
  const Rule* find(std::string_view name) const;

  // The rules of `on` that match the resource, in evaluation order: every ordinary rule
  // whose `when` holds; when there is none, every fallback rule whose `when` holds. Call it
  // once per stored instance (Instance), per stable series (Series), per stable study
  // (Study). Thread-safe.
  std::vector<const Rule*> match(Trigger on, const AttributeSource& attributes,
                                 const AssociationContext& association) const;

  // Every rule of `on`, in evaluation order, with its outcome (as match() decides) and its
  // trace: for `pacsnode rules test` and for "why did / didn't this route".
  std::vector<RuleOutcome> explain(Trigger on, const AttributeSource& attributes,
                                   const AssociationContext& association) const;

  // The tags the rules of `on` read, sorted, each once: what a series or study source must
  // provide.
  std::vector<std::uint32_t> tags(Trigger on) const;

 private:
  std::vector<Rule> rules_;
};

}  // namespace pacsnode::routing
