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

AssociationPolicy::AssociationPolicy(PolicySettings settings, UserAuthenticator::Verifier verify)
    : settings_(std::move(settings)),
      users_(std::move(settings_.users), settings_.max_concurrent_verifications, std::move(verify)) {
  settings_.users.clear();  // moved into users_
}

net::AcceptDecision AssociationPolicy::decide(const net::AAssociateRq& rq, std::size_t active) {
  if (active >= settings_.max_associations) {
    return reject(2, 3, 2, "association limit of " + std::to_string(settings_.max_associations) + " reached");
  }
  if (rq.called_ae != settings_.ae_title &&
      std::find(settings_.extra_ae_titles.begin(), settings_.extra_ae_titles.end(), rq.called_ae) ==
          settings_.extra_ae_titles.end()) {
    std::string ours = "'" + settings_.ae_title + "'";
    for (const auto& extra : settings_.extra_ae_titles) ours += ", '" + extra + "'";
    return reject(1, 1, 7, "called AE title '" + rq.called_ae + "' is not ours (" + ours + ")");
  }
  if (blank(rq.calling_ae)) return reject(1, 1, 3, "calling AE title is empty");
  if (settings_.reject_unknown_calling_ae &&
      std::find(settings_.known_ae_titles.begin(), settings_.known_ae_titles.end(), rq.calling_ae) ==
          settings_.known_ae_titles.end()) {
    return reject(1, 1, 3, "calling AE title '" + rq.calling_ae + "' is not a configured peer");
  }

  std::optional<std::string> identity_response;
  if (settings_.require_user_identity) {
    const auto& id = rq.user_info.user_identity_rq;
    if (!id) return reject(1, 1, 1, "user identity required and none was offered");
    auto check = users_.check(*id);
    if (check.verdict == IdentityVerdict::Busy) return reject(2, 3, 1, std::move(check.reason));
    if (check.verdict != IdentityVerdict::Accepted) return reject(1, 1, 1, std::move(check.reason));
    // Type 2 answers with an empty server response, only when one was asked for.
    if (id->positive_response_requested) identity_response = std::string();
  }

  net::Negotiated negotiated = net::negotiate(rq, settings_.contexts);
  net::AcceptDecision d;
  d.accept = true;
  d.contexts = std::move(negotiated.ac_contexts);
  d.roles = std::move(negotiated.ac_roles);
  d.accepted = std::move(negotiated.accepted);
  d.user_identity_response = std::move(identity_response);
  return d;
}

}  // namespace pacsnode::scp
