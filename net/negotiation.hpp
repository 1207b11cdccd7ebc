#pragma once
// PROVISIONAL (replaced by the negotiation module): the types association.hpp relies on.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "net/pdu.hpp"

namespace pacsnode::net {

struct SupportedSyntax {
  std::string abstract_syntax;
  std::vector<std::string> transfer_syntaxes;
  bool may_act_as_scu = false;
};
struct AcceptorPolicy {
  std::vector<SupportedSyntax> supported;
  std::vector<std::string> any_abstract_syntax_transfer_syntaxes;
};
struct AcceptedContext {
  std::uint8_t id = 0;
  std::string abstract_syntax;
  std::string transfer_syntax;
  bool requestor_is_scu = true;
  bool requestor_is_scp = false;
};
struct Negotiated {
  std::vector<PresentationContextAc> ac_contexts;
  std::vector<RoleSelection> ac_roles;
  std::vector<AcceptedContext> accepted;
};
Negotiated negotiate(const AAssociateRq& rq, const AcceptorPolicy& policy);
std::vector<AcceptedContext> accepted_contexts(const AAssociateRq& rq, const AAssociateAc& ac);
const AcceptedContext* find_context(const std::vector<AcceptedContext>&, std::string_view abstract_syntax,
                                    std::string_view transfer_syntax = {});
}  // namespace pacsnode::net
