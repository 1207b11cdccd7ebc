// Presentation context and role negotiation, both sides.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "net/negotiation.hpp"
#include "net/uids.hpp"

using namespace pacsnode::net;

namespace {

const std::string kIle{uid::ImplicitVrLittleEndian};
const std::string kEle{uid::ExplicitVrLittleEndian};
const std::string kEbe{uid::ExplicitVrBigEndian};
const std::string kJpeg{uid::JpegBaseline};
const std::string kJ2k{uid::Jpeg2000Lossless};
const std::string kVerification{uid::Verification};
const std::string kCt = "1.2.840.10008.5.1.4.1.1.2";
const std::string kMr = "1.2.840.10008.5.1.4.1.1.4";

AcceptorPolicy storage_policy(bool may_act_as_scu) {
  AcceptorPolicy policy;
  policy.supported.push_back({kVerification, {kIle, kEle}, false});
  policy.supported.push_back({kCt, {kEle, kIle, kJpeg}, may_act_as_scu});
  policy.supported.push_back({kMr, {kEle, kIle}, may_act_as_scu});
  return policy;
}

// What a requestor would read back from our answer, through the wire format.
std::vector<AcceptedContext> round_trip(const AAssociateRq& rq, const Negotiated& n) {
  AAssociateAc ac;
  ac.contexts = n.ac_contexts;
  ac.user_info.roles = n.ac_roles;
  const auto decoded = decode_pdu(encode_pdu(ac));
  REQUIRE(decoded.pdu.has_value());
  return accepted_contexts(rq, std::get<AAssociateAc>(*decoded.pdu));
}

}  // namespace

TEST_CASE("128 contexts, the same abstract syntax with different transfer syntaxes (conformance 1)") {
  AcceptorPolicy policy;
  AAssociateRq rq;
  for (int i = 0; i < 64; ++i) {
    const std::string abstract = "1.2.840.10008.5.1.4.1.1." + std::to_string(100 + i);
    policy.supported.push_back({abstract, {kEle, kIle, kJpeg}, false});
    rq.contexts.push_back({static_cast<std::uint8_t>(4 * i + 1), abstract, {kJpeg}});
    rq.contexts.push_back({static_cast<std::uint8_t>(4 * i + 3), abstract, {kIle}});
  }
  REQUIRE(rq.contexts.size() == 128);
  REQUIRE(rq.contexts.back().id == 255);

  const auto n = negotiate(rq, policy);
  REQUIRE(n.ac_contexts.size() == 128);
  REQUIRE(n.accepted.size() == 128);
  for (std::size_t i = 0; i < 128; ++i) {
    CAPTURE(i);
    CHECK(n.ac_contexts[i].id == rq.contexts[i].id);
    CHECK(n.ac_contexts[i].result == PcResult::Acceptance);
    CHECK(n.ac_contexts[i].transfer_syntax == rq.contexts[i].transfer_syntaxes[0]);
  }
  CHECK(find_context(n.accepted, "1.2.840.10008.5.1.4.1.1.163", kIle)->id == 255);
  CHECK(find_context(n.accepted, "1.2.840.10008.5.1.4.1.1.163", kJpeg)->id == 253);
  CHECK(round_trip(rq, n) == n.accepted);
}

TEST_CASE("mixed proposals: accepted, abstract syntax unknown, no transfer syntax in common") {
  AAssociateRq rq;
  rq.contexts.push_back({1, kVerification, {kIle}});
  rq.contexts.push_back({3, "1.2.3.4.5.6", {kIle}});
  rq.contexts.push_back({5, kCt, {kJ2k}});
  rq.contexts.push_back({7, kMr, {}});
  rq.contexts.push_back({9, "", {kIle}});
  const auto n = negotiate(rq, storage_policy(false));
  REQUIRE(n.ac_contexts.size() == 5);
  CHECK(n.ac_contexts[0] == PresentationContextAc{1, PcResult::Acceptance, kIle});
  CHECK(n.ac_contexts[1] == PresentationContextAc{3, PcResult::AbstractSyntaxNotSupported, kIle});
  CHECK(n.ac_contexts[2] == PresentationContextAc{5, PcResult::TransferSyntaxesNotSupported, kJ2k});
  CHECK(n.ac_contexts[3] == PresentationContextAc{7, PcResult::TransferSyntaxesNotSupported, ""});
  CHECK(n.ac_contexts[4].result == PcResult::AbstractSyntaxNotSupported);
  REQUIRE(n.accepted.size() == 1);
  CHECK(n.accepted[0] == AcceptedContext{1, kVerification, kIle, true, false});
}

