#include "scp/association_policy.hpp"

#include <algorithm>

#include "dicom/sop_classes.hpp"
#include "net/uids.hpp"

namespace pacsnode::scp {
namespace {

net::AcceptDecision reject(std::uint8_t result, std::uint8_t source, std::uint8_t reason, std::string why) {
  net::AcceptDecision d;
  d.accept = false;
  d.rj = {result, source, reason};
  d.reason = std::move(why);
  return d;
}

bool blank(std::string_view ae) {
  return std::all_of(ae.begin(), ae.end(), [](char c) { return c == ' ' || c == '\0'; });
}

}  // namespace

net::AcceptorPolicy offered_services(bool storage, bool any_sop_class, bool query) {
  net::AcceptorPolicy policy;
  policy.supported.push_back({std::string(net::uid::Verification),
                              {std::string(net::uid::ExplicitVrLittleEndian), std::string(net::uid::ImplicitVrLittleEndian),
                               std::string(net::uid::ExplicitVrBigEndian)},
                              false});
  if (query) {
    for (const auto model : {net::uid::PatientRootFind, net::uid::StudyRootFind, net::uid::PatientRootMove,
                             net::uid::StudyRootMove, net::uid::PatientRootGet, net::uid::StudyRootGet}) {
      policy.supported.push_back(
          {std::string(model),
           {std::string(net::uid::ExplicitVrLittleEndian), std::string(net::uid::ImplicitVrLittleEndian)},
           false});
    }
  }
  if (storage) {
    for (const auto& sop_class : dicom::storage_sop_classes()) {
      policy.supported.push_back({sop_class, dicom::storage_transfer_syntaxes(), query});
    }
    if (any_sop_class) {
      policy.any_abstract_syntax_transfer_syntaxes = dicom::storage_transfer_syntaxes();
      policy.any_abstract_syntax_may_act_as_scu = query;
    }
  }
  return policy;
}

net::AcceptDecision decide_association(const net::AAssociateRq& rq, const PolicySettings& settings,
                                       std::size_t active) {
  if (active >= settings.max_associations) {
    return reject(2, 3, 2, "association limit of " + std::to_string(settings.max_associations) + " reached");
  }
  if (rq.called_ae != settings.ae_title) {
    return reject(1, 1, 7, "called AE title '" + rq.called_ae + "' is not ours ('" + settings.ae_title + "')");
  }
  if (blank(rq.calling_ae)) return reject(1, 1, 3, "calling AE title is empty");
  if (settings.reject_unknown_calling_ae &&
      std::find(settings.known_ae_titles.begin(), settings.known_ae_titles.end(), rq.calling_ae) ==
          settings.known_ae_titles.end()) {
    return reject(1, 1, 3, "calling AE title '" + rq.calling_ae + "' is not a configured peer");
  }

  std::optional<std::string> identity_response;
  if (settings.require_user_identity) {
    const auto& id = rq.user_info.user_identity_rq;
    if (!id) return reject(1, 1, 1, "user identity required and none was offered");
    const auto type = static_cast<net::UserIdentityType>(id->type);
    if (type != net::UserIdentityType::Username && type != net::UserIdentityType::UsernamePasscode) {
      return reject(1, 1, 1, "user identity type " + std::to_string(id->type) + " is not supported");
    }
    const bool ok = std::any_of(settings.users.begin(), settings.users.end(), [&](const Credential& c) {
      return c.username == id->primary && (type == net::UserIdentityType::Username || c.password == id->secondary);
    });
    if (!ok) return reject(1, 1, 1, "user identity '" + id->primary + "' not accepted");
    // Types 1 and 2 answer with an empty server response, only when one was asked for.
    if (id->positive_response_requested) identity_response = std::string();
  }

  net::Negotiated negotiated = net::negotiate(rq, settings.contexts);
  net::AcceptDecision d;
  d.accept = true;
  d.contexts = std::move(negotiated.ac_contexts);
  d.roles = std::move(negotiated.ac_roles);
  d.accepted = std::move(negotiated.accepted);
  d.user_identity_response = std::move(identity_response);
  return d;
}

}  // namespace pacsnode::scp
