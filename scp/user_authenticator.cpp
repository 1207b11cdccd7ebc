#include "scp/user_authenticator.hpp"

#include <algorithm>

#include "base/password.hpp"

namespace pacsnode::scp {
namespace {

IdentityCheck accepted() { return {IdentityVerdict::Accepted, {}}; }
IdentityCheck refused(std::string why) { return {IdentityVerdict::Refused, std::move(why)}; }

}  // namespace

UserAuthenticator::UserAuthenticator(std::vector<Credential> users, unsigned max_concurrent, Verifier verify)
    : max_concurrent_(std::max(1u, max_concurrent)), verify_(std::move(verify)) {
  if (!verify_) verify_ = [](std::string_view hash, std::string_view candidate) { return verify_password(hash, candidate); };
  accounts_.reserve(users.size());
  for (auto& user : users) accounts_.push_back({std::move(user), {}});
  for (const auto& account : accounts_) {
    if (!account.credential.clear_text) {
      decoy_hash_ = &account.credential.secret;
      break;
    }
  }
}

UserAuthenticator::Verification UserAuthenticator::verify_bounded(std::string_view hash, std::string_view candidate) {
  if (in_flight_.fetch_add(1) >= max_concurrent_) {
    in_flight_.fetch_sub(1);
    return Verification::Busy;
  }
  struct Release {
    std::atomic<unsigned>& count;
    ~Release() { count.fetch_sub(1); }
  } release{in_flight_};
  return verify_(hash, candidate) ? Verification::Match : Verification::Mismatch;
}

IdentityCheck UserAuthenticator::check(const net::UserIdentityRq& identity) {
  const std::string who = "user identity '" + identity.primary + "'";
  const auto type = static_cast<net::UserIdentityType>(identity.type);
  if (type == net::UserIdentityType::Username) {
    return refused(who + ": username only (type 1) is refused, a passcode is required");
  }
  if (type != net::UserIdentityType::UsernamePasscode) {
    return refused("user identity type " + std::to_string(identity.type) + " is not supported");
  }

  const auto it = std::find_if(accounts_.begin(), accounts_.end(),
                               [&](const Account& a) { return a.credential.username == identity.primary; });
  if (it == accounts_.end()) {
    // An unknown name costs what a known one does, so that timing does not tell which
    // accounts exist; the outcome is ignored.
    if (decoy_hash_ != nullptr && verify_bounded(*decoy_hash_, identity.secondary) == Verification::Busy) {
      return {IdentityVerdict::Busy, who + ": another password verification is running"};
    }
    return refused(who + ": no such user");
  }
  Account& account = *it;
  if (account.credential.clear_text) {
    if (constant_time_equal(account.credential.secret, identity.secondary)) return accepted();
    return refused(who + ": wrong passcode");
  }

  const std::string digest = process_digest(identity.secondary);
  {
    const std::lock_guard lock(mutex_);
    if (!account.verified.empty() && constant_time_equal(account.verified, digest)) return accepted();
  }
  switch (verify_bounded(account.credential.secret, identity.secondary)) {
    case Verification::Busy:
      return {IdentityVerdict::Busy, who + ": another password verification is running"};
    case Verification::Mismatch:
      return refused(who + ": wrong passcode");
    case Verification::Match:
      break;
  }
  const std::lock_guard lock(mutex_);
  account.verified = digest;
  return accepted();
}

}  // namespace pacsnode::scp
