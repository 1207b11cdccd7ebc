#include "routing/rules.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace pacsnode::routing {

std::string_view to_string(Trigger on) {
  switch (on) {
    case Trigger::Instance: return "instance";
    case Trigger::Series: return "series";
    case Trigger::Study: return "study";
  }
  return "?";
}

std::optional<Trigger> parse_trigger(std::string_view text) {
  for (const Trigger t : {Trigger::Instance, Trigger::Series, Trigger::Study}) {
    if (to_string(t) == text) return t;
  }
  return std::nullopt;
}

std::string_view to_string(Verb verb) { return verb == Verb::Forward ? "forward" : "analyze"; }

std::optional<Action> parse_action(std::string_view text, std::string& why) {
  std::vector<std::string_view> words;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    const std::size_t start = i;
    while (i < text.size() && text[i] != ' ') ++i;
    if (i > start) words.push_back(text.substr(start, i - start));
  }
  if (words.empty()) {
    why = "empty action; write \"forward <peer>\" or \"analyze <plug-in>\"";
    return std::nullopt;
  }
  Action action;
  if (words[0] == "forward") {
    action.verb = Verb::Forward;
  } else if (words[0] == "analyze") {
    action.verb = Verb::Analyze;
  } else {
    why = fmt::format("unknown action \"{}\"; the actions are \"forward <peer>\" and \"analyze <plug-in>\"", words[0]);
    return std::nullopt;
  }
  const char* needs = action.verb == Verb::Forward ? "a [[peers]] name" : "a [[plugins]] name";
  if (words.size() == 1) {
    why = fmt::format("\"{}\" needs {} after it", words[0], needs);
    return std::nullopt;
  }
  if (words.size() > 2) {
    why = fmt::format("\"{}\" takes one name ({}), got {} words", words[0], needs, words.size() - 1);
    return std::nullopt;
  }
  action.target = std::string(words[1]);
  return action;
}

std::string to_string(const Action& action) { return fmt::format("{} {}", to_string(action.verb), action.target); }

RuleSet::RuleSet(std::vector<Rule> rules) : rules_(std::move(rules)) {
  std::stable_sort(rules_.begin(), rules_.end(), [](const Rule& a, const Rule& b) { return a.priority > b.priority; });
}

bool RuleSet::has(Trigger on) const {
  return std::any_of(rules_.begin(), rules_.end(), [on](const Rule& r) { return r.on == on; });
}

const Rule* RuleSet::find(std::string_view name) const {
  for (const auto& rule : rules_) {
    if (rule.name == name) return &rule;
  }
  return nullptr;
}

std::vector<const Rule*> RuleSet::match(Trigger on, const AttributeSource& attributes,
                                        const AssociationContext& association) const {
  std::vector<const Rule*> matched;
  for (const auto& rule : rules_) {
    if (rule.on == on && !rule.fallback && rule.when.evaluate(attributes, association)) matched.push_back(&rule);
  }
  if (!matched.empty()) return matched;
  for (const auto& rule : rules_) {
    if (rule.on == on && rule.fallback && rule.when.evaluate(attributes, association)) matched.push_back(&rule);
  }
  return matched;
}

std::vector<RuleOutcome> RuleSet::explain(Trigger on, const AttributeSource& attributes,
                                          const AssociationContext& association) const {
  std::vector<RuleOutcome> outcomes;
  bool ordinary_matched = false;
  for (const auto& rule : rules_) {
    if (rule.on != on) continue;
    RuleOutcome& o = outcomes.emplace_back();
    o.rule = &rule;
    o.matched = rule.when.evaluate(attributes, association, o.trace);
    ordinary_matched = ordinary_matched || (o.matched && !rule.fallback);
  }
  if (ordinary_matched) {
    for (auto& o : outcomes) {
      if (o.rule->fallback && o.matched) {
        o.matched = false;
        o.suppressed = true;
      }
    }
  }
  return outcomes;
}

std::vector<std::uint32_t> RuleSet::tags(Trigger on) const {
  std::vector<std::uint32_t> out;
  for (const auto& rule : rules_) {
    if (rule.on == on) out.insert(out.end(), rule.when.tags().begin(), rule.when.tags().end());
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace pacsnode::routing