TEST_CASE("our preference order wins over the requestor's") {
  AAssociateRq rq;
  rq.contexts.push_back({1, kCt, {kIle, kEbe, kJpeg, kEle}});
  rq.contexts.push_back({3, kCt, {kJpeg, kIle}});
  const auto n = negotiate(rq, storage_policy(false));
  CHECK(n.ac_contexts[0].transfer_syntax == kEle);
  CHECK(n.ac_contexts[1].transfer_syntax == kIle);
}

TEST_CASE("even, zero and repeated context ids are rejected by the provider (conformance 2)") {
  AAssociateRq rq;
  rq.contexts.push_back({2, kVerification, {kIle}});
  rq.contexts.push_back({0, kVerification, {kIle}});
  rq.contexts.push_back({1, kVerification, {kIle}});
  rq.contexts.push_back({1, kCt, {kIle}});
  const auto n = negotiate(rq, storage_policy(false));
  REQUIRE(n.ac_contexts.size() == 4);
  CHECK(n.ac_contexts[0].result == PcResult::ProviderRejection);
  CHECK(n.ac_contexts[1].result == PcResult::ProviderRejection);
  CHECK(n.ac_contexts[2].result == PcResult::Acceptance);
  CHECK(n.ac_contexts[3].result == PcResult::ProviderRejection);
  REQUIRE(n.accepted.size() == 1);
  CHECK(n.accepted[0].abstract_syntax == kVerification);
}

TEST_CASE("the accept-any switch takes unknown abstract syntaxes with its own transfer syntaxes") {
  AcceptorPolicy policy = storage_policy(false);
  policy.any_abstract_syntax_transfer_syntaxes = {kEle, kIle};
  AAssociateRq rq;
  rq.contexts.push_back({1, "1.2.3.4.5.6", {kIle, kEle}});
  rq.contexts.push_back({3, "1.2.3.4.5.7", {kJ2k}});
  rq.contexts.push_back({5, kVerification, {kEle, kIle}});
  const auto n = negotiate(rq, policy);
  CHECK(n.ac_contexts[0] == PresentationContextAc{1, PcResult::Acceptance, kEle});
  CHECK(n.ac_contexts[1].result == PcResult::TransferSyntaxesNotSupported);
  CHECK(n.ac_contexts[2] == PresentationContextAc{5, PcResult::Acceptance, kIle});  // its own list first
}

TEST_CASE("without a role item the requestor is SCU only, and no role is replied") {
  AAssociateRq rq;
  rq.contexts.push_back({1, kCt, {kIle}});
  const auto n = negotiate(rq, storage_policy(true));
  CHECK(n.ac_roles.empty());
  CHECK(n.accepted[0].requestor_is_scu);
  CHECK_FALSE(n.accepted[0].requestor_is_scp);
}

TEST_CASE("role replies are never 1 where 0 was proposed (conformance 17)") {
  for (bool may_act_as_scu : {false, true}) {
    for (int proposal = 0; proposal < 4; ++proposal) {
      const bool scu = proposal & 1;
      const bool scp = proposal & 2;
      CAPTURE(may_act_as_scu);
      CAPTURE(proposal);
      AAssociateRq rq;
      rq.contexts.push_back({1, kCt, {kIle}});
      rq.contexts.push_back({3, kCt, {kEle}});
      rq.user_info.roles.push_back({kCt, scu, scp});
      const auto n = negotiate(rq, storage_policy(may_act_as_scu));
      const bool usable = scu || (scp && may_act_as_scu);
      if (!usable) {
        // Neither role left: the contexts are refused and no role is replied.
        CHECK(n.ac_contexts[0].result == PcResult::UserRejection);
        CHECK(n.ac_contexts[1].result == PcResult::UserRejection);
        CHECK(n.ac_roles.empty());
        CHECK(n.accepted.empty());
        continue;
      }
      REQUIRE(n.ac_roles.size() == 1);  // one reply for the abstract syntax, not per context
      CHECK(n.ac_roles[0] == RoleSelection{kCt, scu, scp && may_act_as_scu});
      REQUIRE(n.accepted.size() == 2);
      for (const auto& c : n.accepted) {
        CHECK(c.requestor_is_scu == scu);
        CHECK(c.requestor_is_scp == (scp && may_act_as_scu));
      }
      CHECK(round_trip(rq, n) == n.accepted);
    }
  }
}

