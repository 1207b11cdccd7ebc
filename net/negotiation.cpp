#include "net/negotiation.hpp"

#include <algorithm>
#include <bitset>

namespace pacsnode::net {
namespace {

bool contains(const std::vector<std::string>& list, std::string_view value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

const RoleSelection* find_role(const std::vector<RoleSelection>& roles, std::string_view sop_class_uid) {
  const auto it = std::find_if(roles.begin(), roles.end(),
                               [&](const RoleSelection& r) { return r.sop_class_uid == sop_class_uid; });
  return it == roles.end() ? nullptr : &*it;
}

// Our transfer syntaxes for an abstract syntax, or nullptr when we do not support it.
struct Offer {
  const std::vector<std::string>* transfer_syntaxes = nullptr;
  bool may_act_as_scu = false;
};

Offer find_offer(const AcceptorPolicy& policy, std::string_view abstract_syntax) {
  for (const auto& s : policy.supported) {
    if (s.abstract_syntax == abstract_syntax) return Offer{&s.transfer_syntaxes, s.may_act_as_scu};
  }
  if (!abstract_syntax.empty() && !policy.any_abstract_syntax_transfer_syntaxes.empty()) {
    return Offer{&policy.any_abstract_syntax_transfer_syntaxes, policy.any_abstract_syntax_may_act_as_scu};
  }
  return Offer{};
}

}  // namespace

Negotiated negotiate(const AAssociateRq& rq, const AcceptorPolicy& policy) {
  Negotiated out;
  out.ac_contexts.reserve(rq.contexts.size());
  std::bitset<256> seen_ids;
  for (const auto& pc : rq.contexts) {
    PresentationContextAc answer;
    answer.id = pc.id;
    answer.transfer_syntax = pc.transfer_syntaxes.empty() ? std::string() : pc.transfer_syntaxes.front();
    const bool valid_id = pc.id % 2 == 1 && !seen_ids.test(pc.id);
    seen_ids.set(pc.id);

    const Offer offer = valid_id ? find_offer(policy, pc.abstract_syntax) : Offer{};
    const std::string* chosen = nullptr;
    if (offer.transfer_syntaxes) {
      // Our preference decides, not the order the requestor listed them in.
      for (const auto& ts : *offer.transfer_syntaxes) {
        if (contains(pc.transfer_syntaxes, ts)) {
          chosen = &ts;
          break;
        }
      }
    }

    AcceptedContext accepted{pc.id, pc.abstract_syntax, {}, true, false};
    if (const RoleSelection* proposed = find_role(rq.user_info.roles, pc.abstract_syntax)) {
      accepted.requestor_is_scu = proposed->scu;
      accepted.requestor_is_scp = proposed->scp && offer.may_act_as_scu;
    }

    if (!valid_id) {
      answer.result = PcResult::ProviderRejection;
    } else if (!offer.transfer_syntaxes) {
      answer.result = PcResult::AbstractSyntaxNotSupported;
    } else if (!chosen) {
      answer.result = PcResult::TransferSyntaxesNotSupported;
    } else if (!accepted.requestor_is_scu && !accepted.requestor_is_scp) {
      // No role left to play on this context (PS3.7 D.3.3.4): refuse it rather than
      // accept a context neither side may use.
      answer.result = PcResult::UserRejection;
    } else {
      answer.result = PcResult::Acceptance;
      answer.transfer_syntax = *chosen;
      accepted.transfer_syntax = *chosen;
      out.accepted.push_back(std::move(accepted));
    }
    out.ac_contexts.push_back(std::move(answer));
  }

  for (const auto& proposed : rq.user_info.roles) {
    if (find_role(out.ac_roles, proposed.sop_class_uid)) continue;  // answered already
    const AcceptedContext* context = find_context(out.accepted, proposed.sop_class_uid);
    if (!context) continue;
    out.ac_roles.push_back(RoleSelection{proposed.sop_class_uid, context->requestor_is_scu, context->requestor_is_scp});
  }
  return out;
}

std::vector<AcceptedContext> accepted_contexts(const AAssociateRq& rq, const AAssociateAc& ac) {
  std::vector<AcceptedContext> out;
  for (const auto& answer : ac.contexts) {
    if (answer.result != PcResult::Acceptance) continue;
    if (find_context(out, answer.id)) continue;
    const auto pc = std::find_if(rq.contexts.begin(), rq.contexts.end(),
                                 [&](const PresentationContextRq& p) { return p.id == answer.id; });
    if (pc == rq.contexts.end() || !contains(pc->transfer_syntaxes, answer.transfer_syntax)) continue;

    AcceptedContext accepted{answer.id, pc->abstract_syntax, answer.transfer_syntax, true, false};
    const RoleSelection* proposed = find_role(rq.user_info.roles, pc->abstract_syntax);
    const RoleSelection* reply = find_role(ac.user_info.roles, pc->abstract_syntax);
    if (proposed && reply) {
      accepted.requestor_is_scu = proposed->scu && reply->scu;
      accepted.requestor_is_scp = proposed->scp && reply->scp;
    }
    out.push_back(std::move(accepted));
  }
  return out;
}

const AcceptedContext* find_context(const std::vector<AcceptedContext>& contexts, std::string_view abstract_syntax,
                                    std::string_view transfer_syntax) {
  for (const auto& c : contexts) {
    if (c.abstract_syntax == abstract_syntax && (transfer_syntax.empty() || c.transfer_syntax == transfer_syntax)) {
      return &c;
    }
  }
  return nullptr;
}

const AcceptedContext* find_context(const std::vector<AcceptedContext>& contexts, std::uint8_t id) {
  for (const auto& c : contexts) {
    if (c.id == id) return &c;
  }
  return nullptr;
}

}  // namespace pacsnode::net
