#pragma once
// "Which rules would match this, and why": every rule evaluated on one resource with its
// trace, and the JSON that `pacsnode rules test --json` and the admin API's POST
// /api/rules/test both answer with.
#include <cstdint>
#include <string>
#include <vector>

#include "routing/rules.hpp"

namespace pacsnode::routing {

// A forward action's destination, as the configuration names it ([[peers]]).
struct PeerAddress {
  std::string name;
  std::string ae_title;
  std::string host;
  std::uint16_t port = 104;
};

// Every rule of every `on` (instance, series, study) evaluated on `attributes`, each with
// its outcome and trace, in evaluation order within each `on`.
std::vector<RuleOutcome> explain_all(const RuleSet& rules, const AttributeSource& attributes,
                                     const AssociationContext& association);

// Whitespace runs folded to one space: a `when` written over several lines, on one.
std::string fold_whitespace(std::string_view text);

// "would forward to archive (peer ARCHIVE@10.0.0.9:104)", "would analyze with lung-density".
std::string would_do(const Action& action, const std::vector<PeerAddress>& peers);

// {<head>, "rules":[{"name","on","priority","fallback","matched","suppressed","trace",
// "actions":[{"verb","target","would"}]}]}; with a non-empty `error`, {<head>, "error"}.
// `head` is the object's first member(s), e.g. "\"file\":\"a.dcm\"".
std::string explanation_json(const std::vector<RuleOutcome>& outcomes, const std::vector<PeerAddress>& peers,
                             const std::string& head, const std::string& error = {});

}  // namespace pacsnode::routing
