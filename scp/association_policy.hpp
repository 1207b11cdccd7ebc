#pragma once
// Which associations the node accepts: called AE title, known calling AEs, user identity,
// the association limit, and the presentation contexts of the services we offer.
#include <cstddef>
#include <string>
#include <vector>

#include "net/association.hpp"
#include "scp/user_authenticator.hpp"

namespace pacsnode::scp {

struct PolicySettings {
  std::string ae_title;                    // called AE title we answer to
  std::vector<std::string> extra_ae_titles;  // further called AE titles accepted the same way
  std::vector<std::string> known_ae_titles;  // the configured peers
  bool reject_unknown_calling_ae = false;
  bool require_user_identity = false;
  std::vector<Credential> users;
  // Password hashes verified at once (see UserAuthenticator); app/ keeps it below the number
  // of I/O threads, which decide() runs on.
  unsigned max_concurrent_verifications = 1;
  std::size_t max_associations = 64;
  net::AcceptorPolicy contexts;  // the services offered
};

// The presentation contexts of the services offered: Verification always; with `storage`,
// every Storage SOP Class DCMTK knows (or, with `any_sop_class`, any abstract syntax) in
// every standard transfer syntax, accepted as proposed; with `query`, the Patient Root and
// Study Root Query/Retrieve FIND, MOVE and GET models in Explicit and Implicit VR Little
// Endian, and the SCP role for the storage contexts (C-GET's sub-operations).
net::AcceptorPolicy offered_services(bool storage, bool any_sop_class, bool query = false);

class AssociationPolicy {
 public:
  // `verify` replaces verify_password for tests (see UserAuthenticator).
  explicit AssociationPolicy(PolicySettings settings, UserAuthenticator::Verifier verify = {});

  // Decides on one A-ASSOCIATE-RQ; thread-safe. `active` counts associations open besides
  // this one. With require_user_identity, only a username and passcode of a configured
  // account are accepted; RJ (1, 1, 1) otherwise, and RJ transient (2, 3, 1) when the
  // passcode needs an argon2 verification and the limit of concurrent ones is reached.
  net::AcceptDecision decide(const net::AAssociateRq& rq, std::size_t active);

 private:
  PolicySettings settings_;
  UserAuthenticator users_;
};

}  // namespace pacsnode::scp
