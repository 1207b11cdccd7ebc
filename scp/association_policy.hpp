#pragma once
// Which associations the node accepts: called AE title, known calling AEs, user identity,
// the association limit, and the presentation contexts of the services we offer.
#include <cstddef>
#include <string>
#include <vector>

#include "net/association.hpp"

namespace pacsnode::scp {

struct Credential {
  std::string username;
  std::string password;
};

struct PolicySettings {
  std::string ae_title;                    // called AE title we answer to
  std::vector<std::string> known_ae_titles;  // the configured peers
  bool reject_unknown_calling_ae = false;
  bool require_user_identity = false;
  std::vector<Credential> users;
  std::size_t max_associations = 64;
  net::AcceptorPolicy contexts;  // the services offered
};

// The presentation contexts of the services offered: Verification always; with `storage`,
// every Storage SOP Class DCMTK knows (or, with `any_sop_class`, any abstract syntax) in
// every standard transfer syntax, accepted as proposed; with `query`, the Patient Root and
// Study Root Query/Retrieve FIND, MOVE and GET models in Explicit and Implicit VR Little
// Endian, and the SCP role for the storage contexts (C-GET's sub-operations).
net::AcceptorPolicy offered_services(bool storage, bool any_sop_class, bool query = false);

// Decides on one A-ASSOCIATE-RQ. `active` counts associations open besides this one.
net::AcceptDecision decide_association(const net::AAssociateRq& rq, const PolicySettings& settings,
                                       std::size_t active);

}  // namespace pacsnode::scp
