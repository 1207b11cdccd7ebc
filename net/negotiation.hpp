#pragma once
// Presentation context and role negotiation (PS3.8 §9.3.2.2/§9.3.3.2, PS3.7 D.3.3.4),
// as pure functions: the acceptor's answer to an A-ASSOCIATE-RQ, and the requestor's
// reading of the A-ASSOCIATE-AC it got back. No I/O, no state.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "net/pdu.hpp"

namespace pacsnode::net {

struct SupportedSyntax {
  std::string abstract_syntax;
  std::vector<std::string> transfer_syntaxes;  // our preference order, best first
  // We accept the requestor's SCP role for this abstract syntax (we act as SCU: the
  // storage sub-operations of a C-GET).
  bool may_act_as_scu = false;
};

struct AcceptorPolicy {
  std::vector<SupportedSyntax> supported;
  // Non-empty: an abstract syntax absent from `supported` is accepted anyway, with these
  // transfer syntaxes in this order (the "accept any SOP class" switch).
  std::vector<std::string> any_abstract_syntax_transfer_syntaxes;
  bool any_abstract_syntax_may_act_as_scu = false;  // may_act_as_scu for those
};

struct AcceptedContext {
  std::uint8_t id = 0;
  std::string abstract_syntax;
  std::string transfer_syntax;
  bool requestor_is_scu = true;
  bool requestor_is_scp = false;
  bool operator==(const AcceptedContext&) const = default;
};

struct Negotiated {
  std::vector<PresentationContextAc> ac_contexts;  // one per proposed context, same order
  std::vector<RoleSelection> ac_roles;             // role replies for the AC's user info
  std::vector<AcceptedContext> accepted;
};

// The acceptor's answer. Every proposed context gets exactly one AC item with its id:
// - 0 with the first of OUR transfer syntaxes that the requestor also proposed;
// - 3 when the abstract syntax is not supported, 4 when no transfer syntax is;
// - 2 (provider rejection) for an even, zero or repeated id (PS3.8: ids are odd, 1-255);
// - 1 (user rejection) when role selection leaves the requestor neither SCU nor SCP
//   (it proposed SCP only and we may not act as SCU for that abstract syntax).
// Rejected items carry the requestor's first transfer syntax, for peers that insist on
// a well-formed sub-item. Roles: without a role item the requestor is SCU only; with one
// we reply scu=1 only if proposed, scp=1 only if proposed and may_act_as_scu; we never
// reply 1 where 0 was proposed, and reply only for abstract syntaxes we accepted.
Negotiated negotiate(const AAssociateRq& rq, const AcceptorPolicy& policy);

// The requestor's reading of an AC: the proposed contexts the peer accepted, with the
// transfer syntax it chose and the roles agreed. Tolerates rejected items without a
// transfer syntax; ignores an accepted item whose id we never proposed (or already saw)
// or whose transfer syntax we did not propose for it. A role is granted only where both
// we proposed it and the peer replied 1; without a reply the default roles apply.
std::vector<AcceptedContext> accepted_contexts(const AAssociateRq& rq, const AAssociateAc& ac);

// First accepted context for this abstract syntax (and transfer syntax, when given);
// nullptr when there is none. The pointer lives as long as the vector is unchanged.
const AcceptedContext* find_context(const std::vector<AcceptedContext>& contexts, std::string_view abstract_syntax,
                                    std::string_view transfer_syntax = {});
// The accepted context with this id (a PDV's presentation context id); nullptr if none.
const AcceptedContext* find_context(const std::vector<AcceptedContext>& contexts, std::uint8_t id);

}  // namespace pacsnode::net
