#pragma once
// C-FIND SCU: what `pacsnode find` runs.
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "dicom/find_identifier.hpp"
#include "net/association.hpp"
#include "scu/remote.hpp"

namespace pacsnode::scu {

struct FindQuery {
  bool patient_root = false;                // Patient Root; otherwise Study Root
  std::string level;                        // PATIENT, STUDY, SERIES, IMAGE (added as QueryRetrieveLevel)
  std::vector<dicom::IdentifierKey> keys;   // matching and return keys, values UTF-8
};

struct FindOutcome {
  bool ok = false;           // the final response was Success
  std::string message;       // one line: what happened
  std::uint16_t status = 0;  // the final status (0 when none arrived)
  std::vector<std::map<std::uint32_t, std::string>> matches;  // one per pending response, UTF-8
  std::chrono::milliseconds elapsed{0};
};

// Associates with `remote` (the FIND model, ELE/ILE), sends one C-FIND-RQ whose identifier
// holds `query.keys` and the Query/Retrieve Level, collects the pending responses, releases.
asio::awaitable<FindOutcome> find(const RemoteNode& remote, FindQuery query, net::AssociationSettings settings);
FindOutcome find_blocking(const RemoteNode& remote, FindQuery query, const net::AssociationSettings& settings);

}  // namespace pacsnode::scu
