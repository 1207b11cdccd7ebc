// The association policy's user identity checks (the other rules are covered end to end in
// tests/integration/echo_itest.cpp).
#include <doctest/doctest.h>

#include <atomic>
#include <future>
#include <string>
#include <thread>

#include "base/password.hpp"
#include "net/uids.hpp"
#include "scp/association_policy.hpp"

using namespace pacsnode;
using scp::AssociationPolicy;
using scp::PolicySettings;

namespace {

// libsodium's crypto_pwhash_str("s3cret") with the interactive limits, made outside pacsnode.
constexpr const char* kS3cretHash =
    "$argon2id$v=19$m=65536,t=2,p=1$1+g3StKrcCON8sPX7VMGYg$gPZDmRCsBfCsECoZ3V++dydXdpvv+qE8zXI7ijRKuY0";

// "rad" has a hashed password (s3cret), "old" a clear-text one (hunter2).
PolicySettings settings() {
  PolicySettings s;
  s.ae_title = "PACSNODE";
  s.require_user_identity = true;
  s.users = {{"rad", kS3cretHash, false}, {"old", "hunter2", true}};
  s.contexts = scp::offered_services(false, false);
  return s;
}

net::AAssociateRq rq(std::uint8_t type, std::string username, std::string passcode = {}, bool positive = false) {
  net::AAssociateRq r;
  r.called_ae = "PACSNODE";
  r.calling_ae = "MODALITY";
  r.contexts.push_back({1, std::string(net::uid::Verification), {std::string(net::uid::ImplicitVrLittleEndian)}});
  r.user_info.user_identity_rq = net::UserIdentityRq{type, positive, std::move(username), std::move(passcode)};
  return r;
}

// "accepted", or the A-ASSOCIATE-RJ as "result,source,reason".
std::string outcome(const net::AcceptDecision& d) {
  if (d.accept) return "accepted";
  return std::to_string(d.rj.result) + "," + std::to_string(d.rj.source) + "," + std::to_string(d.rj.reason);
}

std::string decide(AssociationPolicy& policy, const net::AAssociateRq& r) {
  const auto d = policy.decide(r, 0);
  INFO("reason: " << d.reason);
  return outcome(d);
}

}  // namespace

TEST_CASE("policy: username only (type 1) is refused for accounts that have a password") {
  AssociationPolicy policy(settings());
  CHECK(decide(policy, rq(1, "rad")) == "1,1,1");  // hashed password
  CHECK(decide(policy, rq(1, "old")) == "1,1,1");  // clear-text password
  CHECK(decide(policy, rq(1, "rad", "s3cret")) == "1,1,1");  // a passcode in a type 1 item counts for nothing
  CHECK(decide(policy, rq(1, "nobody")) == "1,1,1");
  CHECK(policy.decide(rq(1, "rad"), 0).reason.find("passcode is required") != std::string::npos);
}

TEST_CASE("policy: username and passcode against a hashed account") {
  AssociationPolicy policy(settings());
  CHECK(decide(policy, rq(2, "rad", "s3cret")) == "accepted");
  CHECK(decide(policy, rq(2, "rad", "wrong")) == "1,1,1");
  CHECK(decide(policy, rq(2, "rad", "s3cre")) == "1,1,1");
  CHECK(decide(policy, rq(2, "rad", "")) == "1,1,1");
  CHECK(decide(policy, rq(2, "rad", kS3cretHash)) == "1,1,1");  // the hash is not the password
  CHECK(decide(policy, rq(2, "nobody", "s3cret")) == "1,1,1");
  CHECK(decide(policy, rq(2, "RAD", "s3cret")) == "1,1,1");  // usernames are case-sensitive
  CHECK(decide(policy, rq(3, "rad", "s3cret")) == "1,1,1");  // Kerberos: not supported

  // A positive response asked for: item 0x59, empty for type 2; none when not asked for.
  const auto asked = policy.decide(rq(2, "rad", "s3cret", true), 0);
  REQUIRE(asked.accept);
  CHECK(asked.user_identity_response == std::string());
  CHECK_FALSE(policy.decide(rq(2, "rad", "s3cret", false), 0).user_identity_response.has_value());

  auto none = rq(2, "rad", "s3cret");
  none.user_info.user_identity_rq.reset();
  CHECK(decide(policy, none) == "1,1,1");
}

TEST_CASE("policy: username and passcode against a clear-text account") {
  AssociationPolicy policy(settings());
  CHECK(decide(policy, rq(2, "old", "hunter2")) == "accepted");
  CHECK(decide(policy, rq(2, "old", "hunter")) == "1,1,1");
  CHECK(decide(policy, rq(2, "old", "hunter22")) == "1,1,1");
  CHECK(decide(policy, rq(2, "old", "Hunter2")) == "1,1,1");
  CHECK(decide(policy, rq(2, "old", "s3cret")) == "1,1,1");  // another account's password
}

TEST_CASE("policy: without require, no identity is needed and none is checked") {
  auto s = settings();
  s.require_user_identity = false;
  AssociationPolicy policy(std::move(s));
  CHECK(decide(policy, rq(1, "anyone")) == "accepted");
  CHECK_FALSE(policy.decide(rq(2, "rad", "s3cret", true), 0).user_identity_response.has_value());
}

