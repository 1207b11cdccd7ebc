#include "routing/explanation.hpp"

#include <fmt/format.h>

#include "base/json.hpp"

namespace pacsnode::routing {
namespace {

void append_trace_json(std::string& out, const TraceStep& step) {
  out += fmt::format("{{\"text\":{},\"line\":{},\"column\":{},\"result\":{}", json_string(step.text),
                     step.position.line, step.position.column, step.result ? "true" : "false");
  if (!step.detail.empty()) out += ",\"detail\":" + json_string(step.detail);
  if (!step.children.empty()) {
    out += ",\"children\":[";
    for (std::size_t i = 0; i < step.children.size(); ++i) {
      if (i > 0) out += ',';
      append_trace_json(out, step.children[i]);
    }
    out += ']';
  }
  out += '}';
}

}  // namespace

std::vector<RuleOutcome> explain_all(const RuleSet& rules, const AttributeSource& attributes,
                                     const AssociationContext& association) {
  std::vector<RuleOutcome> out;
  for (const auto on : {Trigger::Instance, Trigger::Series, Trigger::Study}) {
    for (auto& o : rules.explain(on, attributes, association)) out.push_back(std::move(o));
  }
  return out;
}

std::string would_do(const Action& action, const std::vector<PeerAddress>& peers) {
  if (action.verb == Verb::Forward) {
    for (const auto& peer : peers) {
      if (peer.name == action.target) {
        return fmt::format("would forward to {} (peer {}@{}:{})", action.target, peer.ae_title, peer.host, peer.port);
      }
    }
    return fmt::format("would forward to {}", action.target);
  }
  return fmt::format("would analyze with {}", action.target);
}

std::string explanation_json(const std::vector<RuleOutcome>& outcomes, const std::vector<PeerAddress>& peers,
                             const std::string& head, const std::string& error) {
  std::string out = "{" + head;
  if (!error.empty()) return out + ",\"error\":" + json_string(error) + "}";
  out += ",\"rules\":[";
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    const auto& o = outcomes[i];
    const Rule& rule = *o.rule;
    if (i > 0) out += ',';
    out += fmt::format("\n{{\"name\":{},\"on\":\"{}\",\"priority\":{},\"fallback\":{},\"matched\":{},\"suppressed\":{},"
                       "\"trace\":",
                       json_string(rule.name), to_string(rule.on), rule.priority, rule.fallback ? "true" : "false",
                       o.matched ? "true" : "false", o.suppressed ? "true" : "false");
    append_trace_json(out, o.trace);
    out += ",\"actions\":[";
    if (o.matched) {
      for (std::size_t k = 0; k < rule.then.size(); ++k) {
        if (k > 0) out += ',';
        out += fmt::format("{{\"verb\":\"{}\",\"target\":{},\"would\":{}}}", to_string(rule.then[k].verb),
                           json_string(rule.then[k].target), json_string(would_do(rule.then[k], peers)));
      }
    }
    out += "]}";
  }
  return out + "]}";
}

std::string fold_whitespace(std::string_view text) {
  std::string out;
  bool space = false;
  for (const char c : text) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

}  // namespace pacsnode::routing