TEST_CASE("role items for abstract syntaxes we did not accept get no reply") {
  AAssociateRq rq;
  rq.contexts.push_back({1, kCt, {kJ2k}});         // rejected: transfer syntax
  rq.contexts.push_back({3, kMr, {kIle}});         // accepted
  rq.user_info.roles.push_back({kCt, true, true});
  rq.user_info.roles.push_back({"1.2.3.4", true, true});  // never proposed as a context
  rq.user_info.roles.push_back({kMr, false, true});
  rq.user_info.roles.push_back({kMr, true, true});  // repeated: the first one counts
  const auto n = negotiate(rq, storage_policy(true));
  REQUIRE(n.ac_roles.size() == 1);
  CHECK(n.ac_roles[0] == RoleSelection{kMr, false, true});
  CHECK(n.accepted[0] == AcceptedContext{3, kMr, kIle, false, true});
}

TEST_CASE("accepted_contexts tolerates a rejected item without transfer syntax (conformance 3)") {
  AAssociateRq rq;
  rq.contexts.push_back({1, kVerification, {kIle, kEle}});
  rq.contexts.push_back({3, kCt, {kJpeg}});
  rq.contexts.push_back({5, kMr, {kIle}});
  rq.contexts.push_back({7, kMr, {kEle}});
  AAssociateAc ac;
  ac.contexts.push_back({1, PcResult::Acceptance, kEle});
  ac.contexts.push_back({3, PcResult::TransferSyntaxesNotSupported, ""});
  ac.contexts.push_back({5, PcResult::Acceptance, kEle});   // a transfer syntax we did not propose for it
  ac.contexts.push_back({9, PcResult::Acceptance, kIle});   // an id we never proposed
  ac.contexts.push_back({1, PcResult::Acceptance, kIle});   // the same id again
  ac.contexts.push_back({7, PcResult::Acceptance, kEle});
  const auto accepted = accepted_contexts(rq, ac);
  REQUIRE(accepted.size() == 2);
  CHECK(accepted[0] == AcceptedContext{1, kVerification, kEle, true, false});
  CHECK(accepted[1] == AcceptedContext{7, kMr, kEle, true, false});
  CHECK(find_context(accepted, kMr) == &accepted[1]);
  CHECK(find_context(accepted, kMr, kIle) == nullptr);
  CHECK(find_context(accepted, std::uint8_t{7}) == &accepted[1]);
  CHECK(find_context(accepted, std::uint8_t{3}) == nullptr);
}

TEST_CASE("requestor side: roles are granted only where proposed and replied") {
  AAssociateRq rq;
  rq.contexts.push_back({1, kCt, {kIle}});
  rq.contexts.push_back({3, kMr, {kIle}});
  rq.contexts.push_back({5, kVerification, {kIle}});
  rq.user_info.roles.push_back({kCt, true, true});
  rq.user_info.roles.push_back({kMr, false, true});
  AAssociateAc ac;
  for (std::uint8_t id : {1, 3, 5}) ac.contexts.push_back({id, PcResult::Acceptance, kIle});
  ac.user_info.roles.push_back({kCt, true, true});
  ac.user_info.roles.push_back({kVerification, true, true});  // unsolicited: ignored
  const auto accepted = accepted_contexts(rq, ac);
  REQUIRE(accepted.size() == 3);
  CHECK(accepted[0].requestor_is_scu);
  CHECK(accepted[0].requestor_is_scp);
  // No reply for MR: the default roles apply.
  CHECK(accepted[1].requestor_is_scu);
  CHECK_FALSE(accepted[1].requestor_is_scp);
  CHECK(accepted[2].requestor_is_scu);
  CHECK_FALSE(accepted[2].requestor_is_scp);
}