TEST_CASE("policy: a passcode that verified once is recognised again without argon2") {
  std::atomic<int> calls = 0;
  AssociationPolicy policy(settings(), [&](std::string_view hash, std::string_view candidate) {
    ++calls;
    return verify_password(hash, candidate);
  });
  CHECK(decide(policy, rq(2, "rad", "wrong")) == "1,1,1");
  CHECK(calls == 1);
  CHECK(decide(policy, rq(2, "rad", "s3cret")) == "accepted");
  CHECK(calls == 2);
  CHECK(decide(policy, rq(2, "rad", "s3cret")) == "accepted");
  CHECK(decide(policy, rq(2, "rad", "s3cret")) == "accepted");
  CHECK(calls == 2);
  CHECK(decide(policy, rq(2, "rad", "wrong")) == "1,1,1");  // failures are never remembered
  CHECK(calls == 3);
  // Unknown names cost a verification too, so that timing does not reveal which exist.
  CHECK(decide(policy, rq(2, "nobody", "s3cret")) == "1,1,1");
  CHECK(calls == 4);
  CHECK(decide(policy, rq(2, "old", "hunter2")) == "accepted");  // clear text: no argon2
  CHECK(calls == 4);
}

TEST_CASE("policy: argon2 verifications are bounded; one beyond the bound is RJ transient (2, 3, 1)") {
  // The verifier blocks until released, standing for a verification that takes a while.
  std::promise<void> entered;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> calls = 0;
  auto s = settings();
  s.max_concurrent_verifications = 1;
  AssociationPolicy policy(std::move(s), [&](std::string_view hash, std::string_view candidate) {
    if (++calls == 1) {
      entered.set_value();
      released.wait();
    }
    return verify_password(hash, candidate);
  });

  std::string first;
  std::thread verifying([&] { first = outcome(policy.decide(rq(2, "rad", "s3cret"), 0)); });
  entered.get_future().wait();
  // The one slot is taken: another hashed passcode, right or wrong, or an unknown name
  // (which costs a decoy verification) is turned away at once, transiently.
  CHECK(decide(policy, rq(2, "rad", "s3cret")) == "2,3,1");
  CHECK(decide(policy, rq(2, "rad", "wrong")) == "2,3,1");
  CHECK(decide(policy, rq(2, "nobody", "x")) == "2,3,1");
  // What needs no argon2 still goes through.
  CHECK(decide(policy, rq(2, "old", "hunter2")) == "accepted");
  CHECK(decide(policy, rq(2, "old", "wrong")) == "1,1,1");
  CHECK(decide(policy, rq(1, "rad")) == "1,1,1");
  CHECK(calls == 1);
  release.set_value();
  verifying.join();
  CHECK(first == "accepted");

  // Free again.
  CHECK(decide(policy, rq(2, "rad", "wrong")) == "1,1,1");
  CHECK(calls == 2);
}

TEST_CASE("policy: a remembered passcode is accepted while the verification slots are full") {
  std::promise<void> entered;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> block = false;
  auto s = settings();
  s.max_concurrent_verifications = 1;
  AssociationPolicy policy(std::move(s), [&](std::string_view hash, std::string_view candidate) {
    if (block) {
      entered.set_value();
      released.wait();
    }
    return verify_password(hash, candidate);
  });
  CHECK(decide(policy, rq(2, "rad", "s3cret")) == "accepted");  // now remembered

  block = true;
  std::string attacker;
  std::thread verifying([&] { attacker = outcome(policy.decide(rq(2, "rad", "guess"), 0)); });
  entered.get_future().wait();
  CHECK(decide(policy, rq(2, "rad", "s3cret")) == "accepted");
  CHECK(decide(policy, rq(2, "rad", "guess2")) == "2,3,1");
  release.set_value();
  verifying.join();
  CHECK(attacker == "1,1,1");
}

TEST_CASE("policy: the called AE title may be ae_title or one of extra_ae_titles, nothing else") {
  PolicySettings s;
  s.ae_title = "PACSNODE";
  s.extra_ae_titles = {"ROUTER", "AI_LUNG"};
  s.contexts = scp::offered_services(false, false);
  AssociationPolicy policy(std::move(s));
  auto called = [](std::string ae) {
    net::AAssociateRq r;
    r.called_ae = std::move(ae);
    r.calling_ae = "MODALITY";
    r.contexts.push_back({1, std::string(net::uid::Verification), {std::string(net::uid::ImplicitVrLittleEndian)}});
    return r;
  };
  CHECK(decide(policy, called("PACSNODE")) == "accepted");
  CHECK(decide(policy, called("ROUTER")) == "accepted");
  CHECK(decide(policy, called("AI_LUNG")) == "accepted");
  CHECK(decide(policy, called("router")) == "1,1,7");  // AE titles are case-sensitive
  const auto refused = policy.decide(called("ELSEWHERE"), 0);
  CHECK(outcome(refused) == "1,1,7");
  CHECK(refused.reason == "called AE title 'ELSEWHERE' is not ours ('PACSNODE', 'ROUTER', 'AI_LUNG')");
}
